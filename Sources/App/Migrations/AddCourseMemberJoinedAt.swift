import Fluent

/// When each member joined the course (set as the membership is made; unknown, NULL, for those who joined before
/// this was kept): a student who joins late is quiet since they joined, not since the course began.
struct AddCourseMemberJoinedAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("course_members").field("joined_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("course_members").deleteField("joined_at").update()
    }
}
