// An LTI 1.3 launch (Core 1.3, the OIDC third-party initiated login): the LMS sends the browser to /lti/login; the
// platform stores a state (hashed) and a nonce, puts the state in a cookie, and sends the browser on to the LMS's
// authorization endpoint; the LMS posts an id_token and the state to /lti/launch. There, in this order: the state is
// the cookie's and is taken once; the token's unverified issuer and audience pick the registration, then Identity
// verifies it whole (the LMS's key set, issuer, audience, azp, expiry and issue time with the leeway, the nonce) and
// reads the launch (message type, version 1.3.0, a registered deployment, roles, subject, resource link). Only then,
// in one transaction: the person (by issuer and subject; by email when the registration links), the course (the LMS
// course's; created on an instructor's first launch; a student's launch into a course not set up yet is refused),
// the membership with the LMS's role, and a new session. A refused launch writes nothing but the state's use.
import Fluent
import Foundation
import Identity
import SQLKit
import Vapor

enum LTILaunches {
    static let lifetime: TimeInterval = 600
    /// A login whose state may go through the LMS's storage (readable there) expires sooner.
    static let storageLifetime: TimeInterval = 180
    /// Logins under way at once, platform-wide: beyond it (someone filling the table) a login is refused for a while.
    static let mostOpen = 10_000

    /// The cookie that carries a login's state to its launch (the LMS posts the launch cross-site): one per login, so
    /// two tool links loading on one LMS page do not overwrite each other's; `__Host-` over https, so no sibling
    /// host below the same domain can plant one.
    static func stateCookie(for state: String, https: Bool) -> String {
        (https ? "__Host-" : "") + "lti_state_" + TokenCodec.hash(state).prefix(16).lowercased()
    }

    /// SameSite=None (so Secure) and Partitioned where browsers keep such cookies (https, a loopback name); plain
    /// http elsewhere (development) cannot: Lax there.
    static func cookieAttributes(_ config: AppConfig) -> String {
        config.keepsCrossSiteCookies ? "Path=/; HttpOnly; Secure; SameSite=None; Partitioned" : "Path=/; HttpOnly; SameSite=Lax"
    }

    /// The state cookie's Set-Cookie value (`nil`: its removal).
    static func setStateCookie(_ state: String, value: String?, _ config: AppConfig) -> String {
        "\(stateCookie(for: state, https: config.servesHTTPS))=\(value ?? ""); Max-Age=\(value == nil ? 0 : Int(lifetime)); \(cookieAttributes(config))"
    }

    /// A query's "+" written %2B (URLComponents leaves it, and form decoding reads it as a space: a hint with a "+").
    static func plusEncoded(_ components: inout URLComponents) {
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
    }

    /// The key the LMS's storage keeps a state under.
    static func storageKey(for state: String) -> String { "cc_state_" + TokenCodec.hash(state).prefix(16).lowercased() }

    /// A frame name the LMS may give as its storage (`lti_storage_target`: `_parent` or a frame's name).
    static func storageTarget(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.count <= 64,
              value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else { return nil }
        return value
    }

    struct LoginRequest: Content {
        var iss: String?
        var login_hint: String?
        var target_link_uri: String?
        var lti_message_hint: String?
        var client_id: String?
        var lti_deployment_id: String?
        var lti_storage_target: String?
        /// Set by the login's own page on the new-window link it offers when the LMS's storage did not answer.
        var lti_storage: String?
    }

    /// Where a login sends the browser: straight to the LMS's authorization endpoint, or (inside a frame, where cookies
    /// may not be kept) through a page that checks, uses the LMS's storage, or offers a new window.
    enum LoginAnswer {
        case redirect(String)
        case page(LTIFramePage)
    }

