import Fluent

struct CreateResearchJobFile: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("research_job_files")
            .id()
            .field("job_id", .uuid, .required, .references("research_jobs", "id", onDelete: .cascade))
            .field("role", .string, .required)
            .field("path", .string, .required)
            .field("size", .int, .required)
            .field("contents", .data, .required)
            .unique(on: "job_id", "role", "path")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("research_job_files").delete()
    }
}
