import Fluent

struct CreateLabEnvironment: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_environments")
            .id()
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("name", .string, .required)
            .field("kind", .string, .required)
            .field("setup_script", .string, .required)
            .field("setup_version", .int, .required)
            .field("setup_status", .string, .required)
            .field("setup_log", .string)
            .field("cpu_millis", .int, .required)
            .field("memory_mb", .int, .required)
            .field("processes", .int, .required)
            .field("home_quota_mb", .int, .required)
            .field("idle_minutes", .int, .required)
            .field("longest_minutes", .int, .required)
            .field("network", .bool, .required)
            .field("open_to", .string, .required)
            .field("schedule", .string, .required)
            .field("start_file_names", .string, .required)
            .field("created_by", .uuid, .required, .references("users", "id"))
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "course_id", "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_environments").delete()
    }
}
