import Fluent

struct CreateAIKey: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ai_keys")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("course_id", .uuid, .references("courses", "id", onDelete: .cascade))
            .field("project_id", .uuid, .references("research_projects", "id", onDelete: .cascade))
            .field("name", .string, .required)
            .field("prefix", .string, .required)
            .field("secret_hash", .string, .required)
            .field("created_at", .datetime)
            .field("last_used_at", .datetime)
            .field("revoked_at", .datetime)
            .unique(on: "prefix")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ai_keys").delete()
    }
}
