// LTI's handlers: the LMS's login initiation and launch (cross-site: no CSRF field, their own state and nonce), and
// the registrations (administrators, page and API).
import Fluent
import Grading
import Insight
import Vapor

enum LTIController {
    /// GET or POST /lti/login: to the LMS's authorization endpoint, with the state in a cookie (inside a frame, through
    /// the page that makes sure the state comes back: the cookie, the LMS's storage, or a new window).
    @Sendable static func login(req: Request) async throws -> Response {
        let request = req.method == .GET ? try req.query.decode(LTILaunches.LoginRequest.self) : try req.content.decode(LTILaunches.LoginRequest.self)
        let inFrame = req.headers.first(name: "Sec-Fetch-Dest") == "iframe"
        let (answer, setCookie) = try await LTILaunches.login(request, inFrame: inFrame, req: req)
        let response: Response
        switch answer {
        case .redirect(let address): response = req.redirect(to: address, redirectType: .normal)
        case .page(let page): response = try await framePage(page, framedBy: "*", req: req)
        }
        EmbeddedSession.setCookie(setCookie, on: req)
        return response
    }

    /// POST /lti/launch: the LMS posts the id_token; the person lands on the course, signed in (or, in a frame that
    /// keeps no cookies, is offered a window of their own).
    @Sendable static func launch(req: Request) async throws -> Response {
        let form = try req.content.decode(LTILaunches.LaunchForm.self)
        let config = req.application.platformConfig
        let response: Response
        switch try await LTILaunches.launch(form, req: req) {
        case .checkStorage(let page, let framedBy):
            // No session yet: the page only asks the LMS's storage, answering nobody but the LMS's own origin.
            return try await framePage(page, framedBy: framedBy.joined(separator: " "), req: req)
        case .landed(let landed, cookiesKept: false):
            let ticket = try await LTIWindowTickets.issue(for: landed, on: req.db, now: req.now)
            req.logger.info("LTI launch: \(landed.user.email) into \(landed.course.code), continued in a new window")
            response = try await framePage(LTIFramePage(openWindow: true, ticket: ticket, window: SitePath.ltiWindow.url),
                                           framedBy: landed.framedBy.joined(separator: " "), req: req)
        case .landed(let landed, cookiesKept: true):
            try await Credentials.startSession(landed.user, on: req, now: req.now, by: .lms)
            req.session.data[Credentials.launchedByKey] = landed.registration.uuidString
            // Shown inside the LMS: its pages may be framed by the LMS's origins.
            req.session.data[EmbeddedSession.framedByKey] = landed.framedBy.joined(separator: " ")
            req.logger.info("LTI launch: \(landed.user.email) into \(landed.course.code)")
            response = req.redirect(to: landed.destination, redirectType: .normal)
        }
        if let state = form.state { EmbeddedSession.setCookie(LTILaunches.setStateCookie(state, value: nil, config), on: req) }
        return response
    }

    /// POST /lti/window (ticket): a launch continued in a window of its own, posted by the launch's page in the LMS's
    /// frame (this site's origin only: a ticket someone obtained for themselves cannot sign anyone else in); a
    /// first-party session where it landed.
    @Sendable static func window(req: Request) async throws -> Response {
        struct Form: Decodable { var ticket: String? }
        guard LTILaunches.sameOrigin(req, req.application.platformConfig) else {
            throw Abort(.forbidden, reason: "This window opens only from CampusCloud's page inside the LMS. Open the tool from the LMS again.")
        }
        guard let (user, destination, registration) = try await LTIWindowTickets.take(try req.content.decode(Form.self).ticket ?? "", on: req.db, now: req.now) else {
            throw Abort(.badRequest, reason: "This window's link was used already or has expired. Open the tool from the LMS again.")
        }
        try await Credentials.startSession(user, on: req, now: req.now, by: .lms)
        req.session.data[Credentials.launchedByKey] = registration.uuidString
        req.logger.info("LTI launch: \(user.email) continued in a new window")
        return req.redirect(to: destination, redirectType: .normal)
    }

