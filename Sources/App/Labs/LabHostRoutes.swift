// What a lab host on another machine (`campuscloud worker --labs N`) answers, to the web tier only: starting,
// stopping and reporting on its sessions (/lab-host/sessions/{id}/…), and its sessions' programs themselves (the same
// addresses as the web tier's: /labs/sessions/{id}/…, JupyterLab over HTTP and WebSockets, the terminal's WebSocket).
// Every request carries the session's key (`LabHosts.key`): without it, or with another session's, the answer is 403
// and nothing is done. These are the only routes such a host serves, with /healthz and /metrics.
import Fluent
import Foundation
import Vapor

enum LabHostRoutes {
    static func controlPath(_ session: UUID, _ action: String) -> String { "/lab-host/sessions/\(session.uuidString.lowercased())/\(action)" }

    struct ReadyInput: Codable { var lab: UUID; var user: UUID }
    struct ReadyAnswer: Codable {
        var id: UUID
        var token: UUID
        var pair: (id: UUID, token: UUID) { (id, token) }
    }
    struct TokenInput: Codable { var token: UUID }
    struct StopInput: Codable { var reason: String }
    struct StopAnswer: Codable { var stopped: Bool }
    struct IdleAnswer: Codable { var stopsAt: Date? }

    static func register(_ app: Application) {
        let control = app.grouped("lab-host", "sessions", ":sessionID")
        control.post("ready", use: ready)
        control.post("begin", use: begin)
        control.post("give-back", use: giveBack)
        control.post("stop", use: stop)
        control.get("idle", use: idle)
        control.post("keep", use: keep)
        app.get(.labTerminal(.key), use: LabSessionController.terminalOnHost)
        for method in [HTTPMethod.GET, .POST, .PUT, .PATCH, .DELETE] {
            app.on(method, .labProxy(.key), body: .collect(maxSize: LabProxy.maxBody), use: LabProxy.relayOnHost)
        }
    }

    /// The session the request is about, when it carries that session's key for `use` (403 otherwise).
    static func authorize(_ req: Request, _ use: LabHosts.KeyUse = .control) throws -> UUID {
        guard let id = req.parameters.get("sessionID", as: UUID.self) else { throw Abort(.notFound) }
        guard LabHosts.isKey(req.headers.first(name: LabHosts.keyHeader), for: id, use, secret: req.application.platformSecret) else {
            throw Abort(.forbidden, reason: "This lab host answers the platform only.")
        }
        return id
    }

    /// A refusal (full, over quota, …) as 409 with its sentence, for the web tier to show.
    private static func refusing<T: Encodable>(_ req: Request, _ body: () async throws -> T) async throws -> Response {
        do {
            let response = Response(status: .ok)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            try response.content.encode(try await body(), using: encoder)
            return response
        } catch let refusal as Refusal {
            let response = Response(status: .conflict)
            try response.content.encode(["reason": refusal.reason])
            return response
        }
    }

    @Sendable static func ready(req: Request) async throws -> Response {
        let proposed = try authorize(req)
        let input = try req.content.decode(ReadyInput.self)
        return try await refusing(req) {
            guard let lab = try await LabEnvironment.find(input.lab, on: req.db) else { throw Refusal("The lab no longer exists.") }
            // A proposed id is new: the key of a session that ran opens no second start.
            guard try await LabSession.find(proposed, on: req.db) == nil else { throw Refusal("That session has already started.") }
            let (id, token) = try await req.application.labHost.ready(lab: lab, user: input.user, proposed: proposed)
            return ReadyAnswer(id: id, token: token)
        }
    }

    @Sendable static func begin(req: Request) async throws -> Response {
        let id = try authorize(req), token = try req.content.decode(TokenInput.self).token
        return try await refusing(req) {
            let host = req.application.labHost
            guard let session = try await LabSession.find(id, on: req.db), session.host == host.name, session.status == .running,
                  let lab = try await LabEnvironment.find(session.$lab.id, on: req.db) else { throw Refusal("The session is not this host's to start.") }
            try await host.begin(session, lab: lab, token: token)
            return StopAnswer(stopped: false)
        }
    }

    @Sendable static func giveBack(req: Request) async throws -> Response {
        let id = try authorize(req), token = try req.content.decode(TokenInput.self).token
        await req.application.labHost.giveBack(id, token: token)
        return try await refusing(req) { StopAnswer(stopped: false) }
    }

    @Sendable static func stop(req: Request) async throws -> Response {
        let id = try authorize(req), reason = try req.content.decode(StopInput.self).reason
        let outcome = await LabHostLink.local(req.application.labHost).stop(id, reason: String(reason.prefix(500)), app: req.application)
        return try await refusing(req) { StopAnswer(stopped: outcome == .stopped) }
    }

    @Sendable static func idle(req: Request) async throws -> Response {
        let id = try authorize(req)
        let at = await req.application.labHost.idleStopsAt(id, now: req.now)
        return try await refusing(req) { IdleAnswer(stopsAt: at) }
    }

    @Sendable static func keep(req: Request) async throws -> Response {
        let id = try authorize(req)
        await req.application.labHost.endpoint(of: id)?.activity.mark(req.now)
        return try await refusing(req) { StopAnswer(stopped: false) }
    }
}
