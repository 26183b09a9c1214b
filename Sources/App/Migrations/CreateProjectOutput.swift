import Fluent

struct CreateProjectOutput: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("project_outputs")
            .id()
            .field("project_id", .uuid, .required, .references("research_projects", "id", onDelete: .cascade))
            .field("kind", .string, .required)
            .field("title", .string, .required)
            .field("venue", .string, .required)
            .field("year", .int)
            .field("doi", .string)
            .field("url", .string)
            .field("recorded_by", .uuid, .required, .references("users", "id"))
            .field("created_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("project_outputs").delete()
    }
}
