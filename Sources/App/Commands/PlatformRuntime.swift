// What the serve, migrate and demo commands share: read the configuration once, build the Application through
// `configure`, check the database answers, and shut everything down however the command ends.
import Vapor
import Fluent
import Logging

enum PlatformRuntime {
    /// The configuration from the environment, or the start-up error that names what is wrong with it.
    static func config() throws -> AppConfig {
        do { return try AppConfig.parse(environment: ProcessInfo.processInfo.environment) } catch { throw StartupError.config(error) }
    }

    static func withApplication<T>(serving: PlatformServing = .platform, _ body: (Application) async throws -> T) async throws -> T {
        let config = try config()
        bootstrapLogging(level: config.logLevel)
        // Vapor must not parse our command line: ArgumentParser already did.
        let app = try await Application.make(Environment(name: "production", arguments: ["campuscloud"]))
        do {
            try await configure(app, config: config, serving: serving)
            try await verifyDatabaseReachable(app)
            try await tuneSQLite(app)
            let result = try await body(app)
            try await app.asyncShutdown()
            return result
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }

    private static func bootstrapLogging(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Applies pending migrations, or refuses to go on when `apply` is false.
    static func ensureMigrated(_ app: Application, apply: Bool) async throws {
        try await app.migrator.setupIfNeeded().get()
        let pending = try await app.migrator.previewPrepareBatch().get()
        guard !pending.isEmpty else { return }
        guard apply else { throw StartupError.pendingMigrations(pending.map { $0.0.name }) }
        try await app.migrator.prepareBatch().get()
        app.logger.info("Applied \(pending.count) migration(s).")
    }

    /// Serves until SIGINT/SIGTERM, on the given address.
    static func serve(_ app: Application, hostname: String, port: Int) async throws {
        app.http.server.configuration.hostname = hostname
        app.http.server.configuration.port = port
        app.lifecycle.use(LedgerSweeper())
        app.lifecycle.use(JobWorkers(count: app.platformConfig.gradingWorkers))
        app.lifecycle.use(LabMeterLoop())
        try await app.execute()
    }
}
