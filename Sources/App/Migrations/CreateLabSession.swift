import Fluent
import SQLKit

struct CreateLabSession: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_sessions")
            .id()
            .field("lab_id", .uuid, .required, .references("lab_environments", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("status", .string, .required)
            .field("host", .string, .required)
            .field("hold_id", .uuid)
            .field("held_from", .datetime, .required)
            .field("held_seconds", .int, .required)
            .field("holds", .int, .required)
            .field("charged", .int64, .required)
            .field("started_at", .datetime, .required)
            .field("ends_at", .datetime, .required)
            .field("seen_at", .datetime, .required)
            .field("stopped_at", .datetime)
            .field("stop_reason", .string)
            .create()
        // One running session per person per lab, however many requests race to start one.
        try await (database as! any SQLDatabase).raw("""
            CREATE UNIQUE INDEX lab_sessions_one_running ON lab_sessions (lab_id, user_id) WHERE status = 'running'
            """).run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_sessions").delete()
    }
}
