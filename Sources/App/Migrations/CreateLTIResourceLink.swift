import Fluent

/// A link to this tool in an LMS course (a resource link), the assignment it opens and, when the LMS offers grade
/// passback, the line item its grades go to.
struct CreateLTIResourceLink: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_resource_links")
            .id()
            .field("context_id", .uuid, .required, .references("lti_contexts", "id", onDelete: .cascade))
            .field("resource_link_id", .string, .required)
            .field("assignment_id", .uuid, .references("assignments", "id", onDelete: .setNull))
            .field("line_item_url", .string)
            .field("title", .string)
            .field("created_at", .datetime)
            .unique(on: "context_id", "resource_link_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_resource_links").delete()
    }
}
