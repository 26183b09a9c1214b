import Fluent
import SQLKit

struct CreateQueuedJob: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("jobs")
            .id()
            .field("kind", .string, .required)
            .field("payload", .string, .required)
            .field("status", .string, .required)
            .field("attempts", .int, .required)
            .field("max_attempts", .int, .required)
            .field("run_after", .datetime, .required)
            .field("lease_owner", .string)
            .field("lease_expires_at", .datetime)
            .field("result", .string)
            .field("error", .string)
            .field("created_at", .datetime, .required)
            .field("started_at", .datetime)
            .field("finished_at", .datetime)
            .create()
        // Workers look for the oldest claimable job of their kinds.
        if let sql = database as? any SQLDatabase {
            try await sql.raw("CREATE INDEX jobs_claimable ON jobs (status, kind, run_after)").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("jobs").delete()
    }
}
