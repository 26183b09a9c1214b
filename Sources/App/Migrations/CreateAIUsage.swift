import Fluent
import SQLKit

struct CreateAIUsage: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ai_usage")
            .id()
            .field("key_id", .uuid, .required, .references("ai_keys", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("course_id", .uuid, .references("courses", "id", onDelete: .cascade))
            .field("project_id", .uuid, .references("research_projects", "id", onDelete: .cascade))
            .field("model", .string, .required)
            .field("endpoint", .string, .required)
            .field("prompt_tokens", .int, .required)
            .field("completion_tokens", .int, .required)
            .field("credits", .int64, .required)
            .field("status", .int, .required)
            .field("outcome", .string, .required)
            .field("streamed", .bool, .required)
            .field("latency_ms", .int, .required)
            .field("upstream_ms", .int)
            .field("prompt", .string)
            .field("prompt_expires_at", .datetime)
            .field("created_at", .datetime, .required)
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "ai_usage_course_created").on("ai_usage").column("course_id").column("created_at").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ai_usage").delete()
    }
}
