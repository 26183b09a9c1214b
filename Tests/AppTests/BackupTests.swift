// A backup restored into an empty platform has every table's rows, the same ledger sums and the same lab home files
// (contents, modes, owners); a backup taken under ledger load is one moment of the ledger; a restore refuses a
// platform that is not empty and leaves it as it was.
import Fluent
import Foundation
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Testing
import Vapor
@testable import App

@Suite(.serialized) struct BackupTests {
    /// Every table's rows as text, sorted; the ledger's sums by account.
    struct Snapshot: Equatable {
        var tables: [String: [String]] = [:]
        var sums: [String] = []

        static func take(_ db: any Database) async throws -> Snapshot {
            let sql = try db.sqlDatabase(), postgres = sql.dialect.name == "postgresql"
            var snapshot = Snapshot()
            let names = try await sql.raw(postgres
                ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all().map { try $0.decode(column: "name", as: String.self) }
            for table in names {
                let rows: [String]
                if postgres {
                    rows = try await sql.raw("SELECT t::text AS row FROM \(ident: table) t").all().map { try $0.decode(column: "row", as: String.self) }
                } else {
                    let columns = try await sql.raw("SELECT name FROM pragma_table_info(\(bind: table))").all().map { try $0.decode(column: "name", as: String.self) }
                    let joined = columns.map { "quote(\"\($0)\")" }.joined(separator: " || '|' || ")
                    rows = try await sql.raw("SELECT \(unsafeRaw: joined) AS row FROM \(ident: table)").all().map { try $0.decode(column: "row", as: String.self) }
                }
                snapshot.tables[table] = rows.sorted()
            }
            snapshot.sums = try await sql.raw("""
                SELECT a.id, CAST(coalesce((SELECT sum(amount) FROM ledger_entries WHERE to_account_id = a.id), 0)
                  - coalesce((SELECT sum(amount) FROM ledger_entries WHERE from_account_id = a.id), 0) AS BIGINT) AS balance FROM ledger_accounts a
                """).all().map { "\(try $0.decode(column: "id", as: UUID.self)) \(try $0.decode(column: "balance", as: Int64.self))" }.sorted()
            return snapshot
        }
    }

    /// Each file under `folder`: its path, bytes, mode and owner.
    static func files(_ folder: String) -> [String: String] {
        var found: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return found }
        while let path = walker.nextObject() as? String {
            var info = stat()
            guard lstat(folder + "/" + path, &info) == 0 else { continue }
            let contents = (info.st_mode & S_IFMT) == S_IFREG ? (FileManager.default.contents(atPath: folder + "/" + path)?.base64EncodedString() ?? "?") : "dir"
            found[path] = "\(String(info.st_mode, radix: 8)) \(info.st_uid):\(info.st_gid) \(contents)"
        }
        return found
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cc-\(name)-\(UUID().uuidString)").path
    }

    @Test func aBackupRestoredIntoAnEmptyPlatformHasEveryRowSumAndFile() async throws {
        let work = Self.temporary("backup")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let backup = work + "/backup", sourceHomes = work + "/homes", targetHomes = work + "/restored-homes"
        let source: DatabaseURL? = TestDatabase.isPostgres ? nil : .sqliteFile(path: work + "/source.sqlite")
        var before = Snapshot(), manifest: Backups.Manifest?
        try await withTestApp(database: source, adjust: { $0.labHomes = sourceHomes }) { app in
            try await app.loadDemoData(credits: true)
            // A student's lab home: a folder, a private file owned by a sandbox user, and bytes that are not text.
            try FileManager.default.createDirectory(atPath: sourceHomes + "/s1/notebooks", withIntermediateDirectories: true)
            try Data("print('hello')\n".utf8).write(to: URL(fileURLWithPath: sourceHomes + "/s1/notebooks/a.py"))
            try Data([0, 1, 2, 255]).write(to: URL(fileURLWithPath: sourceHomes + "/s1/data.bin"))
            chmod(sourceHomes + "/s1/data.bin", 0o600)
            let owned = chown(sourceHomes + "/s1/data.bin", 61_234, 61_234)
            #expect(getuid() != 0 || owned == 0)  // as root (CI), the owner is a sandbox user's and must come back
            // The secret file of a platform whose secret is not in its environment.
            try FileManager.default.createDirectory(atPath: app.platformConfig.dataDirectory, withIntermediateDirectories: true)
            try Data("a-secret-of-forty-characters-for-backups\n".utf8).write(to: URL(fileURLWithPath: app.platformConfig.dataDirectory + "/secret"))
            before = try await Snapshot.take(app.db)
            manifest = try await Backups.backup(app, to: backup)
        }
        let written = try #require(manifest)
        #expect(written.database == (TestDatabase.isPostgres ? "postgresql" : "sqlite") && written.labHomeFiles == 2 && written.secretFile)
        #expect(before.tables.count > 40 && before.tables["ledger_entries"]?.isEmpty == false && before.tables["users"]?.count ?? 0 > 30)
        var info = stat()
        #expect(stat(backup, &info) == 0 && info.st_mode & 0o077 == 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: backup) {
            #expect(stat(backup + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(name) is its owner's only")
        }

