// LTI's handlers: the LMS's login initiation and launch (cross-site: no CSRF field, their own state and nonce), and
// the registrations (administrators, page and API).
import Vapor

enum LTIController {
    /// GET or POST /lti/login: to the LMS's authorization endpoint, with the state in a cookie.
    @Sendable static func login(req: Request) async throws -> Response {
        let request = req.method == .GET ? try req.query.decode(LTILaunches.LoginRequest.self) : try req.content.decode(LTILaunches.LoginRequest.self)
        let (address, setCookie) = try await LTILaunches.login(request, req: req)
        let response = req.redirect(to: address, redirectType: .normal)
        response.headers.add(name: .setCookie, value: setCookie)
        return response
    }

    /// POST /lti/launch: the LMS posts the id_token; the person lands on the course, signed in.
    @Sendable static func launch(req: Request) async throws -> Response {
        let form = try req.content.decode(LTILaunches.LaunchForm.self)
        let landed = try await LTILaunches.launch(form, req: req)
        Credentials.startSession(landed.user, on: req, now: req.now)
        req.logger.info("LTI launch: \(landed.user.email) into \(landed.course.code)")
        let response = req.redirect(to: SitePath.course(.id(try landed.course.requireID())).url, redirectType: .normal)
        let https = req.application.platformConfig.servesHTTPS
        if let state = form.state {
            response.headers.add(name: .setCookie, value: "\(LTILaunches.stateCookie(for: state, https: https))=; Max-Age=0; \(LTILaunches.cookieAttributes(https: https))")
        }
        return response
    }

    @Sendable static func adminPage(req: Request) async throws -> View {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await render(req, PageContext(req))
    }

    static func render(_ req: Request, _ page: PageContext) async throws -> View {
        let programmes = try await Programme.query(on: req.db).sort(\.$name).all().map { AdminLTIPage.Choice(id: try $0.requireID(), name: $0.name) }
        let config = req.application.platformConfig
        return try await req.view.render("admin-lti", AdminLTIPage(
            page: page, registrations: try await LTIRegistrations.list(on: req), programmes: programmes,
            loginURL: config.absolute(SitePath.ltiLogin.url), launchURL: config.absolute(SitePath.ltiLaunch.url)))
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
}