    /// A step of a launch inside the LMS's frame: no session; framed by `framedBy` (the LMS's origins, or any site
    /// for the steps that carry nothing of anyone's).
    static func framePage(_ page: LTIFramePage, framedBy: String, req: Request) async throws -> Response {
        let response = try await req.view.render("lti-frame", page).encodeResponse(for: req)
        response.headers.replaceOrAdd(name: "Content-Security-Policy", value: "frame-ancestors \(framedBy.isEmpty ? "'self'" : framedBy)")
        // Its links and forms to this site carry their origin (the launch's check needs it), nothing to others.
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "same-origin")
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    @Sendable static func adminPage(req: Request) async throws -> View {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await render(req, PageContext(req))
    }

    static func render(_ req: Request, _ page: PageContext) async throws -> View {
        let programmes = try await Programme.query(on: req.db).sort(\.$name).all().map { AdminLTIPage.Choice(id: try $0.requireID(), name: $0.name) }
        let keys = try await LTIToolKeys.published(on: req.db, now: req.now)
        return try await req.view.render("admin-lti", AdminLTIPage(
            page: page, registrations: try await LTIRegistrations.list(on: req), programmes: programmes,
            config: req.application.platformConfig, keys: keys))
    }

    @Sendable static func rotateKeyFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await req.formAction(back: .adminLTI, render: { try await render(req, $0) }) {
            let keys = try await LTIToolKeys.rotate(secret: req.application.platformSecret, on: req.db, now: req.now)
            let next = keys.first { $0.state == "next" }
            return next.map { "A new signing key (\($0.kid)) is published; it signs from \(PageFormat.when($0.activatesAt) ?? "tomorrow"), once LMSs have had a day to fetch it." }
                ?? "A signing key is published."
        }
    }

    /// GET /.well-known/jwks.json: the public halves of the tool's signing keys, for LMSs to verify its messages (empty
    /// until the tool first signs; a key is published before anything it signs leaves).
    @Sendable static func keySet(req: Request) async throws -> Response {
        let keys = try await LTIToolKeys.keySet(on: req.db, now: req.now)
        let response = Response(status: .ok, body: .init(data: try JSONSerialization.data(withJSONObject: ["keys": keys], options: [.sortedKeys])))
        response.headers.contentType = .json
        response.headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=3600")
        return response
    }

    /// GET /lti/config.json: the tool's configuration, for an LMS admin to register it in one step (Canvas's "Paste
    /// JSON"; the same URLs for any LMS).
    @Sendable static func configuration(req: Request) async throws -> Response {
        let config = req.application.platformConfig
        guard config.publicURL != nil else {
            throw Abort(.serviceUnavailable, reason: "LTI needs the platform's public address (CAMPUSCLOUD_PUBLIC_URL); tell an administrator.")
        }
        let body = try JSONSerialization.data(withJSONObject: LTIConfiguration.document(config), options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        let response = Response(status: .ok, body: .init(data: body))
        response.headers.contentType = .json
        return response
    }

    /// GET /lti/deep-links/:requestID: the course's assignments to link.
    @Sendable static func deepLinkPage(req: Request) async throws -> View {
        let open = try await LTIDeepLinks.find(try req.parameters.require("choiceID", as: UUID.self), user: try req.auth.require(User.self), on: req.db, now: req.now)
        return try await renderDeepLink(req, open, PageContext(req))
    }

    static func renderDeepLink(_ req: Request, _ open: LTIDeepLinks.Open, _ page: PageContext) async throws -> View {
        let assignments = try await Assignment.query(on: req.db).filter(\.$course.$id == open.course.requireID()).sort(\.$createdAt).all()
        return try await req.view.render("lti-deep-link", LTIDeepLinkPage(
            page: page, courseTitle: open.course.title, lmsName: open.request.registration.name, multiple: open.request.acceptMultiple,
            lineItems: open.request.acceptLineItem, canCreate: Policy.allows(open.user, .manageCourse(open.access)),
            assignments: try assignments.map { .init(id: try $0.requireID(), title: $0.title, points: $0.pointsPossible.map(Gradebook.number), due: PageFormat.when($0.dueAt)) },
            action: SitePath.ltiDeepLink(.id(try open.request.requireID())).url))
    }

    /// POST /lti/deep-links/:requestID: answers the LMS once, through the browser.
    @Sendable static func deepLinkAnswer(req: Request) async throws -> Response {
        let open = try await LTIDeepLinks.find(try req.parameters.require("choiceID", as: UUID.self), user: try req.auth.require(User.self), on: req.db, now: req.now)
        do {
            let (returnURL, token) = try await LTIDeepLinks.answer(open, try req.content.decode(LTIDeepLinks.Choice.self), on: req)
            return try await req.view.render("lti-deep-link-return", LTIDeepLinkReturnPage(
                page: PageContext(req), returnURL: returnURL, token: token, lmsName: open.request.registration.name)).encodeResponse(for: req)
        } catch let rejection as InputRejection {
            return try await renderDeepLink(req, open, PageContext(req, problems: rejection.problems)).encodeResponse(status: rejection.status, for: req)
        }
    }

    @Sendable static func addFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await req.formAction(back: .adminLTI, render: { try await render(req, $0) }) {
            let registration = try await LTIRegistrations.add(try req.input(LTIRegistrationInput.self), app: req.application, on: req.db)
            return "\(registration.name) registered: its launches are accepted from its deployments."
        }
    }

    @Sendable static func addDeploymentFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let id = try req.parameters.require("registrationID", as: UUID.self)
        return try await req.formAction(back: .adminLTI, render: { try await render(req, $0) }) {
            let registration = try await LTIRegistrations.addDeployment(try req.input(LTIDeploymentInput.self), to: id, on: req.db)
            return "Deployment added to \(registration.name)."
        }
    }

    /// POST /admin/lti/registrations/:registrationID: switched on or off (the box says which), deployments ticked removed.
    @Sendable static func changeFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let id = try req.parameters.require("registrationID", as: UUID.self)
        return try await req.formAction(back: .adminLTI, render: { try await render(req, $0) }) {
            struct Form: Decodable { var enabled: Bool?; var remove: [String]?; var serviceHosts: String?; var serviceHostsShown: String? }
            let form = try req.content.decode(Form.self)
            // The hosts change only when edited (a page shown before a launch pinned them does not unpin them).
            let change = LTIRegistrationChange(enabled: form.enabled ?? false, removeDeploymentIDs: (form.remove ?? []).joined(separator: " "),
                                               serviceHosts: form.serviceHosts == form.serviceHostsShown ? nil : form.serviceHosts)
            let registration = try await LTIRegistrations.change(change, of: id, app: req.application, on: req.db)
            return "\(registration.name) is \(registration.enabled ? "on" : "switched off: its launches are refused and nothing is sent to it")"
                + ((form.remove ?? []).isEmpty ? "." : "; \(form.remove!.count) deployment(s) removed.")
        }
    }

    @Sendable static func change(req: Request) async throws -> LTIRegistrationDTO {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let id = try req.parameters.require("registrationID", as: UUID.self)
        let registration = try await LTIRegistrations.change(try req.input(LTIRegistrationChange.self), of: id, app: req.application, on: req.db)
        return try LTIRegistrations.dto(registration, config: req.application.platformConfig)
    }

    @Sendable static func list(req: Request) async throws -> [LTIRegistrationDTO] {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await LTIRegistrations.list(on: req)
    }

    @Sendable static func add(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let registration = try await LTIRegistrations.add(try req.input(LTIRegistrationInput.self), app: req.application, on: req.db)
        return try await LTIRegistrations.dto(registration, config: req.application.platformConfig).encodeResponse(status: .created, for: req)
    }

    @Sendable static func addDeployment(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let id = try req.parameters.require("registrationID", as: UUID.self)
        let registration = try await LTIRegistrations.addDeployment(try req.input(LTIDeploymentInput.self), to: id, on: req.db)
        return try await LTIRegistrations.dto(registration, config: req.application.platformConfig).encodeResponse(status: .created, for: req)
    }

    /// GET /assignments/:assignmentID/lms-scores: each student's score in the LMS (staff).
    @Sendable static func scoresPage(req: Request) async throws -> View {
        let found = try await req.assignment(for: Policy.Action.grade)
        return try await renderScores(req, found.assignment, PageContext(req))
    }

    static func renderScores(_ req: Request, _ assignment: Assignment, _ page: PageContext) async throws -> View {
        let id = try assignment.requireID()
        let rows = try await LTIScorePost.query(on: req.db).filter(\.$assignment.$id == id).with(\.$user).all()
            .naturallySorted(by: \.user.displayName)
        let linked = try await LTILineItem.known(for: id, on: req.db)
        return try await req.view.render("lti-scores", LMSScoresPage(
            title: "\(assignment.title): scores in the LMS", page: page, assignmentLink: SitePath.assignment(.id(id)).url,
            resend: SitePath.resendLMSScores(.id(id)).url,
            rows: rows.map { .init(name: $0.user.displayName, status: scoreStatus($0), score: $0.scoreSent.map(Gradebook.number) ?? "—",
                                   progress: $0.progressSent ?? "—", sentAt: PageFormat.when($0.sentAt) ?? "—", error: $0.lastError) },
            pending: rows.filter { $0.status == .pending }.count, failed: rows.filter { $0.status == .failed }.count, linked: linked || !rows.isEmpty))
    }

    /// A score's state as staff read it: a pending score that failed for a passing reason says when it is tried again.
    static func scoreStatus(_ row: LTIScorePost) -> String {
        guard row.status == .pending, let again = PageFormat.when(row.retryAt) else { return row.status.rawValue }
        return "pending (tried again \(again))"
    }

    /// POST /assignments/:assignmentID/lms-scores/resend: the refused scores (or all) are sent again (staff).
    @Sendable static func resendScores(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.grade)
        struct Form: Decodable { var failedOnly: String? }
        let failedOnly = (try? req.content.decode(Form.self))?.failedOnly != "false"
        return try await req.formAction(back: .lmsScores(.id(try found.assignment.requireID())), render: { try await renderScores(req, found.assignment, $0) }) {
            let count = try await LTIGradeSync.resend(found.assignment, onlyFailed: failedOnly, writes: req.writes, now: req.now)
            return count == 0 ? "Nothing to send again." : "\(count) score(s) will be sent to the LMS again."
        }
    }

    /// POST /admin/lti/invites: a registration link for an LMS's administrator (shown once).
    @Sendable static func inviteFromPage(req: Request) async throws -> Response {
        let admin = try req.auth.require(User.self)
        try Policy.require(admin, can: .administerPlatform)
        return try await req.formAction(back: .adminLTI, render: { try await render(req, $0) }) {
            let link = try await LTIDynamicRegistration.invite(try req.input(LTIRegistrationInviteInput.self), by: admin, app: req.application, on: req.db, now: req.now)
            return "Registration link (valid 7 days, once; shown only now): \(link) — the LMS's administrator pastes it as the tool's dynamic registration URL."
        }
    }

    /// GET /lti/register?invite=…&openid_configuration=…&registration_token=…: the LMS registers the tool. Shown in the
    /// LMS's dialog (so any site may frame it; it carries no session), which it asks to close when done.
    @Sendable static func dynamicRegistration(req: Request) async throws -> Response {
        struct Query: Decodable { var invite: String?; var openid_configuration: String?; var registration_token: String? }
        let query = try req.query.decode(Query.self)
        let page: LTIRegisteredPage, status: HTTPResponseStatus
        do {
            guard let invite = query.invite, !invite.isEmpty, invite.utf8.count <= 100 else {
                throw Abort(.notFound, reason: "This is not a registration link. Ask a CampusCloud administrator for one.")
            }
            let registration = try await LTIDynamicRegistration.register(token: invite, configuration: query.openid_configuration,
                                                                         registrationToken: query.registration_token, app: req.application, on: req.db, now: req.now)
            page = LTIRegisteredPage(registered: registration.name, problem: nil)
            status = .ok
        } catch let abort as any AbortError {
            page = LTIRegisteredPage(registered: nil, problem: abort.reason)
            status = abort.status
        }
        let response = try await req.view.render("lti-registered", page).encodeResponse(status: status, for: req)
        response.headers.replaceOrAdd(name: "Content-Security-Policy", value: "frame-ancestors *")
        return response
    }
}
