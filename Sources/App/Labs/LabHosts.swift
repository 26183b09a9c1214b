// Where lab sessions run: in `serve` itself (up to CAMPUSCLOUD_LAB_SESSIONS), or on lab hosts on other machines
// (`campuscloud worker --labs N`), each of which says every few seconds in `lab_hosts` that it is alive, where the
// web tier reaches it and for how many sessions. A start goes to the live host with most room; from then on the web
// tier talks to the session's host through a `LabHostLink`: this process's `LabHost` directly, another's over HTTP
// (`LabHostRoutes`), every request carrying the session's own key (an HMAC of its id under the platform's secret, so
// a lab host answers only for sessions the platform started, and a key opens one session only).
import AsyncHTTPClient
import Crypto
import Fluent
import Foundation
import NIOCore
import NIOHTTP1
import SQLKit
import Vapor

enum LabHosts {
    /// A lab host not heard from for this long gets no new sessions.
    static let aliveSeconds: TimeInterval = 30
    static let keyHeader = "X-CampusCloud-Lab-Key"

    /// Says this host is alive (where, for how many, and how many sessions of each lab it has ready), forgetting
    /// hosts quiet for a day.
    static func heartbeat(name: String, address: String?, capacity: Int, ready: [UUID: Int], at now: Date, on db: any Database) async throws {
        let sql = try db.sqlDatabase()
        let counts = String(decoding: try JSONEncoder().encode(Dictionary(uniqueKeysWithValues: ready.map { ($0.key.uuidString.lowercased(), $0.value) })), as: UTF8.self)
        try await sql.raw("""
            INSERT INTO lab_hosts (name, address, capacity, ready, seen_at) VALUES (\(bind: name), \(bind: address), \(bind: capacity), \(bind: counts), \(bind: now))
            ON CONFLICT (name) DO UPDATE SET address = excluded.address, capacity = excluded.capacity, ready = excluded.ready, seen_at = excluded.seen_at
            """).run()
        try await sql.raw("DELETE FROM lab_hosts WHERE seen_at < \(bind: now.addingTimeInterval(-86_400))").run()
    }

    /// What a key opens: the session's program (the relay), or starting, stopping and reporting on it.
    enum KeyUse: String { case relay, control }

