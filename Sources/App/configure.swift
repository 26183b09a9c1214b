// Builds a running Application from a parsed AppConfig: database, pages, middleware, routes.
// Every entry point (serve, migrate, demo, tests) comes through here, so they all see the same platform.
import Vapor
import Fluent
import Gateway
import Identity
import FluentSQLiteDriver
import FluentPostgresDriver
import Leaf
import LeafKit
import Sandbox

/// What the process's HTTP server answers: the whole platform (`serve`, tests), or a lab host's few routes
/// (`campuscloud worker --labs`, see LabHostRoutes).
public enum PlatformServing: Sendable { case platform, labHost }

public func configure(_ app: Application, config: AppConfig, serving: PlatformServing = .platform) async throws {
    app.logger.logLevel = config.logLevel
    app.platformConfig = config
    app.platformSecret = try SecretStore.resolve(config)
    app.routes.defaultMaxBodySize = "1mb"
    // Request bodies are taken as sent: no client of the platform compresses them (browsers, the CLI, OpenAI's SDKs),
    // so a decompressor in every connection's pipeline would only be a surface for decompression bombs.
    app.http.server.configuration.requestDecompression = .disabled
    // Outbound HTTP goes to the AI providers and identity providers an admin registered: a redirect could send a
    // request (with a provider's secret) anywhere, so none is followed.
    app.http.client.configuration.redirectConfiguration = .disallow
    // The platform exports no traces: without a tracer, the client skips building a span for every request.
    app.http.client.configuration.tracing.tracer = nil

    try useDatabase(config.database, connections: config.databaseConnections, on: app)
    Migrations.register(on: app)

    let resources = try PlatformResources.locate()
    app.leaf.configuration.rootDirectory = resources.views
    // Templates may sit below a hidden folder (`.build/` in development), which Leaf's default limits refuse.
    app.leaf.sources = .singleSource(NIOLeafFiles(
        fileio: app.fileio, limits: [.toSandbox, .requireExtensions, .onlyLeafExtensions],
        sandboxDirectory: resources.views, viewDirectory: resources.views))
    app.views.use(.leaf)

    // Web sign-in sessions: stored in the database, cookie HttpOnly and SameSite=Lax, Secure behind https — and then
    // named `__Host-`, so no other host below the same domain (a labs origin's page) can set one in its place.
    app.sessions.use { app in QuietSessions(base: app.fluent.sessions.driver(nil)) }
    let secureCookies = config.servesHTTPS
    // A week from each response, as Max-Age: an Expires date costs a DateFormatter on every page (a tenth of one).
    app.sessions.configuration = SessionsConfiguration(cookieName: (secureCookies ? "__Host-" : "") + "campuscloud_session") { id in
        HTTPCookies.Value(string: id.string, maxAge: 7 * 24 * 3600, path: "/", isSecure: secureCookies, isHTTPOnly: true, sameSite: .lax)
    }
    app.signInThrottle = SignInThrottle()
    app.keySets = KeySetCache { [unowned app] url in try await SingleSignOnHTTP.getWithCaching(url, app: app) }

    app.platformMetrics = PlatformMetrics()
    app.sandbox = SandboxService(sandbox: Sandbox(configuration: SandboxService.configuration(for: config)), metrics: app.platformMetrics)
    app.lifecycle.use(SandboxLifecycle())
    app.labHost = LabHost(app: app)
    app.lifecycle.use(LabHostLifecycle())
    app.environmentLayers = EnvironmentLayers(app: app, dataDirectory: config.dataDirectory)
    app.jobBell = JobBell()
    app.insightCache = CourseInsightSnapshots.DecodedCache()
    // What each kind of queued job does (the workers know no kind), and the periodic tasks run with their sweep.
    app.jobHandlers = JobHandlers([GradeRunHandler(), AutograderSetupHandler(), ResearchJobHandler(), SlurmPollHandler(), LabSetupHandler(), LabPrestartHandler(),
                                   LTIScoreHandler(), LTIRosterHandler(), SimilarityCheckHandler()],
                                  sweeps: [{ app in try await AIUsageReports.erasePrompts(before: app.clock.now(), on: app.db) },
                                           { app in _ = try await LabSessions.sweep(app: app, at: app.clock.now()) },
                                           LTIRosterSync.sweep, LTIGradeSync.sweep, RiskFlags.sweep, RatePermits.sweep])
    // Who mirrors grades elsewhere: the LMSs' grade books (LTI grade passback).
    app.gradeListeners = [LTIGradeSync.changed]
    app.ltiServiceTokens = LTIServiceTokens()
    app.aiRateWindow = RateWindow()
    app.ratePermits = RatePermits(app: app)
    app.gatewayCache = GatewayCache()
    app.gatewayRecorder = GatewayRecorder(app: app)
    app.creditLeases = CreditLeases(app: app)
    app.lifecycle.use(GatewayRecorderLifecycle())
    // Outermost first: metrics see every final status, errors become JSON or pages, then static files.
    app.middleware = Middlewares()
    app.middleware.use(RequestMetricsMiddleware())
    app.middleware.use(PlatformErrorMiddleware(environment: app.environment))
    app.middleware.use(LabOrigin.Middleware())  // the labs origin, when there is one, answers for JupyterLab only
    app.middleware.use(FramingMiddleware())  // the platform's pages are framed by its own pages only
    app.middleware.use(StaticFilesMiddleware(publicDirectory: resources.publicFiles))
    app.middleware.use(MethodNotAllowedMiddleware())  // innermost: turns the router's 404 into 405 where only the method is wrong

    switch serving {
    case .platform: try routes(app)
    case .labHost:
        OperationsArea.routes(app)
        LabHostRoutes.register(app)
    }
}