    /// Login initiation: where to send the browser, and the Set-Cookie header carrying the state.
    static func login(_ request: LoginRequest, inFrame: Bool, req: Request) async throws -> (answer: LoginAnswer, setCookie: String) {
        guard let issuer = request.iss, !issuer.isEmpty, let hint = request.login_hint, !hint.isEmpty,
              let target = request.target_link_uri, !target.isEmpty else {
            throw Abort(.badRequest, reason: "This LTI login lacks iss, login_hint or target_link_uri; the LMS's launch is not an LTI 1.3 login.")
        }
        var query = LTIRegistration.query(on: req.db).filter(\.$issuer == issuer)
        if let client = request.client_id, !client.isEmpty { query = query.filter(\.$clientID == client) }
        let found = try await query.limit(2).all()
        guard let registration = found.first else {
            throw Abort(.badRequest, reason: "The LMS \(issuer.prefix(200)) is not registered here; an administrator adds it on the LTI page.")
        }
        guard found.count == 1 else {
            throw Abort(.badRequest, reason: "The LMS \(issuer.prefix(200)) has several registrations here and did not say which (client_id).")
        }
        guard registration.enabled else { throw switchedOff(registration) }
        if request.lti_storage == "unanswered" {
            // The login's page inside the LMS asked the LMS's storage and got no answer in time (a storage frame on
            // another origin than the authorization endpoint's: for Canvas that is sso.canvaslms.com), so this login
            // came as a new window.
            let origin = EmbeddedSession.origins([registration.authLoginURL], allowHTTP: true).first ?? "?"
            req.logger.warning("LTI storage of \(registration.name) did not answer from \(origin) (its authorization URL's origin); the launch went on in a new window")
        }
        let config = req.application.platformConfig
        guard config.publicURL != nil else {
            throw Abort(.serviceUnavailable, reason: "LTI needs the platform's public address (CAMPUSCLOUD_PUBLIC_URL); tell an administrator.")
        }
        let now = req.now
        try await LTILaunchState.query(on: req.db).filter(\.$expiresAt < now).delete()
        guard try await LTILaunchState.query(on: req.db).filter(\.$usedAt == nil).count() < mostOpen else {
            req.logger.warning("LTI logins refused: \(mostOpen) are under way")
            throw Abort(.serviceUnavailable, reason: "Too many LTI launches are under way; try again in a few minutes.")
        }
        let state = PKCE.randomToken(), nonce = PKCE.randomToken()
        let row = LTILaunchState()
        row.$registration.id = try registration.requireID()
        row.storageTarget = storageTarget(request.lti_storage_target)
        (row.stateHash, row.nonce, row.expiresAt) = (TokenCodec.hash(state), nonce, now.addingTimeInterval(row.storageTarget == nil ? lifetime : storageLifetime))
        try await row.create(on: req.db)

        guard var address = URLComponents(string: registration.authLoginURL) else { throw Abort(.internalServerError) }
        var items = [("scope", "openid"), ("response_type", "id_token"), ("response_mode", "form_post"), ("prompt", "none"),
                     ("client_id", registration.clientID), ("redirect_uri", config.absolute(SitePath.ltiLaunch.url)),
                     ("login_hint", hint), ("state", state), ("nonce", nonce)]
        if let message = request.lti_message_hint { items.append(("lti_message_hint", message)) }
        address.queryItems = (address.queryItems ?? []) + items.map { URLQueryItem(name: $0.0, value: $0.1) }
        plusEncoded(&address)
        guard let url = address.url else { throw Abort(.internalServerError) }
        let setCookie = setStateCookie(state, value: state, config)
        guard inFrame || row.storageTarget != nil else { return (.redirect(url.absoluteString), setCookie) }
        // The same login as a window of its own, for a frame that keeps no cookies and offers no storage.
        var again = URLComponents()
        again.path = SitePath.ltiLogin.url
        again.queryItems = [("iss", issuer), ("login_hint", hint), ("target_link_uri", target), ("lti_message_hint", request.lti_message_hint),
                            ("client_id", request.client_id), ("lti_deployment_id", request.lti_deployment_id),
                            ("lti_storage", row.storageTarget == nil ? nil : "unanswered")]
            .compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        plusEncoded(&again)
        let page = LTIFramePage(login: true, authorization: url.absoluteString, newWindow: again.string, crossSiteCookies: config.keepsCrossSiteCookies,
                                storageTarget: row.storageTarget, storageOrigin: EmbeddedSession.origins([registration.authLoginURL], allowHTTP: true).first,
                                storageKey: storageKey(for: state), state: state)
        return (.page(page), setCookie)
    }

    struct LaunchForm: Content {
        var id_token: String?
        var state: String?
        /// Posted by the platform's own page once the LMS's storage held the state (same origin only).
        var storage_checked: String?
    }

    /// What a launch answers: landed (the browser proven by the state cookie, or by the LMS's storage), or the page that
    /// looks in the LMS's storage first.
    enum LaunchAnswer {
        case landed(Landed, cookiesKept: Bool)
        case checkStorage(LTIFramePage, framedBy: [String])
    }

