// Checks an email and password. An unknown email costs the same bcrypt work as a wrong password, so timing tells
// nothing about which accounts exist.
import Fluent
import SQLKit
import Vapor

enum Credentials {
    /// A bcrypt hash of a random password, verified against when the account does not exist.
    private static let decoyHash = "$2b$12$QbZ9jNRGvvB2wsfnxcoWPOL./flTBYqjQzD3mb4IPfanzodZnZzbO"

    static func user(email: String, password: String, on request: Request) async throws -> User? {
        let normalised = User.normalise(email: email)
        let user = normalised.isEmpty ? nil : try await User.query(on: request.db).filter(\.$email == normalised).first()
        let hash = user?.passwordHash ?? decoyHash
        let matches = (try? await request.password.async.verify(password, created: hash)) ?? false
        guard let user, user.passwordHash != nil, matches, user.isActive else { return nil }
        return user
    }

    /// How a session was begun.
    enum SignInMethod: String, Sendable {
        case password, provider, lms
    }

    /// A new web session for `user` (a fresh session id: no fixation), stamped with when and how it began.
    /// The session this browser came with, whoever's it was, ends on the server first: a reply still on its way to an
    /// earlier request sets that session's cookie again as it arrives, and on a shared computer that cookie must then
    /// sign nobody in, not the last person (nor open their labs, whose passes hold to that sign-in).
    static func startSession(_ user: User, on req: Request, now: Date = Date(), by method: SignInMethod = .password) async throws {
        if req.hasSession, let earlier = req.session.id {
            try await req.application.sessions.driver.deleteSession(earlier, for: req).get()
        }
        req.session.id = nil
        // Nothing an earlier sign-in in this browser left (another person's notice, provider sign-out, LMS) is this
        // one's. What is the browser's, not a person's, goes on: the forms' token (the site's other open pages) and
        // the value single sign-ons it started are bound to.
        let kept = [CSRF.sessionKey, SignInOptions.browserKey].map { ($0, req.session.data[$0]) }
        req.session.data = SessionData()
        for (key, value) in kept { req.session.data[key] = value }
        req.auth.login(user)
        req.session.data[signedInKey] = String(now.timeIntervalSince1970)
        req.session.data[signedInByKey] = method.rawValue
        stampDay(req)
    }

    /// Notes the day (UTC) in a signed-in session, when it is not already there: one write a day, which sends its
    /// cookie again with a fresh Max-Age.
    static func stampDay(_ req: Request) {
        let day = String(Int((req.now.timeIntervalSince1970 / 86_400).rounded(.down)))
        if req.session.data[dayKey] != day { req.session.data[dayKey] = day }
    }

    private static let dayKey = "seenOnDay"

    /// What a session's person comes to: signed in; not signed in (no such person, or deactivated: the session
    /// stays, so a reactivated person is back); or a session that no longer holds, to end. A session holds while it
    /// was not begun before the password changed; begun with a password, only while passwords are allowed for the
    /// person's domain (a provider may switch them off: such sessions end then, not when they expire); begun by an
    /// LMS's launch, only while that LMS is registered and not switched off since.
    enum SessionPerson {
        case signedIn(User), nobody, outdated
    }

