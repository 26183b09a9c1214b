// The database of a deployment of the last release (a fixture made by scripts/make-upgrade-fixture from its commit)
// migrates to the current schema with its data intact: every row of every table it had, in the columns it had; the
// ledger conserved; its people still sign in; the gradebook page (kept rows, new in this release) equals the
// gradebook computed from the old release's hand-ins.
import Fluent
import Foundation
import SQLKit
import Testing
import Vapor
@testable import App

@Suite struct UpgradeTests {
    /// The fixture made from the last landed release (see scripts/make-upgrade-fixture).
    static let release = "release-2026-12-04"

    static var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/upgrade-from-\(release).sqlite").path
    }

    /// Each table's rows in the given columns, as text, sorted.
    static func rows(_ db: any Database, columns: [String: [String]]) async throws -> [String: [String]] {
        let sql = try db.sqlDatabase()
        var found: [String: [String]] = [:]
        for (table, names) in columns {
            let joined = names.map { "quote(\"\($0)\")" }.joined(separator: " || '|' || ")
            found[table] = try await sql.raw("SELECT \(unsafeRaw: joined) AS row FROM \(ident: table)").all()
                .map { try $0.decode(column: "row", as: String.self) }.sorted()
        }
        return found
    }

    static func columns(_ db: any Database) async throws -> [String: [String]] {
        let sql = try db.sqlDatabase()
        var columns: [String: [String]] = [:]
        for table in try await sql.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all()
            .map({ try $0.decode(column: "name", as: String.self) }) {
            columns[table] = try await sql.raw("SELECT name FROM pragma_table_info(\(bind: table))").all().map { try $0.decode(column: "name", as: String.self) }
        }
        return columns
    }

    @Test func theLastReleasesDatabaseMigratesWithItsDataIntact() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cc-upgrade-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: work + "/old.sqlite")
        try await withTestApp(migrate: false, database: .sqliteFile(path: work + "/old.sqlite")) { app in
            let oldColumns = try await Self.columns(app.db)
            let before = try await Self.rows(app.db, columns: oldColumns)
            let pending = try await app.migrator.previewPrepareBatch().get().map { $0.0.name }
            #expect(!pending.isEmpty, "the fixture is older than this release")
            #expect(before["users"]?.count ?? 0 > 30 && before["ledger_entries"]?.isEmpty == false && before["submissions"]?.isEmpty == false)

            try await app.autoMigrate()

            #expect(try await app.migrator.previewPrepareBatch().get().isEmpty)
            let applied = try await Backups.migrations(on: app.db)
            #expect(applied.count == Migrations.all.count && Set(pending).isSubset(of: Set(applied)))
            let after = try await Self.rows(app.db, columns: oldColumns.filter { $0.key != "_fluent_migrations" })
            for (table, rows) in after { #expect(rows == before[table], "table \(table)") }
            try await LedgerStoreTests.expectConserved(app)
            // Its people sign in with their passwords, and the gradebook page (new kept rows) shows what the
            // gradebook computes from the hand-ins the old release recorded.
            #expect(try await app.bearer("instructor@demo.test")["Authorization"].first?.hasPrefix("Bearer ") == true)
            let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first())
            let book = try await GradebookData.load(course, on: app.db)
            let page = try await GradebookRows.page(course, number: 1, per: 500, writes: app.writes)
            #expect(page.students.map(\.id) == book.rows.map(\.userID) && page.scores == book.rows.map(\.scores))
            #expect(book.rows.count >= 30 && book.columns.count >= 2)
        }
    }
}
