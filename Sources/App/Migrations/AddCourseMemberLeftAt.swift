import Fluent

/// When a member left the course at its LMS (the roster sync): kept, with their work and grades, but no longer let in.
struct AddCourseMemberLeftAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("course_members").field("left_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("course_members").deleteField("left_at").update()
    }
}