    /// The session's person and everything that decides whether the session holds, in one statement (every page
    /// of a signed-in person asks): the person; the domains of enabled providers that switched passwords off; the
    /// registration of the LMS whose launch began the session, if one did.
    static func sessionPerson(_ userID: UUID, session data: SessionData, on db: any Database) async throws -> SessionPerson {
        let sql = try db.sqlDatabase()
        let launched = data[launchedByKey]
        let registrationID = launched.flatMap(UUID.init(uuidString:))
        let domains: SQLQueryString = sql.dialect.name == "postgresql" ? "string_agg(email_domains, ',')" : "group_concat(email_domains, ',')"
        guard let row = try await sql.raw("""
            SELECT u.*,
              (SELECT \(domains) FROM identity_providers WHERE enabled = \(bind: true) AND password_sign_in_off = \(bind: true)) AS password_off_domains,
              (SELECT enabled FROM lti_registrations WHERE id = \(bind: registrationID)) AS lms_enabled,
              (SELECT switched_off_at FROM lti_registrations WHERE id = \(bind: registrationID)) AS lms_switched_off_at
            FROM users u WHERE u.id = \(bind: userID)
            """).first() else { return .nobody }
        let user = try row.decode(fluentModel: User.self)
        guard user.isActive else { return .nobody }
        let stamp = data[signedInKey].flatMap(Double.init)
        if let changed = user.credentialsChangedAt {
            guard let stamp, stamp + 0.001 >= changed.timeIntervalSince1970 else { return .outdated }  // stored dates may lose sub-millisecond precision
        }
        // Sessions from before the method was kept count as password sessions. Administrators keep their passwords.
        if data[signedInByKey] ?? SignInMethod.password.rawValue == SignInMethod.password.rawValue, !user.isAdmin,
           let at = user.email.lastIndex(of: "@"),
           try row.decode(column: "password_off_domains", as: String?.self)?.split(separator: ",").contains(user.email[user.email.index(after: at)...]) == true {
            return .outdated
        }
        guard launched != nil else {
            // A session shown inside an LMS from before the LMS was kept with it cannot be ended with that LMS: over.
            return data[EmbeddedSession.framedByKey] == nil ? .signedIn(user) : .outdated
        }
        guard registrationID != nil, try row.decode(column: "lms_enabled", as: Bool?.self) == true, let stamp else { return .outdated }
        if let switchedOff = try row.decode(column: "lms_switched_off_at", as: Date?.self), !(stamp > switchedOff.timeIntervalSince1970) { return .outdated }
        return .signedIn(user)
    }

    /// The session key naming the LMS registration whose launch began the session.
    static let launchedByKey = "ltiLaunchedBy"

    /// Where a request's credentials came from: how the session (or the key's) began, and for an LMS's launch, that
    /// LMS. A key made with them carries the same.
    struct Origin: Sendable, Equatable {
        var method: SignInMethod
        var lms: UUID?

        static let password = Origin(method: .password, lms: nil)
    }

    /// The origin of the bearer key a request came with.
    struct BearerOrigin: StorageKey { typealias Value = Origin }

    /// Passwords switched off for `domains`: the keys a password made for their people (not administrators: they keep
    /// their passwords; a key from before keys recorded it counts as a password's) are revoked, as a password's sessions and 30-day tokens end (`sessionPerson`, `APIKeys`).
    static func passwordsTurnedOff(for domains: [String], on db: any Database, now: Date) async throws {
        guard !domains.isEmpty else { return }
        // The domain's addresses, matched exactly: LIKE with its wildcards escaped.
        let matches: [SQLQueryString] = domains.map { domain in
            let escaped = domain.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            return "email LIKE \(bind: "%@" + escaped) ESCAPE '\\'"
        }
        let people: SQLQueryString = "SELECT id FROM users WHERE is_admin = \(bind: false) AND (" + matches.joined(separator: " OR ") + ")"
        for table in [APIKey.schema, AIKey.schema] {
            try await db.sqlDatabase().raw("""
                UPDATE \(ident: table) SET revoked_at = \(bind: now)
                WHERE revoked_at IS NULL AND (made_with IS NULL OR made_with = \(bind: SignInMethod.password.rawValue)) AND user_id IN (\(people))
                """).run()
        }
    }

    /// The password was set, reset or changed: stamps it, ends every session begun before now (at their next request)
    /// and revokes every key of the person's — 30-day tokens, personal API keys and AI gateway keys — since whoever
    /// held a stolen session could have made one; the session making the change (if any) goes on.
    static func passwordChanged(_ user: User, hash: String, on writes: Writes, req: Request?, now: Date = Date()) async throws {
        try await writes.transaction { db in
            user.passwordHash = hash
            user.credentialsChangedAt = now
            try await user.save(on: db)
            try await APIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$revokedAt == nil).set(\.$revokedAt, to: now).update()
            try await AIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$revokedAt == nil).set(\.$revokedAt, to: now).update()
        }
        if let req { try await startSession(user, on: req, now: now) }
    }

    private static let signedInKey = "signedInAt"
    static let signedInByKey = "signedInBy"
}

extension Request {
    /// Where this request's credentials came from: its bearer key's origin, or its session's (a session from before
    /// the method was kept counts as a password's).
    var credentialOrigin: Credentials.Origin {
        if let traced = storage[Credentials.BearerOrigin.self] { return traced }
        guard hasSession else { return .password }
        let method = session.data[Credentials.signedInByKey].flatMap(Credentials.SignInMethod.init(rawValue:)) ?? .password
        return Credentials.Origin(method: method, lms: session.data[Credentials.launchedByKey].flatMap(UUID.init(uuidString:)))
    }
}
