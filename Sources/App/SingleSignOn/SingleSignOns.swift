// Signing in through an OpenID Connect provider: the authorization code flow with PKCE (S256), state and nonce.
// Starting stores the sign-in (state hashed, nonce, verifier, a hash of a random value kept in this browser's
// session, where to go after; 10 minutes) and sends the browser to the provider. The callback takes that sign-in once
// (a conditional UPDATE), only in the browser that started it (no login CSRF), exchanges the code (client secret by
// HTTP Basic, the verifier), verifies the id_token (Identity's TokenVerifier: the provider's key set, issuer,
// audience, expiry with the leeway, the nonce), then finds the person: by issuer and subject; else, when the provider
// allows it, by a verified email in its domains (an existing account linked, or a new one created). A refusal writes
// nothing and says why on a page.
import AsyncHTTPClient
import Fluent
import Foundation
import Identity
import SQLKit
import Vapor

enum SingleSignOns {
    static let lifetime: TimeInterval = 600
    static let browserKey = SignInOptions.browserKey
    /// Sign-ins a browser may have under way at once.
    static let openPerBrowser = 5

    struct CallbackQuery: Content {
        var state: String?
        var code: String?
        var error: String?
        var error_description: String?
    }

    /// Stores a new sign-in and returns the provider's authorization URL to send the browser to.
    static func start(_ providerID: UUID, next: String?, req: Request) async throws -> String {
        guard let provider = try await IdentityProvider.find(providerID, on: req.db), provider.enabled else { throw Abort(.notFound) }
        let config = req.application.platformConfig
        guard config.publicURL != nil else {
            throw Abort(.serviceUnavailable, reason: "Single sign-on needs the platform's public address (CAMPUSCLOUD_PUBLIC_URL); tell an administrator.")
        }
        let state = PKCE.randomToken(), verifier = PKCE.verifier()
        let browser = req.session.data[browserKey] ?? PKCE.randomToken()
        req.session.data[browserKey] = browser
        let now = req.now
        // Sign-ins never finished are of no use after their lifetime: cleared here. A browser keeps a few under way
        // (tabs), never a pile: its oldest go first.
        try await SSOSignIn.query(on: req.db).filter(\.$expiresAt < now).delete()
        let open = try await SSOSignIn.query(on: req.db).filter(\.$browserHash == TokenCodec.hash(browser)).filter(\.$usedAt == nil)
            .sort(\.$expiresAt, .descending).all()
        for old in open.dropFirst(openPerBrowser - 1) { try await old.delete(on: req.db) }
        let signIn = SSOSignIn()
        signIn.$provider.id = providerID
        signIn.stateHash = TokenCodec.hash(state)
        signIn.nonce = PKCE.randomToken()
        signIn.codeVerifier = verifier
        signIn.browserHash = TokenCodec.hash(browser)
        signIn.next = SitePath.safeNext(next)
        signIn.expiresAt = now.addingTimeInterval(lifetime)
        try await signIn.create(on: req.db)

        guard var address = URLComponents(string: provider.authorizationEndpoint) else { throw Abort(.internalServerError) }
        address.queryItems = (address.queryItems ?? []) + [
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: provider.clientID),
            URLQueryItem(name: "redirect_uri", value: redirectURI(providerID, config: config)),
            URLQueryItem(name: "scope", value: provider.scopes), URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "nonce", value: signIn.nonce), URLQueryItem(name: "code_challenge", value: PKCE.challenge(for: verifier)),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        guard let url = address.url else { throw Abort(.internalServerError) }
        return url.absoluteString
    }

    static func redirectURI(_ providerID: UUID, config: AppConfig) -> String {
        config.absolute(SitePath.ssoCallback(.id(providerID)).url)
    }

    /// What a finished sign-in gives: the person, where to go, and the provider's sign-out address (if it has one).
    struct Finished {
        var user: User
        var next: String
        var endSession: String?
    }

    static func finish(_ providerID: UUID, query: CallbackQuery, req: Request) async throws -> Finished {
        let startAgain = "Start again from the sign-in page."
        guard let state = query.state, !state.isEmpty, state.count <= 200 else {
            throw Abort(.badRequest, reason: "This sign-in came back without its state. \(startAgain)")
        }
        guard let signIn = try await SSOSignIn.query(on: req.db).filter(\.$stateHash == TokenCodec.hash(state))
            .filter(\.$provider.$id == providerID).with(\.$provider).first() else {
            throw Abort(.badRequest, reason: "This sign-in is not one this platform started (or it is another provider's). \(startAgain)")
        }
        guard let browser = req.session.data[browserKey], TokenCodec.matches(browser, hash: signIn.browserHash) else {
            throw Abort(.badRequest, reason: "This sign-in was started in another browser; it is finished only where it began. \(startAgain)")
        }
        let now = req.now
        let taken = try await req.db.sqlDatabase().raw("""
            UPDATE sso_sign_ins SET used_at = \(bind: now) WHERE id = \(bind: signIn.requireID()) AND used_at IS NULL AND expires_at > \(bind: now) RETURNING id
            """).all()
        guard !taken.isEmpty else { throw Abort(.badRequest, reason: "This sign-in has expired or was used already. \(startAgain)") }
        let provider = signIn.provider
        if let error = query.error {
            let detail = query.error_description.map { ": \($0.prefix(200))" } ?? ""
            throw Abort(.badRequest, reason: "\(provider.name) did not sign you in (\(error.prefix(60))\(detail)). \(startAgain)")
        }
        guard let code = query.code, !code.isEmpty, code.count <= 4096 else {
            throw Abort(.badRequest, reason: "\(provider.name) sent no authorization code back. \(startAgain)")
        }
        guard provider.enabled else { throw Abort(.notFound) }
        guard let secret = IdentityProviders.secret(of: provider) else {
            req.logger.error("Single sign-on with \(provider.name): the variable \(provider.secretEnv) holding its client secret is not set in this process")
            throw Abort(.serviceUnavailable, reason: "The platform is missing its secret for \(provider.name); tell an administrator.")
        }
        let config = req.application.platformConfig
        let idToken = try await exchange(code: code, verifier: signIn.codeVerifier, provider: provider, secret: secret,
                                         redirectURI: redirectURI(providerID, config: config), app: req.application)
        guard let keySet = URL(string: provider.jwksURI) else { throw Abort(.internalServerError) }
        let expectation = TokenExpectation(issuer: provider.issuer, clientID: provider.clientID, keySetURL: keySet, nonce: signIn.nonce,
                                           leeway: TimeInterval(config.tokenLeeway), algorithms: provider.algorithmSet)
        let claims: TokenClaims
        do {
            claims = try await TokenVerifier.verify(idToken, expecting: expectation, keys: req.application.keySets, now: now)
        } catch {
            req.logger.warning("Single sign-on with \(provider.name) refused: \(error)")
            throw Abort(.badRequest, reason: "\(error) \(startAgain)")
        }
        let user: User
        do {
            user = try await account(for: claims, provider: provider, writes: req.writes, now: now)
        } catch let error as any DatabaseError where error.isConstraintFailure {
            // The same person's first sign-in finished at the same moment in another request: found now.
            user = try await account(for: claims, provider: provider, writes: req.writes, now: now)
        }
        return Finished(user: user, next: signIn.next, endSession: endSessionURL(provider, idToken: idToken, config: config))
    }

    /// The authorization code for the id_token, at the provider's token endpoint (client_secret_basic: the id and the
    /// secret form-encoded, then joined, RFC 6749 2.3.1).
    static func exchange(code: String, verifier: String, provider: IdentityProvider, secret: String, redirectURI: String,
                         app: Application) async throws -> String {
        var request = HTTPClientRequest(url: provider.tokenEndpoint)
        request.method = .POST
        let basic = Data("\(formEncode(provider.clientID)):\(formEncode(secret))".utf8).base64EncodedString()
        request.headers.add(name: .authorization, value: "Basic \(basic)")
        request.headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
        request.headers.add(name: .accept, value: "application/json")
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier)]
        request.body = .bytes(ByteBuffer(string: form.map { "\($0)=\(formEncode($1))" }.joined(separator: "&")))
        let answer: [String: Any]
        let status: HTTPResponseStatus
        do {
            let response = try await app.identityHTTP.send(request, SingleSignOnHTTP.timeout)
            status = response.status
            let body = try await response.body.collect(upTo: SingleSignOnHTTP.largest)
            answer = (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:]
        } catch {
            app.logger.warning("Single sign-on with \(provider.name): the token endpoint did not answer: \(error)")
            throw Abort(.serviceUnavailable, reason: "\(provider.name) did not answer the platform. Try again in a minute.")
        }
        guard status == .ok, let token = answer["id_token"] as? String else {
            let error = (answer["error"] as? String).map { String($0.prefix(60)) } ?? "status \(status.code)"
            app.logger.warning("Single sign-on with \(provider.name): the token endpoint refused the code: \(error)")
            throw Abort(.badRequest, reason: "\(provider.name) did not accept this sign-in (\(error)). Start again from the sign-in page.")
        }
        return token
    }

    static func formEncode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? ""
    }

    /// Where signing out sends the browser: the provider's end-session endpoint with the id_token as hint and the
    /// platform as the place to come back to.
    static func endSessionURL(_ provider: IdentityProvider, idToken: String, config: AppConfig) -> String? {
        guard let endpoint = provider.endSessionEndpoint, var address = URLComponents(string: endpoint) else { return nil }
        address.queryItems = (address.queryItems ?? []) + [
            URLQueryItem(name: "id_token_hint", value: idToken), URLQueryItem(name: "client_id", value: provider.clientID),
            URLQueryItem(name: "post_logout_redirect_uri", value: config.absolute(SitePath.home.url)),
        ]
        return address.url?.absoluteString
    }

    /// The account of the person the verified claims name (see the top of the file), in one transaction.
    static func account(for claims: TokenClaims, provider: IdentityProvider, writes: Writes, now: Date) async throws -> User {
        try await writes.transaction { db in
            let user = try await person(for: claims, provider: provider, on: db, now: now)
            try await IdentityProviders.applyRoleRule(provider, claims: claims, to: user, on: db)
            return user
        }
    }

    /// The person the claims name: found by the identity, linked by email, or created.
    static func person(for claims: TokenClaims, provider: IdentityProvider, on db: any Database, now: Date) async throws -> User {
        guard let subject = claims.subject else { throw Abort(.badRequest) }
        if let identity = try await ExternalIdentity.query(on: db).filter(\.$issuer == provider.issuer)
            .filter(\.$subject == subject).with(\.$user).first() {
            guard identity.user.isActive else {
                throw Abort(.forbidden, reason: "Your account here is switched off. Ask an administrator.")
            }
            identity.lastSeenAt = now
            try await identity.save(on: db)
            return identity.user
        }
        let domains = provider.domains.isEmpty ? "" : " at \(provider.domains.joined(separator: " or "))"
        guard let email = claims.email.map(User.normalise), claims.emailVerified == true, InputChecks.isPlausibleEmail(email),
              provider.covers(email: email) else {
            throw Abort(.forbidden, reason: "\(provider.name) did not vouch for an email address\(domains) of yours, so no account here can be matched to you. Ask an administrator.")
        }
        if let user = try await User.query(on: db).filter(\.$email == email).first() {
            // An address can change hands: an account that already has an identity at this provider is not
            // given to another subject of it by email.
            if try await ExternalIdentity.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$issuer == provider.issuer).first() != nil {
                throw Abort(.forbidden, reason: "The account for \(email) belongs to another \(provider.name) identity; an administrator can sort it out.")
            }
            guard provider.linkByEmail else {
                throw Abort(.forbidden, reason: "An account for \(email) exists here, and \(provider.name) is not set to sign in to existing accounts. Sign in with your password, or ask an administrator.")
            }
            // An administrator's account is never taken over through an email address: it signs in as before.
            guard !user.isAdmin else {
                throw Abort(.forbidden, reason: "The account for \(email) is an administrator's, which single sign-on does not link by email. Sign in with its password.")
            }
            guard user.isActive else { throw Abort(.forbidden, reason: "Your account here is switched off. Ask an administrator.") }
            try await ExternalIdentity(userID: user.requireID(), issuer: provider.issuer, subject: subject, at: now).create(on: db)
            return user
        }
        guard provider.createAccounts else {
            throw Abort(.forbidden, reason: "There is no account for \(email) here, and \(provider.name) is not set to create accounts. Ask your instructor or an administrator to add you.")
        }
        let name = claims.name ?? [claims.givenName, claims.familyName].compactMap { $0 }.joined(separator: " ")
        let user = User(email: email, displayName: String((name.trimmingCharacters(in: .whitespaces).isEmpty ? email : name).prefix(100)),
                        passwordHash: nil)
        try await user.create(on: db)
        try await ExternalIdentity(userID: user.requireID(), issuer: provider.issuer, subject: subject, at: now).create(on: db)
        return user
    }
}

extension Application {
    private struct KeySetsKey: StorageKey { typealias Value = KeySetCache }

    /// The identity providers' key sets, kept as their Cache-Control says (set in `configure`).
    var keySets: KeySetCache {
        get { storage[KeySetsKey.self]! }
        set { storage[KeySetsKey.self] = newValue }
    }
}
