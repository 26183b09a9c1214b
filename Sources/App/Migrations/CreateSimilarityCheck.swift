import Fluent
import SQLKit

/// `similarity_checks`: a code similarity check of an assignment's hand-ins (`SimilarityChecks`), from queued to done
/// or failed, with what it found (counts, histogram, clusters, the hashes it left out). Listed per assignment, newest
/// first; at most one of an assignment's checks waits or runs at a time (`similarity_checks_one_live`).
struct CreateSimilarityCheck: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("similarity_checks")
            .id()
            .field("assignment_id", .uuid, .required, .references("assignments", "id", onDelete: .cascade))
            .field("requested_by", .uuid, .required, .references("users", "id"))
            .field("status", .string, .required)
            .field("earlier_assignments", .string, .required)
            .field("queue_job_id", .uuid)
            .field("problem", .string)
            .field("hand_ins", .int, .required)
            .field("earlier_hand_ins", .int, .required)
            .field("truncated", .int, .required)
            .field("starter_files", .int, .required)
            .field("starter_fingerprints", .int, .required)
            .field("common_fingerprints", .int, .required)
            .field("pairs_found", .int, .required)
            .field("histogram", .string, .required)
            .field("clusters", .string, .required)
            .field("left_out", .data)
            .field("created_at", .datetime, .required)
            .field("started_at", .datetime)
            .field("finished_at", .datetime)
            .create()
        let sql = database as! any SQLDatabase
        try await sql.create(index: "similarity_checks_by_assignment").on("similarity_checks").column("assignment_id").column("created_at").run()
        try await sql.raw("CREATE UNIQUE INDEX similarity_checks_one_live ON similarity_checks (assignment_id) WHERE status IN ('queued', 'running')").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("similarity_checks").delete()
    }
}
