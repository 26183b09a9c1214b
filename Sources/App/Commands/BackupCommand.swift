import ArgumentParser
import Foundation
import Vapor

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the platform into a new folder while it serves: the database, the platform secret and the lab homes.",
        discussion: """
        SQLite is copied consistently with VACUUM INTO; PostgreSQL with pg_dump (custom format; Debian: postgresql-client, \
        as new as the server). Sandbox layers, job folders and autograder sources are rebuilt, so left out. The folder \
        holds the secret and everyone's data: it is made readable by its owner only; keep it so.
        """)

    @ArgumentParser.Argument(help: "A folder that does not exist yet (or is empty).") var path: String

    func run() async throws {
        let config = try PlatformRuntime.config()
        // Relative paths (the defaults are) are the working folder's: run from elsewhere, starting the platform would
        // make a new empty database and a new secret, and back those up.
        let data = URL(fileURLWithPath: config.dataDirectory).standardizedFileURL.path
        if case .sqliteFile(let file) = config.database, !FileManager.default.fileExists(atPath: URL(fileURLWithPath: file).standardizedFileURL.path) {
            throw Backups.Failure("There is no database at \(URL(fileURLWithPath: file).standardizedFileURL.path): run backup with the platform's DATABASE_URL, from the folder it runs in.")
        }
        if config.secret == nil, !FileManager.default.fileExists(atPath: data + "/" + Backups.secretName) {
            throw Backups.Failure("There is no platform secret at \(data)/\(Backups.secretName): run backup with the platform's CAMPUSCLOUD_DATA_DIR (or CAMPUSCLOUD_SECRET), from the folder it runs in.")
        }
        let manifest = try await PlatformRuntime.withApplication { app in try await Backups.backup(app, to: path) }
        say("Backed up the \(manifest.database) database (\(config.database.redacted), \(manifest.migrations.count) migrations), "
            + (manifest.secretFile ? "the secret file" : "no secret file (it comes from CAMPUSCLOUD_SECRET: keep that with the backup)")
            + " and \(manifest.labHomeFiles) lab home file(s) into \(URL(fileURLWithPath: path).standardizedFileURL.path).")
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into an empty platform (the database DATABASE_URL names, the data folder), all or nothing.",
        discussion: """
        The database must be empty (SQLite: its file does not exist yet; PostgreSQL: no tables) and nothing may be \
        running on it. A backup from an earlier release is then brought up to date by `campuscloud migrate`.
        """)

    @ArgumentParser.Argument(help: "The folder `campuscloud backup` wrote.") var path: String

    func run() async throws {
        let config = try PlatformRuntime.config()
        let manifest = try await Backups.restore(config, from: path, logger: Logger(label: "campuscloud.restore"))
        let check = try await PlatformRuntime.withApplication { app in try await Backups.migrations(on: app.db) }
        guard check == manifest.migrations else {
            throw Backups.Failure("The restored database has \(check.count) migrations where the backup had \(manifest.migrations.count).")
        }
        say("Restored the \(manifest.database) database of \(manifest.createdAt) (\(check.count) migrations) into \(config.database.redacted)"
            + (manifest.secretFile ? ", the secret file into \(URL(fileURLWithPath: config.dataDirectory).standardizedFileURL.path)" : "")
            + " and \(manifest.labHomeFiles) lab home file(s) into \(LabHost.homesFolder(config)).")
    }
}
