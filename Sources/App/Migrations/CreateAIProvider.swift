import Fluent

struct CreateAIProvider: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ai_providers")
            .id()
            .field("name", .string, .required)
            .field("base_url", .string, .required)
            .field("secret_env", .string)
            .field("created_at", .datetime)
            .unique(on: "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ai_providers").delete()
    }
}
