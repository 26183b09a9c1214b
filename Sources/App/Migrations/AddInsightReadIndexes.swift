import Fluent
import SQLKit

/// Indexes two insight reads were missing: the gradebook sums each hand-in's adjustments (a lookup by submission,
/// which scanned every adjustment of the platform), and the events export pages through a programme's ledger
/// entries in time order (which scanned the whole journal).
struct AddInsightReadIndexes: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let sql = database as! any SQLDatabase
        try await sql.create(index: "grade_adjustments_by_submission").on("grade_adjustments").column("submission_id").run()
        try await sql.create(index: "ledger_entries_by_programme").on("ledger_entries").column("programme_id").column("created_at").run()
    }

    func revert(on database: any Database) async throws {
        let sql = database as! any SQLDatabase
        try await sql.drop(index: "grade_adjustments_by_submission").run()
        try await sql.drop(index: "ledger_entries_by_programme").run()
    }
}