    /// What a launch gives: the person, the course, and where to land.
    struct Landed {
        var user: User
        var course: Course
        /// The LMS the launch came from.
        var registration: UUID
        var destination: String
        /// The LMS's web origins, which may frame the session's pages.
        var framedBy: [String] = []
    }

    static func launch(_ form: LaunchForm, req: Request) async throws -> LaunchAnswer {
        let again = "Open the tool from the LMS again."
        guard let token = form.id_token, !token.isEmpty, let state = form.state, !state.isEmpty, state.count <= 200 else {
            throw Abort(.badRequest, reason: "This launch lacks its id_token or state. \(again)")
        }
        guard let row = try await LTILaunchState.query(on: req.db).filter(\.$stateHash == TokenCodec.hash(state)).with(\.$registration).first() else {
            throw Abort(.badRequest, reason: "This launch does not answer a login this platform began. \(again)")
        }
        guard row.registration.enabled else { throw switchedOff(row.registration) }
        let config = req.application.platformConfig
        let cookieState = req.cookies[stateCookie(for: state, https: config.servesHTTPS)]?.string
        let cookiesKept = cookieState.map { TokenCodec.hash($0) == row.stateHash } ?? false
        if !cookiesKept {
            // Without the cookie, the browser proves it began the login by the LMS's storage holding the state, which
            // only the platform's page, inside the LMS's frame, can read; that page posts the launch again from this
            // site (a form from anywhere else carries another Origin).
            guard let target = row.storageTarget else {
                throw Abort(.badRequest, reason: "This launch came without the state this browser was given at login (its cookie was not kept, or the launch was sent from elsewhere). \(again)")
            }
            guard form.storage_checked == "1" else {
                // The token is verified first (the state not spent): the page that asks the storage is shown only for a
                // genuine launch, and framed only by its LMS's origins.
                let launch = try await verified(token, row: row, req: req, now: req.now)
                return .checkStorage(LTIFramePage(checkStorage: true, storageTarget: target,
                                                  storageOrigin: EmbeddedSession.origins([row.registration.authLoginURL], allowHTTP: true).first,
                                                  storageKey: storageKey(for: state), state: state, launch: SitePath.ltiLaunch.url, idToken: token),
                                     framedBy: framingOrigins(row.registration, launch))
            }
            guard sameOrigin(req, config) else {
                throw Abort(.badRequest, reason: "This launch was not confirmed by this site's page inside the LMS. \(again)")
            }
        }
        let now = req.now
        let taken = try await req.db.sqlDatabase().raw("""
            UPDATE lti_launch_states SET used_at = \(bind: now) WHERE id = \(bind: row.requireID()) AND used_at IS NULL AND expires_at > \(bind: now) RETURNING id
            """).all()
        guard !taken.isEmpty else { throw Abort(.badRequest, reason: "This launch has expired or was used already. \(again)") }
        let registration = row.registration

        let launch = try await verified(token, row: row, req: req, now: now)
        var landed = try await place(launch, registration: registration, writes: req.writes, now: now)
        landed.framedBy = framingOrigins(registration, launch)
        return .landed(landed, cookiesKept: cookiesKept)
    }

    /// The id_token verified whole against the login's registration and nonce (see the top of the file).
    static func verified(_ token: String, row: LTILaunchState, req: Request, now: Date) async throws -> LTILaunch {
        let registration = row.registration
        do {
            let origin = try TokenVerifier.unverifiedOrigin(of: token)
            guard origin.issuer == registration.issuer, origin.audiences.contains(registration.clientID) else {
                throw IdentityRefusal.wrongAudience
            }
            guard let keySet = URL(string: registration.keySetURL) else { throw IdentityRefusal.keySetUnavailable("its URL") }
            let expectation = TokenExpectation(issuer: registration.issuer, clientID: registration.clientID, keySetURL: keySet, nonce: row.nonce,
                                               leeway: TimeInterval(req.application.platformConfig.tokenLeeway))
            let claims = try await TokenVerifier.verify(token, expecting: expectation, keys: req.application.keySets, now: now)
            let deployments = try await LTIDeployment.query(on: req.db).filter(\.$registration.$id == registration.requireID()).all().map(\.deploymentID)
            return try LTILaunch(claims, deployments: Set(deployments))
        } catch let refusal as IdentityRefusal {
            req.logger.warning("LTI launch from \(registration.name) refused: \(refusal)")
            throw Abort(.badRequest, reason: "\(refusal) Open the tool from the LMS again.")
        }
    }

