// Where the platform keeps its data: embedded SQLite (default) or a PostgreSQL server, chosen by DATABASE_URL.
import Foundation

public enum DatabaseURL: Sendable, Equatable {
    /// A SQLite file; relative paths are resolved against the working directory at start.
    case sqliteFile(path: String)
    /// A private in-memory SQLite database (tests, throwaway runs).
    case sqliteMemory
    /// A PostgreSQL server. `url` is the full URL as given (it may hold a password: never print it, use `redacted`).
    case postgres(url: String, host: String, port: Int, database: String)

    public static let defaultValue = "sqlite://campuscloud.sqlite"

    /// Parses `sqlite://PATH`, `sqlite:///ABSOLUTE/PATH`, `sqlite::memory:` and `postgres://USER:PASS@HOST:PORT/DB`.
    public static func parse(_ raw: String) throws(ConfigError) -> DatabaseURL {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text == "sqlite::memory:" || text == "sqlite://:memory:" { return .sqliteMemory }
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard !path.isEmpty else {
                throw .invalid("DATABASE_URL", "names no file; write it as sqlite://campuscloud.sqlite or sqlite:///var/lib/campuscloud/db.sqlite")
            }
            return .sqliteFile(path: path)
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
                throw .invalid("DATABASE_URL", "is not a valid PostgreSQL URL; write it as postgres://USER:PASSWORD@HOST:5432/DATABASE")
            }
            let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            guard !database.isEmpty else {
                throw .invalid("DATABASE_URL", "names no database on \(host); add it after the port, as in postgres://USER@\(host):5432/campuscloud")
            }
            return .postgres(url: text, host: host, port: components.port ?? 5432, database: database)
        }
        let scheme = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? text
        throw .invalid("DATABASE_URL", "has the unsupported scheme '\(scheme)'; use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE")
    }

    /// A description safe for logs and error messages: no user name, no password.
    public var redacted: String {
        switch self {
        case .sqliteFile(let path): "SQLite file \(path)"
        case .sqliteMemory: "in-memory SQLite"
        case .postgres(_, let host, let port, let database): "PostgreSQL database '\(database)' on \(host):\(port)"
        }
    }

    public var isPostgres: Bool {
        if case .postgres = self { true } else { false }
    }
}
