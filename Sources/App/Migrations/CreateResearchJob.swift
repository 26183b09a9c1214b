import Fluent

struct CreateResearchJob: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("research_jobs")
            .id()
            .field("project_id", .uuid, .required, .references("research_projects", "id", onDelete: .cascade))
            .field("submitted_by", .uuid, .required, .references("users", "id"))
            .field("name", .string, .required)
            .field("command", .string, .required)
            .field("network", .bool, .required)
            .field("wall_seconds", .int, .required)
            .field("memory_mb", .int, .required)
            .field("pay_from", .string, .required)
            .field("status", .string, .required)
            .field("queue_job_id", .uuid)
            .field("hold_id", .uuid)
            .field("cancel_requested", .bool, .required)
            .field("sandbox_status", .string)
            .field("exit_code", .int)
            .field("log", .string)
            .field("problem", .string)
            .field("cpu_ms", .int, .required)
            .field("wall_ms", .int, .required)
            .field("charged", .int64, .required)
            .field("created_at", .datetime, .required)
            .field("started_at", .datetime)
            .field("finished_at", .datetime)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("research_jobs").delete()
    }
}