func useDatabase(_ database: DatabaseURL, connections: Int = 16, on app: Application) throws {
    switch database {
    case .sqliteMemory:
        app.databases.use(.sqlite(.memory), as: .sqlite)
        app.ledgerGate = LedgerWriteGate()
    case .sqliteFile(let path):
        app.databases.use(.sqlite(.file(path)), as: .sqlite)
        app.ledgerGate = LedgerWriteGate()
    case .postgres(let url, _, _, _):
        var configuration = try SQLPostgresConfiguration(url: url)
        configuration.coreConfiguration.options.connectTimeout = .seconds(5)
        let perLoop = max(1, connections / max(1, app.eventLoopGroup.makeIterator().reduce(0) { count, _ in count + 1 }))
        app.databases.use(.postgres(configuration: configuration, maxConnectionsPerEventLoop: perLoop, connectionPoolTimeout: .seconds(10)), as: .psql)
        app.ledgerBatches = LedgerBatches()
    }
}

/// A SQLite file gets write-ahead logging (readers do not block the writer) with fsync at checkpoints rather than
/// at every commit: a power cut can lose the last moments of commits, never consistency. A connection that finds
/// another one writing sleeps until it may write (up to 30 s) instead of retrying at once: the driver's own busy
/// handler retries in a loop, which burns a core for as long as the other connection's transaction lasts. Each
/// pooled connection is set (one per event loop); PostgreSQL is untouched.
func tuneSQLite(_ app: Application) async throws {
    guard case .sqliteFile = app.platformConfig.database else { return }
    for loop in app.eventLoopGroup.makeIterator() {
        guard let sql = app.databases.database(.sqlite, logger: app.logger, on: loop) as? any SQLDatabase else { continue }
        // The wait first, so that switching the journal mode waits for another process's write too.
        try await sql.raw("PRAGMA busy_timeout=30000").run()
        try await sql.raw("PRAGMA journal_mode=WAL").run()
        try await sql.raw("PRAGMA synchronous=NORMAL").run()
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
