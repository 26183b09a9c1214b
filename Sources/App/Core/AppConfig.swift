// The platform's configuration: read from the environment once at start, into one typed value.
// A bad value stops start-up with one sentence naming the variable; nothing else in the code reads the environment.
import Foundation
import Logging

public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public let variable: String
    public let problem: String
    public static func invalid(_ variable: String, _ problem: String) -> ConfigError {
        ConfigError(variable: variable, problem: problem)
    }
    public var description: String { "\(variable) \(problem)." }
}

public struct AppConfig: Sendable, CustomStringConvertible {
    public var database: DatabaseURL
    /// Folder for the platform's own files (the generated secret, uploads, sandbox jobs).
    public var dataDirectory: String
    public var logLevel: Logger.Level
    /// The secret as given in CAMPUSCLOUD_SECRET, or nil: then `SecretStore` generates and keeps one in the data folder.
    public var secret: String?
    /// The address people use (behind a proxy, the proxy's). When it is https, session cookies are Secure.
    public var publicURL: URL?
    /// PostgreSQL connections this process may open (CAMPUSCLOUD_DB_CONNECTIONS, default 16), shared among its event loops.
    public var databaseConnections: Int
    /// Grading workers inside `serve` (CAMPUSCLOUD_GRADING_WORKERS, default 2; 0 leaves grading to `campuscloud worker`).
    public var gradingWorkers: Int = 2
    /// Idle sandbox lanes kept per job shape (CAMPUSCLOUD_SANDBOX_LANES, default 4; 0 gives every job a sandbox of its own).
    public var sandboxLanes: Int = 4
    /// Seconds the AI gateway waits for a streaming client to take more (CAMPUSCLOUD_AI_WRITE_TIMEOUT, default 60): a
    /// client that stops reading is cut then, and charged what was generated.
    public var aiWriteTimeout: Int = 60
    /// Seconds of clock difference allowed when checking a sign-in token's expiry and issue time (single sign-on and
    /// LTI launches; CAMPUSCLOUD_TOKEN_LEEWAY, default 60, 0 to 600).
    public var tokenLeeway: Int = 60
    /// CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX=1: run untrusted code even as a non-root user without delegated cgroups or a
    /// size-capped jobs folder. Unsafe: for a development machine, never for production.
    public var unsafeWeakSandbox = false
    /// Host uids this process's sandboxes run as (CAMPUSCLOUD_SANDBOX_UIDS, default 60000-60999): processes that run
    /// sandboxes on one machine (`serve` and a `worker` beside it) each need a range of their own.
    public var sandboxUIDs: ClosedRange<UInt32> = 60_000...60_999
    /// JupyterLab's own origin (CAMPUSCLOUD_LABS_URL, e.g. https://labs.campus.example.edu; needs
    /// CAMPUSCLOUD_PUBLIC_URL): a notebook's page then cannot act on the platform's. Not set: the platform's origin.
    public var labsURL: URL?
    /// Lab sessions `serve` runs itself (CAMPUSCLOUD_LAB_SESSIONS, default 100; 0 leaves every session to lab hosts
    /// started with `campuscloud worker --labs N`).
    public var labSessions = 100
    /// Where people's lab homes are kept (CAMPUSCLOUD_LAB_HOMES, default the data folder's lab-homes). With lab hosts
    /// on several machines, the same shared folder (e.g. an NFS mount) on each.
    public var labHomes: String?

    public init(database: DatabaseURL, dataDirectory: String, logLevel: Logger.Level = .info, secret: String? = nil, publicURL: URL? = nil,
                databaseConnections: Int = 16) {
        self.databaseConnections = databaseConnections
        self.database = database
        self.dataDirectory = dataDirectory
        self.logLevel = logLevel
        self.secret = secret
        self.publicURL = publicURL
    }

    var servesHTTPS: Bool { publicURL?.scheme == "https" }

    /// Whether browsers keep cookies marked for cross-site frames (SameSite=None; Secure; Partitioned) from this site:
    /// over https, and on a loopback name, which browsers treat as secure (a developer's or a test's LMS frame).
    var keepsCrossSiteCookies: Bool {
        guard !servesHTTPS else { return true }
        guard publicURL?.scheme == "http", let host = publicURL?.host?.lowercased() else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }

    /// A path on this site as the address people use (the path alone when CAMPUSCLOUD_PUBLIC_URL is not set).
    @Sendable func absolute(_ path: String) -> String {
        guard let publicURL else { return path }
        var base = publicURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }

    public static let minimumSecretLength = 32

    /// Parses the variables that matter; unknown variables are ignored. Paths stay as given (relative to the working directory).
    public static func parse(environment env: [String: String]) throws(ConfigError) -> AppConfig {
        let database = try DatabaseURL.parse(nonEmpty(env["DATABASE_URL"]) ?? DatabaseURL.defaultValue)
        let dataDirectory = nonEmpty(env["CAMPUSCLOUD_DATA_DIR"]) ?? "campuscloud-data"

        var logLevel = Logger.Level.info
        if let raw = nonEmpty(env["LOG_LEVEL"]) {
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw .invalid("LOG_LEVEL", "is '\(raw)', which is not a log level; use one of \(names)")
            }
            logLevel = level
        }

