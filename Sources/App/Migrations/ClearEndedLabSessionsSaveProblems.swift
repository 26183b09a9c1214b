import Fluent
import SQLKit

/// Ended lab sessions' `home_save_problem` now says how their last keep went. Sessions that ended before kept the
/// refusal of a save while they ran, which would read as if it were still to be put right: cleared.
struct ClearEndedLabSessionsSaveProblems: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.sqlDatabase().raw("UPDATE lab_sessions SET home_save_problem = NULL WHERE status <> 'running'").run()
    }

    /// Nothing to put back: what was cleared was out of date.
    func revert(on database: any Database) async throws {}
}