    static func switchedOff(_ registration: LTIRegistration) -> Abort {
        Abort(.forbidden, reason: "CampusCloud does not accept launches from \(registration.name) at the moment (an administrator switched it off).")
    }

    /// The LMS's pages that frame the tool: its issuer, its login endpoint, and where the launch says it returns to.
    static func framingOrigins(_ registration: LTIRegistration, _ launch: LTILaunch) -> [String] {
        EmbeddedSession.origins([registration.issuer, registration.authLoginURL, launch.returnURL, launch.deepLinking?.returnURL],
                                allowHTTP: registration.issuer.lowercased().hasPrefix("http://"))
    }

    /// Whether the request was sent by a page of this site (its Origin, and Sec-Fetch-Site where the browser sends it).
    static func sameOrigin(_ req: Request, _ config: AppConfig) -> Bool {
        guard let publicURL = config.publicURL, let own = EmbeddedSession.origins([publicURL.absoluteString], allowHTTP: true).first,
              req.headers.first(name: "Origin")?.lowercased() == own else { return false }
        return req.headers.first(name: "Sec-Fetch-Site").map { $0 == "same-origin" } ?? true
    }

    /// The person, the course and the membership the launch stands for, and where it lands, in one transaction: a
    /// resource link on its assignment (once the person may see it), a deep linking launch on its choice of assignments.
    static func place(_ launch: LTILaunch, registration: LTIRegistration, writes: Writes, now: Date) async throws -> Landed {
        guard let context = launch.context, !context.id.isEmpty else {
            throw Abort(.badRequest, reason: "The LMS sent this launch without its course (the context claim); open the tool from inside a course.")
        }
        let registrationID = try registration.requireID()
        return try await writes.transaction { db in
            let course: Course, link: LTIContext
            if let linked = try await LTIContext.query(on: db).filter(\.$registration.$id == registrationID)
                .filter(\.$deploymentID == launch.deploymentID).filter(\.$contextID == context.id).with(\.$course).first() {
                (course, link) = (linked.course, linked)
            } else {
                guard launch.role == .instructor else {
                    throw Abort(.forbidden, reason: "This LMS course is not set up in CampusCloud yet: its instructor opens the tool from the LMS first.")
                }
                course = try await createCourse(for: context, registration: registration, on: db, now: now)
                link = LTIContext(registrationID: registrationID, deploymentID: launch.deploymentID, contextID: context.id, courseID: try course.requireID())
                try await link.create(on: db)
            }
            // Its services' host: learnt from the first launch naming a service; a launch naming another is not
            // believed on that point (its service addresses are not kept).
            let services = try await pinServiceHost(launch, registration: registration, on: db)
            let user = try await person(LMSPerson(launch), registration: registration, on: db, now: now)
            try await admit(user, to: course, as: launch.role, by: try link.requireID(), on: db)
            // Its roster (NRPS): kept from the launch, read again when it is more than an hour old.
            if services, let roster = launch.rosterService?.membershipsURL, LTIServices.usable(roster, registration) {
                if link.membershipsURL != roster { link.membershipsURL = roster; try await link.save(on: db) }
                if (link.rosterSyncedAt ?? .distantPast) < now.addingTimeInterval(-LTIRosterSync.fresh) {
                    try await LTIRosterSync.queue(try link.requireID(), on: db, now: now)
                }
            }
            // Its line item container (AGS), where the tool finds or makes an assignment's grade column.
            if services, let service = launch.gradeService, service.scope.contains(LTIGradeSync.scoreScope), let container = service.lineItems,
               LTIServices.usable(container, registration),
               let scope = [LTIGradeSync.lineItemScope, LTIGradeSync.lineItemReadScope].first(where: service.scope.contains),
               (link.lineItemsURL, link.lineItemsScope) != (container, scope) {
                (link.lineItemsURL, link.lineItemsScope) = (container, scope)
                try await link.save(on: db)
            }
            switch launch.kind {
            case .deepLinking:
                let request = try await LTIDeepLinks.open(launch, registration: registration, course: course, user: user, on: db, now: now)
                return Landed(user: user, course: course, registration: registrationID, destination: SitePath.ltiDeepLink(.id(try request.requireID())).url)
            case .resourceLink:
                let courseHome = SitePath.course(.id(try course.requireID())).url
                guard let assignment = try await assignment(of: launch, in: link, course: course, registration: registration, on: db, now: now),
                      launch.role != .student || assignment.isReleased(at: now) else {
                    return Landed(user: user, course: course, registration: registrationID, destination: courseHome)
                }
                return Landed(user: user, course: course, registration: registrationID, destination: SitePath.assignment(.id(try assignment.requireID())).url)
            }
        }
    }

