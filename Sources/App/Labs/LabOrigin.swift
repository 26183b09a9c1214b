// JupyterLab on origins of its own (CAMPUSCLOUD_LABS_URL, e.g. https://labs.campus.example.edu): each session is
// served at its own host below it (https://<session id>.labs.campus.example.edu; wildcard DNS and certificate), so
// what runs in a notebook's page — a student's own outputs, a page their code fetched — is on neither the platform's
// origin nor any other session's: it cannot read the platform's pages or act as the student there, nor reach another
// person's lab. Without it, labs are relayed on the platform's origin (the README says what that risks).
//
// The session page's frame asks the platform for the lab (`openLab`, the owner's platform session): it answers with
// a one-minute, single-use ticket for the session's origin, which exchanges it (`enterPath`) for a cookie of its own (host-only,
// `__Host-` over https), lasting as long as the session may. That origin serves nothing but the session's own path,
// and every request there must carry that cookie, signed under the platform's secret for that session, its owner and
// the owner's sign-in (signing out of the platform, a changed password or a deactivated account close the lab too);
// the platform's origin no longer relays JupyterLab. Terminals stay on the platform's origin: their page is the
// platform's own, with nothing of the lab's in it.
import Crypto
import Fluent
import Foundation
import Vapor

enum LabOrigin {
    /// The session origin's cookie: host-only, and over https `__Host-` (which no other host, not even a sibling
    /// below the same domain, can set). Both names are kept from the lab.
    static let cookieNames = ["__Host-campuscloud_lab", "campuscloud_lab"]
    static func cookieName(https: Bool) -> String { https ? cookieNames[0] : cookieNames[1] }
    static let ticketSeconds: TimeInterval = 60

    /// Where the labs origin exchanges a ticket for its cookie (below the session's path, outside JupyterLab's names).
    static func enterPath(_ session: UUID) -> String { SitePath.labProxy(.id(session)).url + "campuscloud-enter" }

    /// Who a pass is for: the session's owner, and the platform sign-in (its stored record) it came from.
    struct Holder: Equatable { var user: UUID; var signIn: UUID }

    /// A signed pass for `session` and `holder` until `expiry`: "user.sign-in.expiry.mac", the mac over what it is for;
    /// a ticket also names itself ("user.sign-in.expiry.nonce.mac"), so that it is taken once.
    static func sign(_ use: String, session: UUID, for holder: Holder, until expiry: Date, secret: String, nonce: UUID? = nil) -> String {
        let seconds = Int(expiry.timeIntervalSince1970), named = nonce.map { ".\($0.uuidString.lowercased())" } ?? ""
        return "\(holder.user.uuidString.lowercased()).\(holder.signIn.uuidString.lowercased()).\(seconds)\(named).\(mac(use, session, holder, seconds, nonce, secret))"
    }

    /// Whom a pass is for, when it is one this platform signed for `use` and `session` and it has not run out (with
    /// the name of a ticket).
    static func verify(_ pass: String?, _ use: String, session: UUID, at now: Date, secret: String) -> (holder: Holder, nonce: UUID?)? {
        guard let parts = pass?.split(separator: ".", omittingEmptySubsequences: false), parts.count == 4 || parts.count == 5,
              let user = UUID(uuidString: String(parts[0])), let signIn = UUID(uuidString: String(parts[1])),
              let seconds = Int(parts[2]), Double(seconds) > now.timeIntervalSince1970 else { return nil }
        let holder = Holder(user: user, signIn: signIn)
        var nonce: UUID? = nil
        if parts.count == 5 {
            guard let named = UUID(uuidString: String(parts[3])) else { return nil }
            nonce = named
        }
        let expected = Array(mac(use, session, holder, seconds, nonce, secret).utf8), offered = Array(parts[parts.count - 1].utf8)
        guard expected.count == offered.count, zip(expected, offered).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return (holder, nonce)
    }

    /// Takes a ticket: true the first time its name is offered (names are kept until the ticket would have run out).
    static func take(ticket nonce: UUID, at now: Date, app: Application) async throws -> Bool {
        try await app.writing {
            let sql = try app.db.sqlDatabase()
            try await sql.raw("DELETE FROM lab_ticket_uses WHERE expires_at < \(bind: now)").run()
            do {
                try await sql.raw("INSERT INTO lab_ticket_uses (id, expires_at) VALUES (\(bind: nonce), \(bind: now.addingTimeInterval(ticketSeconds + 60)))").run()
                return true
            } catch where Writes.isUniqueViolation(error) {
                return false
            }
        }
    }

