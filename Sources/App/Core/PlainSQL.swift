// The platform runs on SQLite or PostgreSQL, both SQL databases: hot paths and reports write their statements in
// plain SQL (SQLKit), through this one accessor.
import FluentKit
import SQLKit
import Vapor

extension Database {
    /// This database as SQLKit's; a 500 if it is not an SQL database (it always is, on SQLite and PostgreSQL).
    func sqlDatabase() throws -> any SQLDatabase {
        guard let sql = self as? any SQLDatabase else { throw Abort(.internalServerError, reason: "The platform needs an SQL database.") }
        return sql
    }
}