    /// Whether the launch's service addresses are on the LMS's service host — learnt here from the first launch that
    /// names one (then written to the registration, in the launch's transaction).
    static func pinServiceHost(_ launch: LTILaunch, registration: LTIRegistration, on db: any Database) async throws -> Bool {
        let named = [launch.gradeService?.lineItems, launch.gradeService?.lineItem, launch.rosterService?.membershipsURL].compactMap { $0 }
        guard !named.isEmpty else { return true }
        let hosts = Set(named.compactMap { URLComponents(string: $0)?.host?.lowercased() })
        if registration.serviceHostList.isEmpty {
            // Pinned only by a launch whose services are all on one plain host the tool would call at all.
            guard hosts.count == 1, let host = hosts.first, HostNames.isPlain(host, allowIPv6: false),
                  named.allSatisfy({ LTIServices.usable($0, registration) }) else { return false }
            registration.serviceHosts = host
            try await registration.save(on: db)
            return true
        }
        return named.allSatisfy(registration.serves)
    }

    /// The assignment a resource link opens: the one it was first launched with (its custom `assignment_id`, made by
    /// deep linking; only an assignment of this course), kept with the link and the grade service's line item.
    static func assignment(of launch: LTILaunch, in context: LTIContext, course: Course, registration: LTIRegistration,
                           on db: any Database, now: Date) async throws -> Assignment? {
        guard let resourceLink = launch.resourceLink else { return nil }
        let contextID = try context.requireID()
        // Two first launches of one link at once make one row.
        try await db.sqlDatabase().raw("""
            INSERT INTO lti_resource_links (id, context_id, resource_link_id, created_at) VALUES (\(bind: UUID()), \(bind: contextID), \(bind: resourceLink.id), \(bind: now))
            ON CONFLICT (context_id, resource_link_id) DO NOTHING
            """).run()
        guard let link = try await LTIResourceLink.query(on: db).filter(\.$context.$id == contextID).filter(\.$resourceLinkID == resourceLink.id)
            .with(\.$assignment).first() else { return nil }
        var attached = false
        if link.assignment == nil, let text = launch.custom["assignment_id"], let id = UUID(uuidString: text),
           let named = try await Assignment.query(on: db).filter(\.$id == id).filter(\.$course.$id == course.requireID()).first() {
            link.$assignment.id = id
            link.$assignment.value = named
            attached = true
        }
        link.title = resourceLink.title.map { String($0.prefix(200)) }
        // Its grade column, when the LMS lets the tool post scores there (an address on the LMS's side of the
        // network: not this machine or a private network, unless the LMS itself runs on loopback).
        if let service = launch.gradeService, service.scope.contains(LTIGradeSync.scoreScope), let lineItem = service.lineItem,
           LTIServices.usable(lineItem, registration), registration.serves(lineItem) {
            link.lineItemURL = lineItem
        }
        try await link.save(on: db)
        // A link whose launch names no line item: its assignment's is looked for in the LMS course (at once for a new
        // link, else at most hourly).
        if let assignment = link.assignment, link.lineItemURL == nil, assignment.gradesPublished {
            let cutoff = attached ? now : now.addingTimeInterval(-3600)
            for registration in try await LTIGradeSync.lookForLineItems(of: try assignment.requireID(), unlessLookedAfter: cutoff, on: db) {
                try await LTIGradeSync.queue(registration, on: db, now: now)
            }
        }
        return link.assignment
    }

    /// Makes `user` a member of `course` with the LMS's role: raised, never lowered — a teacher viewing their course
    /// as a student (Moodle's "switch role") stays its instructor; lowering is done here, by the course's staff. A
    /// member who had left the LMS course is let in again.
    /// A member the course's staff added stays theirs; one the LMS course (`context`) admits is marked as such.
    static func admit(_ user: User, to course: Course, as lmsRole: LTIRoles.CourseRole, by context: UUID, on db: any Database) async throws {
        let member = try await CourseMember.query(on: db).filter(\.$course.$id == course.requireID()).filter(\.$user.$id == user.requireID()).first()
        _ = try await admit(try user.requireID(), to: try course.requireID(), as: lmsRole, by: context, member: member, on: db)
    }