    /// Whether the pass holder is the session's owner, an active account still signed in with the sign-in the pass
    /// came from (and not since a change of password).
    static func isOwner(_ holder: Holder?, of session: LabSession, on db: any Database) async throws -> Bool {
        guard let holder, holder.user == session.$user.id, let record = try await SessionRecord.find(holder.signIn, on: db),
              record.data[userKey] == holder.user.uuidString,
              case .signedIn = try await Credentials.sessionPerson(holder.user, session: record.data, on: db) else { return false }
        return true
    }

    /// Where a platform sign-in keeps its person (Vapor's session authentication).
    static let userKey = "_\(User.self)Session"

    private static func mac(_ use: String, _ session: UUID, _ holder: Holder, _ seconds: Int, _ nonce: UUID?, _ secret: String) -> String {
        let message = "lab-\(use):\(session.uuidString.lowercased()):\(holder.user.uuidString.lowercased()):\(holder.signIn.uuidString.lowercased()):\(seconds)"
            + (nonce.map { ":\($0.uuidString.lowercased())" } ?? "")
        let code = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(code).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// "scheme://host[:port]" of a URL, as a browser's Origin header spells it.
    static func origin(of url: URL) -> String {
        "\(url.scheme ?? "http")://\(url.host ?? "")" + (url.port.map { ":\($0)" } ?? "")
    }

    /// The origin a session's JupyterLab is served at ("https://<id>.labs.example.edu").
    static func sessionOrigin(_ session: UUID, labs: URL) -> String {
        "\(labs.scheme ?? "https")://\(session.uuidString.lowercased()).\(labs.host ?? "")" + (labs.port.map { ":\($0)" } ?? "")
    }

    /// Whether the request came to the labs domain (by its Host: the labs host or any host below it), and for which
    /// session (nil: not a session's host).
    static func labsHost(_ req: Request) -> (isLabs: Bool, session: UUID?) {
        guard let labs = req.application.platformConfig.labsURL, let labsHost = labs.host?.lowercased(),
              var host = req.headers.first(name: .host)?.lowercased() else { return (false, nil) }
        let port = labs.port ?? (labs.scheme == "https" ? 443 : 80)
        if host.hasSuffix(":\(port)") { host.removeLast(":\(port)".count) }
        if host.hasSuffix(".") { host.removeLast() }
        if host == labsHost { return (true, nil) }
        guard host.hasSuffix("." + labsHost) else { return (false, nil) }
        let name = host.dropLast(labsHost.count + 1)
        return (true, name.contains(".") ? nil : UUID(uuidString: String(name)))
    }

    /// GET /labs/sessions/{id}/open-lab (the owner, on the platform's origin): to JupyterLab, on the labs origin
    /// with a fresh ticket when there is one.
    @Sendable static func open(req: Request) async throws -> Response {
        let (session, user) = try await req.labSession()
        let id = try session.requireID()
        guard let labs = req.application.platformConfig.labsURL else { return req.redirect(to: SitePath.labProxy(.id(id)).url + "lab") }
        guard session.status == .running, let key = req.session.id,
              let signIn = try await SessionRecord.query(on: req.db).filter(\.$key == key).first()?.id else { return req.redirect(to: .labSession(.id(id))) }
        let holder = Holder(user: try user.requireID(), signIn: signIn)
        let ticket = sign("ticket", session: id, for: holder, until: req.now.addingTimeInterval(ticketSeconds), secret: req.application.platformSecret, nonce: UUID())
        let headers: HTTPHeaders = ["Location": sessionOrigin(id, labs: labs) + enterPath(id) + "?ticket=" + ticket, "Cache-Control": "no-store",
                                    "Referrer-Policy": "no-referrer"]
        return Response(status: .seeOther, headers: headers)
    }

    /// Everything that comes to the labs domain: at a session's host, a ticket exchanged for its cookie, or a request
    /// to its JupyterLab with that cookie; nothing else (404).
    struct Middleware: Vapor.Middleware {
        /// Anything not for the labs domain goes on from the event loop (see `RequestMetricsMiddleware`).
        func respond(to req: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
            let (isLabs, hostSession) = labsHost(req)
            guard isLabs else { return next.respond(to: req) }
            return req.eventLoop.makeFutureWithTask { try await Self.answer(req, hostSession: hostSession) }
        }

        private static func answer(_ req: Request, hostSession: UUID?) async throws -> Response {
            let parts = req.url.path.split(separator: "/", omittingEmptySubsequences: false)
            guard let id = hostSession, parts.count >= 5, parts[1] == "labs", parts[2] == "sessions", UUID(uuidString: String(parts[3])) == id,
                  let session = try await LabSession.find(id, on: req.db), let labs = req.application.platformConfig.labsURL else { throw Abort(.notFound) }
            let secret = req.application.platformSecret, now = req.now, https = labs.scheme == "https"
            if req.url.path == enterPath(id) || req.url.path.lowercased() == enterPath(id).lowercased() {
                let ticket = verify(try? req.query.get(String.self, at: "ticket"), "ticket", session: id, at: now, secret: secret)
                guard req.method == .GET, session.status == .running, try await isOwner(ticket?.holder, of: session, on: req.db),
                      let holder = ticket?.holder, let nonce = ticket?.nonce else {
                    throw Abort(.forbidden, reason: "This link to the lab has run out; open the lab again from its page.")
                }
                // Once: a ticket seen again (a copy from a log, a history) gives nothing.
                guard try await take(ticket: nonce, at: now, app: req.application) else {
                    throw Abort(.forbidden, reason: "This link to the lab was already used; open the lab again from its page.")
                }
                let cookie = sign("cookie", session: id, for: holder, until: session.endsAt, secret: secret)
                let response = Response(status: .seeOther, headers: ["Location": SitePath.labProxy(.id(id)).url + "lab", "Cache-Control": "no-store",
                                                                     "Referrer-Policy": "no-referrer"])
                // Sent in the platform page's frame: SameSite=None over https (a labs domain on another site still gets
                // it; Secure is then required), Lax over plain http (a development machine, same site).
                response.cookies[cookieName(https: https)] = HTTPCookies.Value(string: cookie, expires: session.endsAt, path: "/",
                                                                            isSecure: https, isHTTPOnly: true, sameSite: https ? HTTPCookies.SameSitePolicy.none : .lax)
                return response
            }
            // The session's owner only (their cookie for this session); anyone else finds nothing.
            let pass = verify(req.cookies[cookieName(https: https)]?.string, "cookie", session: id, at: now, secret: secret)
            guard pass?.nonce == nil, try await isOwner(pass?.holder, of: session, on: req.db) else {
                throw Abort(.notFound)
            }
            if req.body.data == nil, ![.GET, .HEAD].contains(req.method) {
                _ = try await req.body.collect(max: Int(LabProxy.maxBody.value)).get()
            }
            let own = sessionOrigin(id, labs: labs)
            let response = try await LabProxy.relay(req, session: session, ownOrigin: { $0.lowercased() == own })
            // Framed by the platform's session page only; the rest of JupyterLab's policy (the sandbox it gives files
            // it serves) is kept.
            if let platform = req.application.platformConfig.publicURL {
                let kept = response.headers[canonicalForm: "Content-Security-Policy"].flatMap { $0.split(separator: ";") }
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.lowercased().hasPrefix("frame-ancestors") }
                response.headers.replaceOrAdd(name: "Content-Security-Policy", value: (kept + ["frame-ancestors \(origin(of: platform))"]).joined(separator: "; "))
            }
            return response
        }
    }
}

/// The platform's pages may be framed by its own pages only (a labs origin is same-site: it could otherwise frame a
/// signed-in page under something the person clicks) — and a session an LMS launched by that LMS too
/// (`EmbeddedSession`). What already says how it may be framed (a relayed JupyterLab on the platform's origin) is left
/// as it is.
struct FramingMiddleware: Middleware {
    func respond(to req: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        next.respond(to: req).map { Self.frame($0, for: req) }
    }

    private static func frame(_ response: Response, for req: Request) -> Response {
        EmbeddedSession.apply(to: response, for: req)
        if !response.headers.contains(name: "Content-Security-Policy") {
            response.headers.add(name: "Content-Security-Policy", value: "frame-ancestors 'self'")
        }
        // A page that says itself who may frame it (an LMS's registration page) is not narrowed by the older header.
        let ownRule = response.headers["Content-Security-Policy"].flatMap { $0.split(separator: ";") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .contains { $0.lowercased().hasPrefix("frame-ancestors") && $0 != "frame-ancestors 'self'" }
        if !ownRule, !response.headers.contains(name: "X-Frame-Options") { response.headers.add(name: "X-Frame-Options", value: "SAMEORIGIN") }
        return response
    }
}