        // Into an empty platform.
        let target = try await TestDatabase.make()
        let targetURL: DatabaseURL = TestDatabase.isPostgres ? target.url : .sqliteFile(path: work + "/restored.sqlite")
        let targetData = work + "/restored-data"
        var config = AppConfig(database: targetURL, dataDirectory: targetData, logLevel: .warning)
        config.labHomes = targetHomes
        do {
            let restored = try await Backups.restore(config, from: backup, logger: Logger(label: "test"))
            #expect(restored == written)
            try await withTestApp(migrate: false, database: targetURL, adjust: { $0.labHomes = targetHomes }) { app in
                let after = try await Snapshot.take(app.db)
                #expect(after.tables.keys.sorted() == before.tables.keys.sorted())
                for (table, rows) in before.tables { #expect(after.tables[table] == rows, "table \(table)") }
                #expect(after.sums == before.sums && !after.sums.isEmpty)
                #expect(try await Backups.migrations(on: app.db) == written.migrations)
                let pending = try await app.migrator.previewPrepareBatch().get()
                #expect(pending.isEmpty)
            }
            #expect(Self.files(targetHomes) == Self.files(sourceHomes) && Self.files(targetHomes).count == 4)
            #expect(FileManager.default.contents(atPath: targetData + "/secret") == Data("a-secret-of-forty-characters-for-backups\n".utf8))
            #expect(stat(targetData + "/secret", &info) == 0 && info.st_mode & 0o777 == 0o600)
            // A restore never goes over a platform that has data: refused, nothing changed.
            let again = await #expect(throws: Backups.Failure.self) { try await Backups.restore(config, from: backup, logger: Logger(label: "test")) }
            #expect(again?.description.contains("not empty") == true)
        } catch {
            try? await target.drop()
            throw error
        }
        try await target.drop()
    }

