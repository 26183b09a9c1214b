import Fluent
import SQLKit

struct CreateSubmission: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("submissions")
            .id()
            .field("assignment_id", .uuid, .required, .references("assignments", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("is_test_run", .bool, .required)
            .field("attempt", .int, .required)
            .field("status", .string, .required)
            .field("submitted_at", .datetime, .required)
            .field("graded_at", .datetime)
            .field("score", .double)
            .field("max_score", .double)
            .field("results", .string)
            .field("problem", .string)
            .field("log", .string)
            .field("cpu_ms", .int, .required)
            .field("wall_ms", .int, .required)
            .field("hold_id", .uuid)
            .field("charged", .int64, .required)
            .field("runs", .int, .required)
            .field("job_id", .uuid)
            .unique(on: "assignment_id", "user_id", "attempt")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.raw("CREATE INDEX submissions_by_assignment ON submissions (assignment_id, status)").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("submissions").delete()
    }
}
