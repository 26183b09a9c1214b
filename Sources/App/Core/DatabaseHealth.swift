// Asks the database for a trivial answer; used by start-up checks and GET /healthz.
import Fluent
import SQLKit
import PostgresNIO
import SQLiteNIO

enum DatabaseHealth {
    static func ping(_ db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        try await sql.raw("SELECT 1").run()
    }

    /// A short reason a person can act on, without connection strings or passwords.
    static func reason(for error: any Error) -> String {
        if let psql = error as? PSQLError {
            switch psql.code {
            case .connectionError: return "the connection was refused or failed (is the server running, and is the port right?)"
            case .server: return "the server refused: \(psql.serverInfo?[.message] ?? "unknown reason")"
            default: return "the connection failed (\(psql.code))"
            }
        }
        if let sqlite = error as? SQLiteError {
            return "SQLite could not open it (\(sqlite.message)); check that the folder exists and is writable"
        }
        let text = String(describing: error)
        if text.contains("timeout") || text.contains("Timeout") { return "it did not answer in time" }
        return "it did not answer (\(type(of: error)))"
    }
}