        let secret = nonEmpty(env["CAMPUSCLOUD_SECRET"])
        if let secret, secret.utf8.count < minimumSecretLength {
            throw .invalid("CAMPUSCLOUD_SECRET", "is too short (\(secret.utf8.count) bytes); use at least \(minimumSecretLength) random characters, or unset it to have one generated")
        }
        var publicURL: URL?
        if let raw = nonEmpty(env["CAMPUSCLOUD_PUBLIC_URL"]) {
            guard let url = URL(string: raw), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw .invalid("CAMPUSCLOUD_PUBLIC_URL", "is '\(raw)', which is not an http(s) address; write it as https://campuscloud.example.edu")
            }
            publicURL = url
        }
        var connections = 16
        if let raw = nonEmpty(env["CAMPUSCLOUD_DB_CONNECTIONS"]) {
            guard let value = Int(raw), (1...1000).contains(value) else {
                throw .invalid("CAMPUSCLOUD_DB_CONNECTIONS", "is '\(raw)'; give a whole number of connections from 1 to 1000")
            }
            connections = value
        }
        var config = AppConfig(database: database, dataDirectory: dataDirectory, logLevel: logLevel, secret: secret, publicURL: publicURL,
                               databaseConnections: connections)
        if let raw = nonEmpty(env["CAMPUSCLOUD_GRADING_WORKERS"]) {
            guard let value = Int(raw), (0...256).contains(value) else {
                throw .invalid("CAMPUSCLOUD_GRADING_WORKERS", "is '\(raw)'; give a whole number of workers from 0 to 256")
            }
            config.gradingWorkers = value
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_SANDBOX_LANES"]) {
            guard let value = Int(raw), (0...64).contains(value) else {
                throw .invalid("CAMPUSCLOUD_SANDBOX_LANES", "is '\(raw)'; give a whole number of lanes from 0 (a sandbox per job) to 64")
            }
            config.sandboxLanes = value
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX"]) {
            guard ["0", "1", "true", "false"].contains(raw) else {
                throw .invalid("CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX", "is '\(raw)'; give 1 (unsafe: development only) or 0")
            }
            config.unsafeWeakSandbox = raw == "1" || raw == "true"
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_SANDBOX_UIDS"]) {
            let ends = raw.split(separator: "-").map { UInt32($0.trimmingCharacters(in: .whitespaces)) }
            guard ends.count == 2, let low = ends[0], let high = ends[1], low >= 1_000, high > low, high - low >= 15 else {
                throw .invalid("CAMPUSCLOUD_SANDBOX_UIDS", "is '\(raw)'; give a range of unused host uids such as 61000-61999 (from 1000, at least 16)")
            }
            config.sandboxUIDs = low...high
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_LAB_SESSIONS"]) {
            guard let value = Int(raw), (0...1000).contains(value) else {
                throw .invalid("CAMPUSCLOUD_LAB_SESSIONS", "is '\(raw)'; give a whole number of sessions from 0 (all on lab hosts) to 1000")
            }
            config.labSessions = value
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_LABS_URL"]) {
            guard let url = URL(string: raw), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false, url.path.isEmpty || url.path == "/" else {
                throw .invalid("CAMPUSCLOUD_LABS_URL", "is '\(raw)', which is not an http(s) address of its own; write it as https://labs.campuscloud.example.edu")
            }
            guard let publicURL = config.publicURL else {
                throw .invalid("CAMPUSCLOUD_LABS_URL", "needs CAMPUSCLOUD_PUBLIC_URL too (the labs origin lets only the platform's pages frame it)")
            }
            // Cookies ignore ports: the same host on another port would share the platform's.
            guard let host = url.host?.lowercased(), let platformHost = publicURL.host?.lowercased(), host != platformHost, !platformHost.hasSuffix("." + host) else {
                throw .invalid("CAMPUSCLOUD_LABS_URL", "is the platform's own host (or above it); give labs a host name of their own, e.g. labs.\(publicURL.host ?? "campus.example.edu")")
            }
            guard url.scheme == "https" || publicURL.scheme != "https" else {
                throw .invalid("CAMPUSCLOUD_LABS_URL", "is http while the platform is https; give an https address")
            }
            config.labsURL = url
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_LAB_HOMES"]) {
            guard raw.hasPrefix("/") else { throw .invalid("CAMPUSCLOUD_LAB_HOMES", "is '\(raw)'; give an absolute path") }
            config.labHomes = raw
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_AI_WRITE_TIMEOUT"]) {
            guard let value = Int(raw), (1...3600).contains(value) else {
                throw .invalid("CAMPUSCLOUD_AI_WRITE_TIMEOUT", "is '\(raw)'; give whole seconds from 1 to 3600")
            }
            config.aiWriteTimeout = value
        }
        if let raw = nonEmpty(env["CAMPUSCLOUD_TOKEN_LEEWAY"]) {
            guard let value = Int(raw), (0...600).contains(value) else {
                throw .invalid("CAMPUSCLOUD_TOKEN_LEEWAY", "is '\(raw)'; give whole seconds from 0 to 600")
            }
            config.tokenLeeway = value
        }
        return config
    }

    /// Never shows the secret or a database password.
    public var description: String {
        "database: \(database.redacted), data directory: \(dataDirectory), log level: \(logLevel), secret: \(secret == nil ? "generated" : "from environment"), public URL: \(publicURL?.absoluteString ?? "not set"), grading workers: \(gradingWorkers), sandbox lanes: \(sandboxLanes), sandbox uids: \(sandboxUIDs), lab sessions here: \(labSessions)"
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return value
    }
}
