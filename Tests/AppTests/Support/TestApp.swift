// `withTestApp`: a configured, migrated Application on its own database and data folder, shut down and dropped after.
import Foundation
import Vapor
import VaporTesting
@testable import App

/// Runs `body` with a fresh platform. `migrate: false` leaves the schema empty (for migration tests); `adjust` changes
/// the configuration (as its environment variables would); `statements` counts the SQL the platform issues.
func withTestApp(migrate: Bool = true, database: DatabaseURL? = nil, adjust: (inout AppConfig) -> Void = { _ in },
                 statements: StatementCounter? = nil, _ body: (Application) async throws -> Void) async throws {
    let testDatabase = database == nil ? try await TestDatabase.make() : nil
    let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("cc-test-\(UUID().uuidString)").path
    var config = AppConfig(database: database ?? testDatabase!.url, dataDirectory: dataDirectory,
                           logLevel: .warning, secret: String(repeating: "s", count: 40))
    adjust(&config)
    let app = try await Application.make(.testing)
    var failure: (any Error)?
    do {
        try await configure(app, config: config)
        // A SQLite file (shared with a worker process) is set up as the commands set it up: waiting for the other
        // process's writes rather than spinning on them.
        try await tuneSQLite(app)
        // Before the first statement, so that every pooled connection logs to it.
        if let statements { app.logger = statements.logger(label: "campuscloud-test") }
        if migrate { try await app.autoMigrate() }
        try await body(app)
    } catch {
        failure = error
    }
    // A test that started the HTTP server has it stopped here, before the application goes (however the test ended).
    await app.server.shutdown()
    try await app.asyncShutdown()
    try? FileManager.default.removeItem(atPath: dataDirectory)
    try await testDatabase?.drop()
    if let failure { throw failure }
}

extension Application {
    /// The demo data with a cheap password hash (bcrypt cost 4): tests need the records, not a slow hash. Without
    /// the demo's credits unless asked: ledger tests start from an empty ledger.
    func loadDemoData(credits: Bool = false) async throws {
        try await DemoData.load(on: db, passwordHash: try Bcrypt.hash(DemoData.password, cost: 4), credits: credits)
    }

    /// An Authorization header for a demo person (signed in with the demo password).
    func bearer(_ email: String) async throws -> HTTPHeaders {
        let response = try await testing().sendRequest(.POST, "api/v1/auth/token") { req in
            try req.content.encode(["email": email, "password": DemoData.password], as: .json)
        }
        return ["Authorization": "Bearer \(try response.content.decode(AuthController.TokenDTO.self).token)"]
    }
}
