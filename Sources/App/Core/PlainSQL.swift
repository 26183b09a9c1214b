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

extension SQLDatabase {
    /// A timestamp column as its UTC day number (days since 1970-01-01), for GROUP BY day: SQLite keeps dates as
    /// seconds since 1970, PostgreSQL as timestamps.
    func dayNumber(_ column: String) -> SQLQueryString {
        dialect.name == "postgresql"
            ? "CAST(floor(extract(epoch FROM \(unsafeRaw: column)) / 86400) AS BIGINT)"
            : "CAST(\(unsafeRaw: column) / 86400 AS INTEGER)"
    }
}
