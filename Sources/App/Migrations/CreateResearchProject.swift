import Fluent

struct CreateResearchProject: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("research_projects")
            .id()
            .field("programme_id", .uuid, .required, .references("programmes", "id", onDelete: .cascade))
            .field("title", .string, .required)
            .field("summary", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("research_projects").delete()
    }
}