    /// A backup taken while 16 clients hold and settle credits is one moment of the ledger: restored, it is conserved,
    /// every account's held credits are its open holds', and it has some of the load's pairs but not all of them.
    @Test func aBackupTakenUnderLedgerLoadIsOneMomentOfTheLedger() async throws {
        let work = Self.temporary("live")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let backup = work + "/backup"
        let source: DatabaseURL? = TestDatabase.isPostgres ? nil : .sqliteFile(path: work + "/source.sqlite")
        var (settledAtStart, settledAtEnd) = (0, 0)
        try await withTestApp(database: source, adjust: { $0.labHomes = work + "/homes" }) { app in
            try await app.loadDemoData(credits: true)
            try FileManager.default.createDirectory(atPath: app.platformConfig.dataDirectory, withIntermediateDirectories: true)
            try Data("a-secret-of-forty-characters-for-backups\n".utf8).write(to: URL(fileURLWithPath: app.platformConfig.dataDirectory + "/secret"))
            let course = try await app.course("CS101")
            var accounts: [LedgerAccount] = []
            for index in 1...16 {
                let student = try #require(try await User.query(on: app.db).filter(\.$email == "student\(index)@demo.test").first())
                accounts.append(try await app.ledger.allowance(of: student, in: .course(course)))
            }
            settledAtStart = try await LedgerHold.query(on: app.db).filter(\.$status == .settled).count()
            let stop = NIOLockedValueBox(false), ledger = app.ledger
            let load = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (client, account) in accounts.enumerated() {
                        group.addTask {
                            var pair = 0
                            while !stop.withLockedValue({ $0 }) {
                                let hold = try await ledger.reserve(account, amount: Credits.parse("0.01")!, reason: "load", key: "live:\(client):\(pair)")
                                _ = try await ledger.settle(hold.requireID(), actual: Credits.parse("0.005")!)
                                pair += 1
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // Well under way, then the backup, with the load going on.
            for _ in 0..<500 {
                if try await LedgerHold.query(on: app.db).filter(\.$status == .settled).count() >= settledAtStart + 100 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            _ = try await Backups.backup(app, to: backup)
            try await Task.sleep(for: .milliseconds(200))
            stop.withLockedValue { $0 = true }
            try await load.value
            settledAtEnd = try await LedgerHold.query(on: app.db).filter(\.$status == .settled).count()
        }
        let target = try await TestDatabase.make()
        let targetURL: DatabaseURL = TestDatabase.isPostgres ? target.url : .sqliteFile(path: work + "/restored.sqlite")
        do {
            var config = AppConfig(database: targetURL, dataDirectory: work + "/restored-data", logLevel: .warning)
            config.labHomes = work + "/restored-homes"
            _ = try await Backups.restore(config, from: backup, logger: Logger(label: "test"))
            try await withTestApp(migrate: false, database: targetURL) { app in
                try await LedgerStoreTests.expectConserved(app)
                let settled = try await LedgerHold.query(on: app.db).filter(\.$status == .settled).count()
                #expect(settled >= settledAtStart + 100 && settled < settledAtEnd, "\(settledAtStart) → \(settled) → \(settledAtEnd)")
                // No half pair: each settled hold of the load has its settle entry, each entry its hold.
                let sql = try app.db.sqlDatabase()
                let orphans = try await sql.raw("""
                    SELECT count(*) AS n FROM ledger_holds h WHERE h.status = 'settled' AND h.idempotency_key LIKE 'live:%'
                      AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.hold_id = h.id AND e.kind = 'settle')
                    """).first()?.decode(column: "n", as: Int.self)
                #expect(orphans == 0)
            }
        } catch {
            try? await target.drop()
            throw error
        }
        try await target.drop()
    }

    /// pg_dump and pg_restore get the URL without its password, and TLS at least as strict as the platform's.
    @Test func postgresURLsAreReadAsLibpqReadsThem() throws {
        let (plain, environment) = try Backups.libpq("postgres://cc:p%40ss@db.example.edu:5432/campus")
        #expect(plain == "postgresql://cc@db.example.edu:5432/campus" && environment == ["PGPASSWORD": "p@ss"])
        for (given, expected) in [("tlsmode=require", "verify-full"), ("sslmode=verify-ca", "verify-full"), ("TLS=true", "prefer"),
                                  ("ssl=false", "disable"), ("sslmode=disable&tlsmode=require", "verify-full"), ("application_name=x", nil)] {
            let (url, _) = try Backups.libpq("postgres://cc@db:5432/campus?" + given)
            #expect(url == "postgresql://cc@db:5432/campus" + (expected.map { "?sslmode=" + $0 } ?? ""), "\(given)")
        }
        #expect(throws: Backups.Failure.self) { _ = try Backups.libpq("postgres://cc@db:5432/campus?sslmode=sometimes") }
    }

    @Test func aRestoreRefusesWhatIsNotABackupOrNotEmptyAndLeavesNothingBehind() async throws {
        let work = Self.temporary("restore")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        // Not a backup.
        let secret = String(repeating: "s", count: 40)
        let config = AppConfig(database: .sqliteFile(path: work + "/new.sqlite"), dataDirectory: work + "/data", logLevel: .warning, secret: secret)
        let notABackup = await #expect(throws: Backups.Failure.self) { try await Backups.restore(config, from: work, logger: Logger(label: "test")) }
        #expect(notABackup?.description.contains("manifest.json") == true)
        #expect(!FileManager.default.fileExists(atPath: work + "/new.sqlite"))
        // A backup of SQLite into a database file that already has data.
        let backup = work + "/backup", existing = work + "/existing.sqlite"
        try await withTestApp(database: .sqliteFile(path: work + "/source.sqlite"), adjust: { $0.labHomes = work + "/homes" }) { app in
            try await app.loadDemoData()
            try FileManager.default.createDirectory(atPath: work + "/homes/s1", withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: work + "/homes/s1/x.txt"))
            _ = try await Backups.backup(app, to: backup)
            // A second backup into the same folder is refused.
            await #expect(throws: Backups.Failure.self) { _ = try await Backups.backup(app, to: backup) }
        }
        try await withTestApp(database: .sqliteFile(path: existing)) { _ in }
        let size = try FileManager.default.attributesOfItem(atPath: existing)[.size] as? Int
        var over = AppConfig(database: .sqliteFile(path: existing), dataDirectory: work + "/data", logLevel: .warning, secret: secret)
        over.labHomes = work + "/restored-homes"
        let refused = await #expect(throws: Backups.Failure.self) { try await Backups.restore(over, from: backup, logger: Logger(label: "test")) }
        #expect(refused?.description.contains("move it away") == true)
        // Nothing changed and nothing staged is left: the database, the lab homes, the data folder.
        #expect(try FileManager.default.attributesOfItem(atPath: existing)[.size] as? Int == size)
        #expect(try FileManager.default.contentsOfDirectory(atPath: work).allSatisfy { !$0.contains(".restoring-") && $0 != "restored-homes" })
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: work + "/data")) ?? []).isEmpty)
        // A backup without a secret file (its platform's came from CAMPUSCLOUD_SECRET) needs that secret to restore.
        var noSecret = AppConfig(database: .sqliteFile(path: work + "/fresh.sqlite"), dataDirectory: work + "/data", logLevel: .warning)
        noSecret.labHomes = work + "/restored-homes"
        let secretless = await #expect(throws: Backups.Failure.self) { try await Backups.restore(noSecret, from: backup, logger: Logger(label: "test")) }
        #expect(secretless?.description.contains("CAMPUSCLOUD_SECRET") == true && !FileManager.default.fileExists(atPath: work + "/fresh.sqlite"))
        // An in-memory platform has nothing to back up.
        try await withTestApp(database: .sqliteMemory) { app in
            let memory = await #expect(throws: Backups.Failure.self) { _ = try await Backups.backup(app, to: work + "/memory") }
            #expect(memory?.description.contains("in memory") == true)
            // A failed backup leaves no folder behind, or an empty one as it found it.
            #expect(!FileManager.default.fileExists(atPath: work + "/memory"))
            try FileManager.default.createDirectory(atPath: work + "/empty", withIntermediateDirectories: false)
            _ = await #expect(throws: Backups.Failure.self) { _ = try await Backups.backup(app, to: work + "/empty") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/empty").isEmpty)
        }
    }
}
