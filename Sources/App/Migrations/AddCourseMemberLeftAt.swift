import Fluent

/// Which LMS course admitted a member (its launches and roster; none when the course's staff did), and when they
/// left it (the roster sync): kept, with their work and grades, but no longer let in.
struct AddCourseMemberLeftAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement (SQLite adds one at a time).
        try await database.schema("course_members").field("left_at", .datetime).update()
        try await database.schema("course_members").field("lti_context_id", .uuid, .references("lti_contexts", "id", onDelete: .setNull)).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("course_members").deleteField("lti_context_id").update()
        try await database.schema("course_members").deleteField("left_at").update()
    }
}
