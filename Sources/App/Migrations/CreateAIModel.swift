import Fluent

struct CreateAIModel: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ai_models")
            .id()
            .field("name", .string, .required)
            .field("kind", .string, .required)
            .field("provider_id", .uuid, .required, .references("ai_providers", "id"))
            .field("fallback_provider_id", .uuid, .references("ai_providers", "id"))
            .field("upstream_name", .string, .required)
            .field("created_at", .datetime)
            .unique(on: "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ai_models").delete()
    }
}
