// The ledger's process killed outright (SIGKILL) under 64 clients' reserve-and-settle load, then the platform started
// again: every credit is still accounted for, the holds the dead process left open are voided by the restarted
// platform once their time is up, and no account went below zero (no overshoot).
import Fluent
import Foundation
import Sandbox
import SQLKit
import Testing
import Vapor
@testable import App

@Suite(.serialized) struct LedgerCrashTests {
    /// Starts the binary without waiting for it.
    static func start(_ arguments: [String], environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try Sandbox.startingProcess { try process.run() }
        return process
    }

    /// Polls `condition` every 200 ms for up to `seconds`.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }

    @Test func aLedgerKilledUnderLoadKeepsEveryCreditAndTheRestartedPlatformEndsItsHolds() async throws {
        let folder = try CLITests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let postgres = TestDatabase.isPostgres ? try await TestDatabase.make() : nil
        let url: DatabaseURL = postgres?.url ?? .sqliteFile(path: folder.path + "/ledger.sqlite")
        let raw = if case .postgres(let text, _, _, _) = url { text } else { "sqlite://" + folder.path + "/ledger.sqlite" }
        let environment = ["DATABASE_URL": raw, "CAMPUSCLOUD_DATA_DIR": folder.path + "/data", "LOG_LEVEL": "error",
                           "CAMPUSCLOUD_GRADING_WORKERS": "0"]
        do {
            let load = try Self.start(["ledger", "bench", "--clients", "64", "--seconds", "900", "--hold-seconds", "3"], environment: environment)
            defer { if load.isRunning { kill(load.processIdentifier, SIGKILL) } }
            try await withTestApp(migrate: false, database: url) { app in
                // Killed once the load is well under way (its schema and accounts are made by the bench itself). It
                // would run far longer than that takes even on a slow, loaded machine: it must still be running when killed.
                let running = try await Self.eventually(600) {
                    // Until the bench has made its schema, there is nothing to read.
                    guard (try? await Backups.migrations(on: app.db).count) ?? 0 > 0 else { return false }
                    let settled = (try? await LedgerHold.query(on: app.db).filter(\.$status == .settled).count()) ?? 0
                    return settled >= 500
                }
                #expect(running)
                kill(load.processIdentifier, SIGKILL)
                load.waitUntilExit()
                #expect(load.terminationReason == .uncaughtSignal)
                // PostgreSQL finishes what a killed client's connections had sent (a batch's COMMIT among it) before
                // it notices the client is gone: waited for, so that what follows reads a ledger no one writes.
                if let sql = app.db as? any SQLDatabase, sql.dialect.name == "postgresql" {
                    let still = try await Self.eventually(30) {
                        let row = try await sql.raw("""
                            SELECT count(*) AS busy FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                              AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
                            """).first()
                        return try row?.decode(column: "busy", as: Int.self) == 0
                    }
                    #expect(still, "the killed process's statements still run on the server")
                }

                // Straight after the kill: conserved, with the dead process's holds still open and counted as held.
                try await LedgerStoreTests.expectConserved(app)
                let open = try await LedgerHold.query(on: app.db).filter(\.$status == .open).all()
                #expect(!open.isEmpty, "a process killed mid-pair leaves holds open")
                let settledBefore = try await LedgerHold.query(on: app.db).filter(\.$status == .settled).count()

                // The platform again, once their time is up: its sweep voids them at start.
                let latest = open.compactMap(\.expiresAt).max() ?? Date()
                try await Task.sleep(for: .milliseconds(max(0, Int(latest.timeIntervalSinceNow * 1000)) + 200))
                let port = try LabOriginTests.freePort()
                let server = try Self.start(["serve", "--hostname", "127.0.0.1", "--port", "\(port)"], environment: environment)
                defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
                let ended = try await Self.eventually(60) {
                    try await LedgerHold.query(on: app.db).filter(\.$status == .open).count() == 0
                }
                #expect(ended, "the restarted platform voids every hold past its time")
                server.terminate()
                server.waitUntilExit()

                try await LedgerStoreTests.expectConserved(app)
                let voided = try await LedgerHold.query(on: app.db).filter(\.$id ~~ open.map { try $0.requireID() }).all()
                #expect(voided.count == open.count && voided.allSatisfy { $0.status == .voided })
                #expect(try await LedgerHold.query(on: app.db).filter(\.$status == .settled).count() == settledBefore)
                // No overshoot: every allowance spent at most what it was given.
                let below = try await LedgerAccount.query(on: app.db).filter(\.$kind != .partner).filter(\.$balance < 0).count()
                #expect(below == 0)
            }
        } catch {
            try? await postgres?.drop()
            throw error
        }
        try await postgres?.drop()
    }
}
