// Gives each test its own database, never the developer's: a private in-memory SQLite database by default, or,
// when the test run's DATABASE_URL is a postgres:// URL, a fresh database on that server, dropped afterwards.
import Foundation
import FluentPostgresDriver
import Logging
@testable import App

struct TestDatabase: Sendable {
    let url: DatabaseURL
    private let dropStatement: String?
    private let server: SQLPostgresConfiguration?

    /// The server the test run points at, or nil for SQLite.
    static var postgresServer: String? {
        guard let raw = ProcessInfo.processInfo.environment["DATABASE_URL"], raw.hasPrefix("postgres") else { return nil }
        return raw
    }

    static var isPostgres: Bool { postgresServer != nil }

    static func make() async throws -> TestDatabase {
        guard let server = postgresServer else {
            return TestDatabase(url: .sqliteMemory, dropStatement: nil, server: nil)
        }
        let name = "cc_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let configuration = try SQLPostgresConfiguration(url: server)
        try await run("CREATE DATABASE \(name)", on: configuration)
        var components = URLComponents(string: server)!
        components.path = "/" + name
        let url = try DatabaseURL.parse(components.string!)
        return TestDatabase(url: url, dropStatement: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)", server: configuration)
    }

    func drop() async throws {
        guard let dropStatement, let server else { return }
        try await Self.run(dropStatement, on: server)
    }

    private static func run(_ sql: String, on configuration: SQLPostgresConfiguration) async throws {
        let logger = Logger(label: "test-database")
        let connection = try await PostgresConnection.connect(configuration: configuration.coreConfiguration, id: 1, logger: logger)
        do {
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
