import Fluent

struct CreateCourseMember: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("course_members")
            .id()
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("role", .string, .required)
            .unique(on: "course_id", "user_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("course_members").delete()
    }
}
