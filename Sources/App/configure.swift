// Builds a running Application from a parsed AppConfig: database, pages, middleware, routes.
// Every entry point (serve, migrate, demo, tests) comes through here, so they all see the same platform.
import Vapor
import Fluent
import FluentSQLiteDriver
import FluentPostgresDriver
import Leaf
import LeafKit
import Sandbox

public func configure(_ app: Application, config: AppConfig) async throws {
    app.logger.logLevel = config.logLevel
    app.platformConfig = config
    app.platformSecret = try SecretStore.resolve(config)
    app.routes.defaultMaxBodySize = "1mb"

    try useDatabase(config.database, on: app)
    Migrations.register(on: app)

    let resources = try PlatformResources.locate()
    app.leaf.configuration.rootDirectory = resources.views
    // Templates may sit below a hidden folder (`.build/` in development), which Leaf's default limits refuse.
    app.leaf.sources = .singleSource(NIOLeafFiles(
        fileio: app.fileio, limits: [.toSandbox, .requireExtensions, .onlyLeafExtensions],
        sandboxDirectory: resources.views, viewDirectory: resources.views))
    app.views.use(.leaf)

    // Web sign-in sessions: stored in the database, cookie HttpOnly and SameSite=Lax, Secure behind https.
    app.sessions.use(.fluent)
    let secureCookies = config.servesHTTPS
    app.sessions.configuration = SessionsConfiguration(cookieName: "campuscloud_session") { id in
        HTTPCookies.Value(string: id.string, expires: Date(timeIntervalSinceNow: 7 * 24 * 3600), path: "/",
                          isSecure: secureCookies, isHTTPOnly: true, sameSite: .lax)
    }
    app.signInThrottle = SignInThrottle()

    app.platformMetrics = PlatformMetrics()
    app.sandbox = SandboxService(sandbox: Sandbox(configuration: SandboxService.configuration(for: config)), metrics: app.platformMetrics)
    app.lifecycle.use(SandboxLifecycle())
    // Outermost first: metrics see every final status, errors become JSON or pages, then static files.
    app.middleware = Middlewares()
    app.middleware.use(RequestMetricsMiddleware())
    app.middleware.use(PlatformErrorMiddleware(environment: app.environment))
    app.middleware.use(FileMiddleware(publicDirectory: resources.publicFiles))

    try routes(app)
}

func useDatabase(_ database: DatabaseURL, on app: Application) throws {
    switch database {
    case .sqliteMemory:
        app.databases.use(.sqlite(.memory), as: .sqlite)
    case .sqliteFile(let path):
        app.databases.use(.sqlite(.file(path)), as: .sqlite)
    case .postgres(let url, _, _, _):
        var configuration = try SQLPostgresConfiguration(url: url)
        configuration.coreConfiguration.options.connectTimeout = .seconds(5)
        app.databases.use(.postgres(configuration: configuration, connectionPoolTimeout: .seconds(5)), as: .psql)
    }
}

/// Checks that the database answers; the sentence names the host or file, never the password.
public func verifyDatabaseReachable(_ app: Application) async throws {
    do {
        try await DatabaseHealth.ping(app.db)
    } catch {
        throw StartupError.databaseUnreachable(app.platformConfig.database.redacted, reason: DatabaseHealth.reason(for: error))
    }
}

extension Application {
    private struct ThrottleKey: StorageKey { typealias Value = SignInThrottle }
    var signInThrottle: SignInThrottle {
        get { storage[ThrottleKey.self]! }
        set { storage[ThrottleKey.self] = newValue }
    }

    private struct ConfigKey: StorageKey { typealias Value = AppConfig }
    private struct SecretKey: StorageKey { typealias Value = String }

    public var platformConfig: AppConfig {
        get { storage[ConfigKey.self]! }
        set { storage[ConfigKey.self] = newValue }
    }

    /// Signs sessions and links; never logged or shown.
    var platformSecret: String {
        get { storage[SecretKey.self]! }
        set { storage[SecretKey.self] = newValue }
    }
}