    /// `admit` with the membership already read (`member`, nil: none): writes only a change, and says whether the
    /// person came in (new, or back after leaving).
    static func admit(_ userID: UUID, to courseID: UUID, as lmsRole: LTIRoles.CourseRole, by context: UUID, member: CourseMember?,
                      on db: any Database) async throws -> Bool {
        let role: CourseRole = switch lmsRole { case .instructor: .instructor; case .ta: .ta; case .student: .student }
        guard let member else {
            let member = CourseMember(courseID: courseID, userID: userID, role: role)
            member.admittedBy = context
            try await member.create(on: db)
            return true
        }
        guard rank(role) > rank(member.role) || member.leftAt != nil else { return false }
        let back = member.leftAt != nil
        (member.role, member.leftAt) = (rank(role) > rank(member.role) ? role : member.role, nil)
        try await member.save(on: db)
        return back
    }

    /// Who the LMS says someone is: from a launch or its roster.
    struct LMSPerson {
        var subject: String
        var email: String?
        var name: String?

        init(subject: String, email: String?, name: String?) { (self.subject, self.email, self.name) = (subject, email, name) }
        init(_ launch: LTILaunch) { (subject, email, name) = (launch.subject, launch.email, launch.name) }
    }

    static func rank(_ role: CourseRole) -> Int {
        switch role { case .student: 0; case .ta: 1; case .instructor: 2 }
    }

    /// The launching person's account: linked by the LMS's issuer and subject; on a first launch, the account with
    /// the LMS's email — only in the domains it is trusted with, and when the registration links by email (never an
    /// administrator's, nor one already linked to another person of this LMS) — else a new account. An administrator
    /// never signs in through an LMS.
    static func person(_ launch: LMSPerson, registration: LTIRegistration, on db: any Database, now: Date) async throws -> User {
        if let identity = try await ExternalIdentity.query(on: db).filter(\.$issuer == registration.issuer)
            .filter(\.$subject == launch.subject).with(\.$user).first() {
            guard identity.user.isActive, !identity.user.isAdmin else {
                throw Abort(.forbidden, reason: "This CampusCloud account does not sign in through the LMS. Ask an administrator.")
            }
            identity.lastSeenAt = now
            try await identity.save(on: db)
            return identity.user
        }
        let email = launch.email.map(User.normalise).flatMap { InputChecks.isPlausibleEmail($0) && registration.vouches(for: $0) ? $0 : nil }
        if let email, let existing = try await User.query(on: db).filter(\.$email == email).first() {
            // An address can change hands: an account already linked to another person of this LMS stays theirs.
            let linked = try await ExternalIdentity.query(on: db).filter(\.$user.$id == existing.requireID()).filter(\.$issuer == registration.issuer).first() != nil
            guard registration.linkByEmail, !linked, !existing.isAdmin, existing.isActive else {
                throw Abort(.forbidden, reason: "A CampusCloud account for \(email) exists, and this LMS is not set to sign in to existing accounts. Ask an administrator.")
            }
            try await ExternalIdentity(userID: existing.requireID(), issuer: registration.issuer, subject: launch.subject, at: now).create(on: db)
            return existing
        }
        // No email from the LMS (its privacy settings), or one outside the domains it is trusted with: an address of
        // its own, random, that no mail reaches (no one can claim it first).
        let address = email ?? "lti-\(UUID().uuidString.lowercased())@lti.invalid"
        let user = User(email: address, displayName: String((launch.name ?? address).prefix(100)), passwordHash: nil)
        try await user.create(on: db)
        try await ExternalIdentity(userID: user.requireID(), issuer: registration.issuer, subject: launch.subject, at: now).create(on: db)
        return user
    }

    static func createCourse(for context: LTIClaims.Context, registration: LTIRegistration, on db: any Database, now: Date) async throws -> Course {
        let course = Course()
        course.$programme.id = registration.$programme.id
        course.code = String((context.label?.trimmingCharacters(in: .whitespaces)).flatMap { $0.isEmpty ? nil : $0 }?.prefix(40) ?? "LMS")
        course.title = String((context.title ?? context.label ?? "Course from \(registration.name)").prefix(200))
        // One term per LMS course, so two LMS courses with the same label are two courses here.
        course.term = "LMS " + TokenCodec.hash(registration.issuer + " " + context.id).prefix(8).lowercased()
        course.startsOn = now
        course.endsOn = now.addingTimeInterval(182 * 86_400)
        try await course.create(on: db)
        return course
    }
}
