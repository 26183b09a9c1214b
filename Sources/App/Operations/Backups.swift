// A whole platform to one folder and back. A backup holds the database — SQLite: a consistent copy taken while the
// platform serves (`VACUUM INTO`, one read transaction); PostgreSQL: `pg_dump`'s custom format — and the files the
// database does not hold: the platform secret (sealed LTI keys and sessions need it) and the lab homes (people's own
// files). What is rebuilt is left out: sandbox layers and job folders, autograder sources, lab links. Every file of a
// backup is its owner's only and synced to disk before the manifest, written last. A restore goes only into an empty
// platform (a database without tables, no lab homes), all or nothing: the files are staged beside their places, the
// database restored whole (or not at all), then the staged files renamed into place; `campuscloud restore` then
// checks that the database has every migration the backup had.
import FluentKit
import Foundation
import PostgresKit
import SQLKit
import Vapor

enum Backups {
    /// What a backup holds, written last: a folder without it is not a backup (it stopped part way).
    struct Manifest: Codable, Equatable, Sendable {
        var format: Int
        var platformVersion: String
        var createdAt: Date
        /// "sqlite" or "postgresql": a backup is restored into the same kind of database.
        var database: String
        /// The migrations the database had, in order: the restored one must have the same.
        var migrations: [String]
        /// Whether the backup holds the secret file (a platform whose secret comes from CAMPUSCLOUD_SECRET may have
        /// none: keep that variable with the backup).
        var secretFile: Bool
        var labHomeFiles: Int
    }

    static let manifestName = "manifest.json", sqliteName = "database.sqlite", postgresName = "database.pgdump"
    static let secretName = "secret", labHomesName = "lab-homes.tar"
    static let format = 1

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Backing up

    /// Writes a backup of the running platform into `folder` (made, readable by its owner only; it must not exist,
    /// or be empty).
    static func backup(_ app: Application, to folder: String) async throws -> Manifest {
        let fm = FileManager.default
        let folder = URL(fileURLWithPath: folder).standardizedFileURL.path
        let existed = fm.fileExists(atPath: folder)
        if existed {
            guard (try? fm.contentsOfDirectory(atPath: folder))?.isEmpty == true else {
                throw Failure("\(folder) already exists and is not an empty folder; name a new one.")
            }
        } else {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        do {
            return try await write(app, into: folder)
        } catch {
            // A backup that failed leaves nothing half-written: the folder as it was (made, or empty).
            for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] { try? fm.removeItem(atPath: folder + "/" + name) }
            if !existed { try? fm.removeItem(atPath: folder) }
            throw error
        }
    }