    /// The session's key for `use`: what a lab host asks of every request about it.
    static func key(for session: UUID, _ use: KeyUse, secret: String) -> String {
        let message = "lab-\(use.rawValue):\(session.uuidString.lowercased())"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Whether `given` is the session's key (compared in constant time).
    static func isKey(_ given: String?, for session: UUID, _ use: KeyUse, secret: String) -> Bool {
        guard let given else { return false }
        let expected = Array(key(for: session, use, secret: secret).utf8), offered = Array(given.utf8)
        guard expected.count == offered.count else { return false }
        return zip(expected, offered).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// How many sessions of the lab are ready to start at once: on this process, and on the live lab hosts as they
    /// last said.
    static func readyCount(of lab: UUID, app: Application, at now: Date) async throws -> Int {
        let local = await app.labHost.readyCount(of: lab)
        let rows = try await app.db.sqlDatabase().raw("""
            SELECT ready FROM lab_hosts WHERE name <> \(bind: app.labHost.name) AND address IS NOT NULL AND seen_at >= \(bind: now.addingTimeInterval(-aliveSeconds))
            """).all()
        return try rows.reduce(local) { sum, row in
            let counts = try JSONDecoder().decode([String: Int].self, from: Data(try row.decode(column: "ready", as: String.self).utf8))
            return sum + (counts[lab.uuidString.lowercased()] ?? 0)
        }
    }

    /// The live hosts with room for a new session, most room first (this process first among equals). A host that
    /// died within `aliveSeconds` still looks alive here: `LabSessions.start` goes on to the next when one does not answer.
    static func candidates(app: Application, at now: Date) async throws -> [LabHostLink] {
        let local = app.labHost
        let rows = try await app.db.sqlDatabase().raw("""
            SELECT h.name, h.address, h.capacity,
                   (SELECT COUNT(*) FROM lab_sessions s WHERE s.host = h.name AND s.status = 'running') AS running
            FROM lab_hosts h WHERE h.address IS NOT NULL AND h.seen_at >= \(bind: now.addingTimeInterval(-aliveSeconds))
            """).all()
        var found: [(room: Int, link: LabHostLink)] = []
        let localCapacity = await local.capacity
        if localCapacity > 0 {
            let running = try await LabSession.query(on: app.db).filter(\.$host == local.name).filter(\.$status == .running).count()
            found.append((localCapacity - running, .local(local)))
        }
        for row in rows {
            let name = try row.decode(column: "name", as: String.self), address = try row.decode(column: "address", as: String.self)
            guard name != local.name, let url = URL(string: address) else { continue }
            let room = try row.decode(column: "capacity", as: Int.self) - row.decode(column: "running", as: Int.self)
            found.append((room, .remote(name: name, address: url, secret: app.platformSecret)))
        }
        let open = found.enumerated().filter { $0.element.room > 0 }
            .sorted { ($0.element.room, -$0.offset) > ($1.element.room, -$1.offset) }.map(\.element.link)
        guard !open.isEmpty else {
            throw Refusal("Every lab host is full (or none is running); try again in a few minutes, and tell the course staff if it lasts.")
        }
        return open
    }

    /// A lab host that could not be reached (it may have died since it last said it was alive).
    struct Unreachable: AbortError {
        let host: String
        var status: HTTPResponseStatus { .conflict }
        var reason: String { "The lab host did not answer; please try again in a minute." }
    }

    /// The host of a session: this process, another lab host (by its last known address), or nil when that host is
    /// no longer known.
    static func link(of session: LabSession, app: Application) async throws -> LabHostLink? {
        if session.host == app.labHost.name { return .local(app.labHost) }
        guard let row = try await app.db.sqlDatabase().raw("SELECT address FROM lab_hosts WHERE name = \(bind: session.host)").first(),
              let address = try row.decode(column: "address", as: String?.self), let url = URL(string: address) else { return nil }
        return .remote(name: session.host, address: url, secret: app.platformSecret)
    }
}

/// How the web tier asks a session's host to start, stop and report on it.
enum LabHostLink: Sendable {
    case local(LabHost)
    case remote(name: String, address: URL, secret: String)

    var name: String {
        switch self {
        case .local(let host): host.name
        case .remote(let name, _, _): name
        }
    }

    /// See `LabHost.ready`.
    func ready(lab: LabEnvironment, user: UUID, proposed: UUID, app: Application) async throws -> (id: UUID, token: UUID) {
        switch self {
        case .local(let host): return try await host.ready(lab: lab, user: user, proposed: proposed)
        case .remote:
            let answer = try await call(.POST, "ready", session: proposed, body: LabHostRoutes.ReadyInput(lab: try lab.requireID(), user: user), app: app,
                                        timeout: .minutes(15))  // the first start on a host builds the environment there
            return try JSONDecoder().decode(LabHostRoutes.ReadyAnswer.self, from: answer).pair
        }
    }

    /// See `LabHost.begin`.
    func begin(_ session: LabSession, lab: LabEnvironment, token: UUID, app: Application) async throws {
        switch self {
        case .local(let host): try await host.begin(session, lab: lab, token: token)
        case .remote: _ = try await call(.POST, "begin", session: try session.requireID(), body: LabHostRoutes.TokenInput(token: token), app: app, timeout: .minutes(5))
        }
    }

    /// See `LabHost.giveBack`.
    func giveBack(_ id: UUID, token: UUID, app: Application) async {
        switch self {
        case .local(let host): await host.giveBack(id, token: token)
        case .remote: _ = try? await call(.POST, "give-back", session: id, body: LabHostRoutes.TokenInput(token: token), app: app)
        }
    }

    /// What became of a stop asked of the session's host.
    enum StopOutcome { case stopped, notRunning, unreachable }

    /// Stops the session's sandbox and waits until the session is finished: `.notRunning` when the host does not run
    /// it, `.unreachable` when the host did not answer (the caller then ends the row itself, and the host's meter,
    /// should it come back, stops any sandbox left).
    func stop(_ id: UUID, reason: String, app: Application) async -> StopOutcome {
        switch self {
        case .local(let host):
            guard await host.isRunning(id) else { return .notRunning }
            await host.stop(id, reason: reason)
            return .stopped
        case .remote:
            do {
                let answer = try await call(.POST, "stop", session: id, body: LabHostRoutes.StopInput(reason: reason), app: app, timeout: .minutes(2))
                return (try? JSONDecoder().decode(LabHostRoutes.StopAnswer.self, from: answer))?.stopped == true ? .stopped : .notRunning
            } catch is LabHosts.Unreachable {
                return .unreachable
            } catch {
                return .notRunning
            }
        }
    }

    /// When the session stops for being idle, once that is near (nil: not soon, not running, or the host is away).
    func idleStopsAt(_ id: UUID, now: Date, app: Application) async -> Date? {
        switch self {
        case .local(let host): return await host.idleStopsAt(id, now: now)
        case .remote:
            guard let answer = try? await call(.GET, "idle", session: id, app: app, timeout: .seconds(5)) else { return nil }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try? decoder.decode(LabHostRoutes.IdleAnswer.self, from: answer).stopsAt
        }
    }

    /// "I'm still here": the session's idle countdown starts again.
    func keep(_ id: UUID, now: Date, app: Application) async {
        switch self {
        case .local(let host): await host.endpoint(of: id)?.activity.mark(now)
        case .remote: _ = try? await call(.POST, "keep", session: id, app: app, timeout: .seconds(5))
        }
    }

    /// Where a remote host answers for the session's program (HTTP and WebSockets), and the key it asks for.
    func relayTarget(_ id: UUID) -> (address: URL, key: String)? {
        guard case .remote(_, let address, let secret) = self else { return nil }
        return (address, LabHosts.key(for: id, .relay, secret: secret))
    }

    private func call(_ method: HTTPMethod, _ action: String, session: UUID, body: (any Encodable)? = nil, app: Application,
                      timeout: TimeAmount = .seconds(30)) async throws -> Data {
        guard case .remote(let name, let address, let secret) = self else { return Data() }
        var request = HTTPClientRequest(url: address.absoluteString.trimmingSuffix("/") + LabHostRoutes.controlPath(session, action))
        request.method = method
        request.headers.add(name: LabHosts.keyHeader, value: LabHosts.key(for: session, .control, secret: secret))
        if let body {
            request.headers.add(name: .contentType, value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await app.http.client.shared.execute(request, timeout: timeout)
        } catch {
            app.logger.warning("Lab host \(name) at \(address) did not answer: \(error)")
            throw LabHosts.Unreachable(host: name)
        }
        let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        switch response.status {
        case .ok: return data
        case .conflict: throw Refusal((try? JSONDecoder().decode(ErrorAnswer.self, from: data).reason) ?? "The lab host refused.")
        case .forbidden:
            app.logger.error("Lab host \(name) refused the platform's key: give every machine the same CAMPUSCLOUD_SECRET.")
            throw Refusal("The lab host refused the platform; the administrators have been told (see the platform's log).")
        default:
            app.logger.warning("Lab host \(name) answered \(response.status.code) to \(action).")
            throw Refusal("The lab host could not do it; please try again, and tell the course staff if it keeps failing.")
        }
    }

    private struct ErrorAnswer: Decodable { var reason: String }
}
