import Fluent

struct CreateAIPolicy: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ai_policies")
            .id()
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("policy", .string, .required)
            .field("updated_by", .uuid, .references("users", "id"))
            .field("updated_at", .datetime)
            .unique(on: "course_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ai_policies").delete()
    }
}