    /// The backup's files into the empty `folder`, the manifest last.
    private static func write(_ app: Application, into folder: String) async throws -> Manifest {
        let config = app.platformConfig, fm = FileManager.default
        guard chmod(folder, 0o700) == 0 else { throw Failure("\(folder) cannot be made private (\(String(cString: strerror(errno)))).") }
        let sql = try app.db.sqlDatabase()
        let migrations = (try? await Self.migrations(on: app.db)) ?? []
        guard !migrations.isEmpty else { throw Failure("The database has no migrations: it is not a platform's database (is DATABASE_URL the platform's?).") }
        let kind: String
        switch config.database {
        case .sqliteMemory:
            throw Failure("The database is in memory: there is nothing on disk to back up.")
        case .sqliteFile:
            kind = "sqlite"
            try await sql.raw("VACUUM INTO \(bind: folder + "/" + sqliteName)").run()
        case .postgres(let url, _, _, _):
            kind = "postgresql"
            let (dbname, environment) = try libpq(url)
            try run("pg_dump", ["--format=custom", "--file=" + folder + "/" + postgresName, "--dbname=" + dbname], environment: environment)
        }
        let data = URL(fileURLWithPath: config.dataDirectory).standardizedFileURL.path
        let secretFile = fm.fileExists(atPath: data + "/" + secretName)
        if secretFile {
            try fm.copyItem(atPath: data + "/" + secretName, toPath: folder + "/" + secretName)
            chmod(folder + "/" + secretName, 0o600)
        }
        let homes = LabHost.homesFolder(config)
        var labHomeFiles = 0
        if fm.fileExists(atPath: homes) {
            labHomeFiles = files(under: homes)
            // Owners and modes kept (each session's files belong to its sandbox user); a file changing while read
            // (a lab still running) is taken as it was (tar's status 1).
            try run("tar", ["--create", "--file=" + folder + "/" + labHomesName, "--directory=" + homes, "--numeric-owner", "."], allowing: [1])
        }
        let manifest = Manifest(format: format, platformVersion: PlatformVersion.current, createdAt: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)), database: kind,
                                migrations: migrations, secretFile: secretFile, labHomeFiles: labHomeFiles)
        // Everything on disk, readable by its owner only, before the manifest says the backup is whole.
        for name in try fm.contentsOfDirectory(atPath: folder) {
            chmod(folder + "/" + name, 0o600)
            try sync(folder + "/" + name)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        guard fm.createFile(atPath: folder + "/" + manifestName, contents: try encoder.encode(manifest), attributes: [.posixPermissions: 0o600]) else {
            throw Failure("\(folder)/\(manifestName) cannot be written.")
        }
        try sync(folder + "/" + manifestName)
        try sync(folder)
        return manifest
    }

    // MARK: Restoring

    /// Restores the backup in `folder` into the configured platform, which must be empty: its database has no
    /// tables (SQLite: its file does not exist yet), its lab homes folder is empty. Not through a running platform:
    /// nothing may have the database open.
    static func restore(_ config: AppConfig, from folder: String, logger: Logger) async throws -> Manifest {
        let fm = FileManager.default
        let folder = URL(fileURLWithPath: folder).standardizedFileURL.path
        guard let read = fm.contents(atPath: folder + "/" + manifestName) else {
            throw Failure("\(folder) holds no \(manifestName): it is not a backup, or its backup did not finish.")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let manifest = try? decoder.decode(Manifest.self, from: read), manifest.format == format else {
            throw Failure("\(folder)/\(manifestName) is not a manifest this release reads (format \(format)).")
        }
        let homes = LabHost.homesFolder(config)
        if let inside = try? fm.contentsOfDirectory(atPath: homes), !inside.isEmpty {
            throw Failure("The lab homes folder \(homes) is not empty; a restore goes into an empty platform.")
        }
        if !manifest.secretFile && config.secret == nil {
            throw Failure("The backup holds no secret file (its platform's secret came from CAMPUSCLOUD_SECRET): set CAMPUSCLOUD_SECRET to that secret, then restore.")
        }
        // The files first, staged beside their places (a failure here changes nothing).
        let data = URL(fileURLWithPath: config.dataDirectory).standardizedFileURL.path
        let stamp = ".restoring-\(UUID().uuidString)"
        var staged: [String] = []
        func discardStaged() { for path in staged { try? fm.removeItem(atPath: path) } }
        do {
            if manifest.secretFile {
                try fm.createDirectory(atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
                staged.append(data + "/" + secretName + stamp)
                try fm.copyItem(atPath: folder + "/" + secretName, toPath: data + "/" + secretName + stamp)
                chmod(data + "/" + secretName + stamp, 0o600)
                try sync(data + "/" + secretName + stamp)
            }
            if fm.fileExists(atPath: folder + "/" + labHomesName) {
                try fm.createDirectory(atPath: (homes as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                staged.append(homes + stamp)
                try fm.createDirectory(atPath: homes + stamp, withIntermediateDirectories: false)
                try run("tar", ["--extract", "--file=" + folder + "/" + labHomesName, "--directory=" + homes + stamp, "--same-owner", "--same-permissions", "--numeric-owner"])
            }
            try await restoreDatabase(manifest, config: config, from: folder, logger: logger)
        } catch {
            discardStaged()
            throw error
        }
        // The database is in: the staged files take their places (an empty lab homes folder gives way).
        if manifest.secretFile {
            guard rename(data + "/" + secretName + stamp, data + "/" + secretName) == 0 else {
                throw Failure("The database was restored but the secret could not be put in place at \(data)/\(secretName); it is at \(data)/\(secretName)\(stamp).")
            }
        }
        if fm.fileExists(atPath: homes + stamp) {
            rmdir(homes)
            guard rename(homes + stamp, homes) == 0 else {
                throw Failure("The database was restored but the lab homes could not be put in place at \(homes); they are at \(homes)\(stamp).")
            }
        }
        return manifest
    }

    private static func restoreDatabase(_ manifest: Manifest, config: AppConfig, from folder: String, logger: Logger) async throws {
        let fm = FileManager.default
        switch config.database {
        case .sqliteMemory:
            throw Failure("DATABASE_URL names an in-memory database: a restore needs a file or a PostgreSQL database.")
        case .sqliteFile(let path):
            guard manifest.database == "sqlite" else { throw Failure("The backup is of a \(manifest.database) database; DATABASE_URL names SQLite.") }
            let target = URL(fileURLWithPath: path).standardizedFileURL.path
            // A file SQLite made but never wrote (0 bytes) is empty; anything else is a database already.
            let written = ((try? fm.attributesOfItem(atPath: target))?[.size] as? Int ?? 0) > 0
            for leftover in [target, target + "-wal", target + "-journal"] where leftover == target ? written : fm.fileExists(atPath: leftover) {
                throw Failure("\(leftover) already exists; a restore writes a new database: move it away first.")
            }
            // Copied beside it and synced, then renamed over: the database appears whole or not at all.
            let partial = target + ".restoring-\(UUID().uuidString)"
            do {
                try fm.copyItem(atPath: folder + "/" + sqliteName, toPath: partial)
                chmod(partial, 0o600)
                try sync(partial)
                guard rename(partial, target) == 0 else { throw Failure("\(target) could not be written (\(String(cString: strerror(errno)))).") }
                try sync((target as NSString).deletingLastPathComponent)
            } catch {
                try? fm.removeItem(atPath: partial)
                throw error
            }
            try? fm.removeItem(atPath: target + "-shm")
        case .postgres(let url, _, _, let name):
            guard manifest.database == "postgresql" else { throw Failure("The backup is of a \(manifest.database) database; DATABASE_URL names PostgreSQL.") }
            let tables = try await postgres(url, logger: logger) { connection in
                try await connection.query("SELECT count(*)::int8 FROM information_schema.tables WHERE table_schema = 'public'", logger: logger)
                    .collect().first?.decode(Int64.self) ?? 0
            }
            guard tables == 0 else { throw Failure("The database '\(name)' has \(tables) table(s); a restore goes into an empty database.") }
            let (dbname, environment) = try libpq(url)
            // One transaction: a restore that fails leaves the database as empty as it was.
            try run("pg_restore", ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname=" + dbname,
                                   folder + "/" + postgresName], environment: environment)
        }
    }

    /// The migrations a database has, in order (after a restore: the backup's).
    static func migrations(on db: any Database) async throws -> [String] {
        try await db.sqlDatabase().raw("SELECT name FROM _fluent_migrations ORDER BY batch, created_at, name").all()
            .map { try $0.decode(column: "name", as: String.self) }
    }

    // MARK: Helpers

    private static func files(under folder: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return 0 }
        var count = 0
        while let path = walker.nextObject() as? String {
            var info = stat()
            if lstat(folder + "/" + path, &info) == 0, info.st_mode & S_IFMT == S_IFREG { count += 1 }
        }
        return count
    }

    /// A PostgreSQL URL as libpq's tools read it, with its password in PGPASSWORD rather than on a command line any
    /// user can list. The TLS mode is PostgresKit's (`tlsmode`, or `sslmode`, `ssl`, `tls`; the last one given):
    /// `require` and the verify modes become libpq's `verify-full`, since PostgresKit checks the certificate and the
    /// host name (libpq's `require` checks neither: a root certificate in ~/.postgresql/root.crt or PGSSLROOTCERT is
    /// then needed); `prefer`, `allow` and `true` become `prefer`; `disable` and `false`, `disable`; none given,
    /// libpq's own default (or PGSSLMODE).
    static func libpq(_ url: String) throws -> (String, [String: String]) {
        guard var components = URLComponents(string: url) else { throw Failure("DATABASE_URL is not a URL.") }
        var environment: [String: String] = [:]
        if let password = components.password { environment["PGPASSWORD"] = password }
        components.password = nil
        let given = components.queryItems?.last { ["tlsmode", "sslmode", "ssl", "tls"].contains($0.name.lowercased()) }?.value
        let modes = ["verify-full": "verify-full", "verify-ca": "verify-full", "require": "verify-full", "prefer": "prefer", "allow": "prefer",
                     "true": "prefer", "disable": "disable", "false": "disable"]
        if let given, modes[given] == nil { throw Failure("DATABASE_URL's TLS mode '\(given)' is not one PostgreSQL knows.") }
        components.queryItems = given.flatMap { modes[$0] }.map { [URLQueryItem(name: "sslmode", value: $0)] }
        components.scheme = "postgresql"
        return (components.string ?? url, environment)
    }

    /// Flushes a file or a folder (its entries) to disk.
    private static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure("\(path) cannot be opened to sync (\(String(cString: strerror(errno)))).") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure("\(path) could not be synced to disk (\(String(cString: strerror(errno)))).") }
    }

    private static func postgres<T: Sendable>(_ url: String, logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let configuration = try SQLPostgresConfiguration(url: url)
        let connection = try await PostgresConnection.connect(configuration: configuration.coreConfiguration, id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Runs a tool found on PATH, waiting for it; its error output in the failure when it exits otherwise than 0
    /// (or a status in `allowing`).
    private static func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:], allowing: Set<Int32> = []) throws {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { throw Failure("\(tool) is not installed (Debian: \(tool.hasPrefix("pg_") ? "postgresql-client" : tool)); it is needed here.") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 || allowing.contains(process.terminationStatus) else {
            throw Failure("\(tool) failed (status \(process.terminationStatus)): \(String(decoding: said, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
