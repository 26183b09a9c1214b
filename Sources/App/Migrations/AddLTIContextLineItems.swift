import Fluent

/// An LMS course's line item container (Assignment and Grade Services) and the scope it grants on it
/// (`lineitem` or `lineitem.readonly`), from the latest launch that named one: how the tool finds, or makes, the grade
/// column of an assignment whose link's launch carried no line item (or which was never launched).
struct AddLTIContextLineItems: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement (SQLite adds one at a time).
        try await database.schema("lti_contexts").field("line_items_url", .string).update()
        try await database.schema("lti_contexts").field("line_items_scope", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_contexts").deleteField("line_items_scope").update()
        try await database.schema("lti_contexts").deleteField("line_items_url").update()
    }
}
