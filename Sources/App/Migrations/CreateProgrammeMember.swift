import Fluent

struct CreateProgrammeMember: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("programme_members")
            .id()
            .field("programme_id", .uuid, .required, .references("programmes", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("role", .string, .required)
            .unique(on: "programme_id", "user_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("programme_members").delete()
    }
}
