// What can stop the platform from starting; each case reads as one sentence for the person running it.
public enum StartupError: Error, CustomStringConvertible {
    case config(ConfigError)
    case databaseUnreachable(String, reason: String)
    case pendingMigrations([String])
    case dataDirectory(String, reason: String)
    case notDemoDatabase(users: Int)
    case resourcesMissing(String)
    /// A sentence for the person at the command line (the sandbox, admin commands).
    case message(String)

    public var description: String {
        switch self {
        case .config(let error):
            "Configuration error: \(error)"
        case .databaseUnreachable(let database, let reason):
            "Cannot reach the \(database): \(reason)."
        case .pendingMigrations(let names):
            "The database needs \(names.count) migration(s) (\(names.joined(separator: ", "))); run `campuscloud migrate` first, or start with `serve --auto-migrate`."
        case .dataDirectory(let path, let reason):
            "The data folder \(path) is not usable: \(reason); set CAMPUSCLOUD_DATA_DIR to a writable folder."
        case .notDemoDatabase(let users):
            "This database already holds data that is not demo data (\(users) user(s)); the demo refuses to touch it. Point DATABASE_URL at a new file, e.g. DATABASE_URL=sqlite://demo.sqlite."
        case .message(let text):
            text
        case .resourcesMissing(let path):
            "The page templates are missing (looked in \(path)); install the campuscloud_App.resources folder next to the binary."
        }
    }
}
