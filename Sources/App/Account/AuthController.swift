// Signing in and out on the web, and getting an API token. Failed attempts are throttled per account and per
// address and logged; a successful sign-in gets a new session id (no session fixation).
import Fluent
import Vapor

enum AuthController {
    struct SignInForm: Content {
        var email: String
        var password: String
        var next: String?
    }

    struct TokenRequest: APIInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password }
        typealias Fields = CodingKeys
        var email: String
        var password: String
        static let schema = JSONSchema.object(["email": .string(format: "email"), "password": .string()], required: ["email", "password"])
    }

    struct TokenDTO: Content {
        var token: String
        var expiresAt: Date?
    }

    @Sendable static func signInPage(req: Request) async throws -> View {
        try await req.view.render("signin", SignInPage(page: PageContext(req), email: "", next: SitePath.safeNext(req.query[String.self, at: "next"]),
                                                       providers: try await providers(on: req)))
    }

    @Sendable static func signIn(req: Request) async throws -> Response {
        let form = try req.content.decode(SignInForm.self)
        let next = SitePath.safeNext(form.next)
        let checked = Date()  // the session's stamp: a password change that commits after this time ends it
        switch try await attempt(email: form.email, password: form.password, on: req) {
        case .success(let user):
            try await Credentials.startSession(user, on: req, now: checked)
            return req.redirect(to: next, redirectType: .normal)
        case .failure(let failure):
            let page = SignInPage(page: PageContext(req), email: form.email, next: next, error: failure.reason, providers: try await providers(on: req))
            return try await req.view.render("signin", page).encodeResponse(status: failure.status, for: req)
        }
    }

    /// The single sign-on providers' buttons.
    static func providers(on req: Request) async throws -> [SignInPage.Provider] {
        try await SignInOptions.providers(on: req.db).map { SignInPage.Provider(name: $0.name, action: SitePath.ssoStart(.id($0.id)).url) }
    }

    /// Ends the platform's session; after a single sign-on, the provider's session too (its end-session endpoint).
    @Sendable static func signOut(req: Request) async throws -> Response {
        let providerSignOut = req.hasSession ? req.session.data[SignInOptions.endSessionKey] : nil
        req.auth.logout(User.self)
        req.session.destroy()
        return req.redirect(to: providerSignOut ?? SitePath.home.url, redirectType: .normal)
    }

    @Sendable static func issueToken(req: Request) async throws -> TokenDTO {
        let body = try req.content.decode(TokenRequest.self)
        let checked = Date()
        switch try await attempt(email: body.email, password: body.password, on: req) {
        case .success(let user):
            let (token, key) = try await APIKeys.issue(to: user, name: "API token", kind: .session, origin: .password, on: req.db)
            // A password change that committed while this one was being checked revoked keys before this one existed.
            if let changed = try await User.find(user.requireID(), on: req.db)?.credentialsChangedAt, changed > checked {
                try await APIKeys.revoke(try key.requireID(), by: user, on: req.db)
                throw Abort(.unauthorized, reason: "The email or password is wrong.")
            }
            return TokenDTO(token: token, expiresAt: key.expiresAt)
        case .failure(let failure):
            throw failure
        }
    }

    /// Counts the attempt with the throttle (refused while paused), then checks the password.
    private static func attempt(email: String, password: String, on req: Request) async throws -> Result<User, Abort> {
        let throttle = req.application.signInThrottle, now = Date()
        let keys = ["email:" + User.normalise(email: email), "ip:" + (req.remoteAddress?.ipAddress ?? "unknown")]
        if let wait = throttle.begin(keys, now: now) {
            req.logger.warning("Sign-in refused while throttled: \(User.normalise(email: email)) from \(keys[1]) (\(wait) s left)")
            return .failure(Abort(.tooManyRequests, headers: ["Retry-After": String(wait)],
                                  reason: "Too many failed sign-ins. Wait \(wait) seconds and try again, or ask an administrator for a reset link."))
        }
        if let provider = try await SignInOptions.passwordSignInOff(for: email, on: req.db) {
            return .failure(Abort(.forbidden, reason: "This email address signs in with \(provider): use its button below."))
        }
        guard let user = try await Credentials.user(email: email, password: password, on: req) else {
            req.logger.notice("Failed sign-in for \(User.normalise(email: email)) from \(keys[1])")
            return .failure(Abort(.unauthorized, reason: "The email or password is wrong."))
        }
        throttle.succeeded(account: keys[0], others: [keys[1]], now: now)
        return .success(user)
    }
}

extension AuthController.TokenDTO: APIBody {
    static let schemaName = "Token"
    static let schema = JSONSchema.object(["token": .string(), "expiresAt": .string(format: "date-time")], required: ["token"])
    static let samples = [Self(token: "cc_abcdef.secret", expiresAt: Sample.date)]
}
