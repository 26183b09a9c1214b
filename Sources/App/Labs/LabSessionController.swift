// Lab sessions over the JSON API and on pages: start (from the lab), show, stop, and the terminal's WebSocket.
import Fluent
import Foundation
import Labs
import Vapor

enum LabSessionController {
    /// The folder the browser terminal's files are served from (scripts/install-deps puts xterm.js there).
    static let xtermFolder = "/usr/local/share/campuscloud/xterm"

    // MARK: API

    @Sendable static func start(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, lab in .viewLab(access, openTo: lab.openTo) })
        let session = try await LabSessions.start(found.lab, course: found.course, user: found.user, access: found.access, app: req.application, now: req.now)
        return try await LabSessionDTO.make(session, req).encodeResponse(status: .created, for: req)
    }

    /// The caller's sessions of the lab, newest first (the last 50).
    @Sendable static func mine(req: Request) async throws -> [LabSessionDTO] {
        let found = try await req.lab(for: { access, lab in .viewLab(access, openTo: lab.openTo) })
        let sessions = try await LabSession.query(on: req.db).filter(\.$lab.$id == found.lab.requireID()).filter(\.$user.$id == found.user.requireID())
            .sort(\.$startedAt, .descending).limit(50).all()
        var views: [LabSessionDTO] = []
        for session in sessions { views.append(try await LabSessionDTO.make(session, req)) }
        return views
    }

    @Sendable static func show(req: Request) async throws -> LabSessionDTO {
        try await LabSessionDTO.make(try await req.labSession().0, req)
    }

    @Sendable static func stop(req: Request) async throws -> LabSessionDTO {
        let session = try await stopSession(req)
        return try await LabSessionDTO.make(session, req)
    }

    /// Stops the caller's running session (409 when it has ended) and returns it as it ended.
    private static func stopSession(_ req: Request) async throws -> LabSession {
        let (session, _) = try await req.labSession()
        let id = try session.requireID()
        guard session.status == .running else { throw Refusal("This session has already ended.") }
        try await LabSessions.stop(session, reason: "Stopped by you.", app: req.application, at: req.now)
        return try await LabSession.find(id, on: req.db) ?? session
    }

    // MARK: Pages

    @Sendable static func startFromPage(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, lab in .viewLab(access, openTo: lab.openTo) })
        do {
            let session = try await LabSessions.start(found.lab, course: found.course, user: found.user, access: found.access, app: req.application, now: req.now)
            return req.redirect(to: .labSession(.id(try session.requireID())))
        } catch let refusal as Refusal {
            return try await LabController.render(req, found, PageContext(req, problems: [refusal.reason])).encodeResponse(status: .conflict, for: req)
        }
    }

    @Sendable static func page(req: Request) async throws -> View {
        let (session, _) = try await req.labSession()
        let lab = try await LabEnvironment.find(session.$lab.id, on: req.db)
        return try await req.view.render("lab-session", LabSessionPage(
            title: "Lab session: \(lab?.name ?? "lab")", page: PageContext(req), session: try await LabSessionDTO.make(session, req),
            labName: lab?.name ?? "", kind: lab?.kind.rawValue ?? "", links: LabSessionLinks(session: try session.requireID(), lab: session.$lab.id),
            running: session.status == .running, terminalInstalled: FileManager.default.fileExists(atPath: xtermFolder + "/xterm.min.js")))
    }

    /// The session page's countdown and balance, refreshed by the page while it is open.
    @Sendable static func status(req: Request) async throws -> LabSessionDTO {
        try await LabSessionDTO.make(try await req.labSession().0, req)
    }

    /// "I'm still here": the idle countdown starts again.
    @Sendable static func keepFromPage(req: Request) async throws -> Response {
        let (session, _) = try await req.labSession()
        let id = try session.requireID()
        if session.status == .running { try await LabHosts.link(of: session, app: req.application)?.keep(id, now: req.now, app: req.application) }
        return req.redirect(to: .labSession(.id(id)))
    }

    @Sendable static func stopFromPage(req: Request) async throws -> Response {
        let session = try await stopSession(req)
        req.session.data[PageContext.noticeKey] = "The session stopped; your files are kept for next time."
        return req.redirect(to: .labSession(.id(try session.requireID())))
    }

    /// GET …/terminal with a WebSocket upgrade: the session's shell. Its owner only, from the platform's pages only.
    @Sendable static func terminal(req: Request) async throws -> Response {
        let (session, _) = try await req.labSession()
        let id = try session.requireID()
        guard session.status == .running, let link = try await LabHosts.link(of: session, app: req.application) else {
            throw Refusal("This session is not running.")
        }
        guard LabProxy.isUpgrade(req) else { throw Abort(.badRequest, reason: "Connect to the terminal with a WebSocket.") }
        if let origin = req.headers.first(name: "Origin"), !isOwnOrigin(origin, req) {
            throw Abort(.forbidden, reason: "The terminal answers only the platform's own pages.")
        }
        if let target = link.relayTarget(id) { return try await LabProxy.forward(req, to: target) }
        return try await bridge(req, session: id)
    }

    /// The same on a lab host (`campuscloud worker --labs`), for the web tier, with the session's key.
    @Sendable static func terminalOnHost(req: Request) async throws -> Response {
        let id = try LabHostRoutes.authorize(req, .relay)
        guard LabProxy.isUpgrade(req) else { throw Abort(.badRequest, reason: "Connect to the terminal with a WebSocket.") }
        return try await bridge(req, session: id)
    }

    /// The WebSocket joined to the terminal of a session this host runs.
    private static func bridge(_ req: Request, session id: UUID) async throws -> Response {
        guard let endpoint = await req.application.labHost.endpoint(of: id), endpoint.kind == .terminal else {
            throw Refusal("This session is not running on this lab host.")
        }
        let activity = endpoint.activity, clock = req.application.clock, logger = req.logger
        let upgraded: @Sendable (Request, WebSocket) -> Void = { req, ws in
            TerminalBridge.attach(ws, to: endpoint, on: req.eventLoop, logger: logger) { activity.mark(clock.now()) }
        }
        return req.webSocket(maxFrameSize: .init(integerLiteral: 1 << 20), onUpgrade: upgraded)
    }

    /// Whether a browser's Origin is this platform: its public address when one is configured, else the host the
    /// request came to (cross-site WebSocket hijacking: a page elsewhere would otherwise drive the shell with the
    /// person's cookie).
    static func isOwnOrigin(_ origin: String, _ req: Request) -> Bool {
        guard let url = URL(string: origin), let host = url.host else { return false }
        let authority = host + (url.port.map { ":\($0)" } ?? "")
        if let publicURL = req.application.platformConfig.publicURL, let publicHost = publicURL.host {
            return url.scheme == publicURL.scheme && authority == publicHost + (publicURL.port.map { ":\($0)" } ?? "")
        }
        guard let hostHeader = req.headers.first(name: .host) else { return false }
        // Browsers send the port in Host whenever it is not the default; a client that leaves it out is compared by host.
        return hostHeader.contains(":") ? authority == hostHeader : host == hostHeader
    }

    /// The browser terminal's files (xterm.js), from where scripts/install-deps put them.
    @Sendable static func asset(req: Request) async throws -> Response {
        let file: String, type: HTTPMediaType
        switch req.route?.userInfo["sitePath"] as? SitePath {
        case .xtermScript?: (file, type) = ("xterm.min.js", HTTPMediaType(type: "text", subType: "javascript", parameters: ["charset": "utf-8"]))
        case .xtermFit?: (file, type) = ("xterm-addon-fit.min.js", HTTPMediaType(type: "text", subType: "javascript", parameters: ["charset": "utf-8"]))
        default: (file, type) = ("xterm.min.css", .css)
        }
        guard let data = FileManager.default.contents(atPath: xtermFolder + "/" + file) else {
            throw Abort(.notFound, reason: "The browser terminal is not installed on this server (scripts/install-deps installs it).")
        }
        var headers = HTTPHeaders()
        headers.contentType = type
        headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=86400")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}
