// Single sign-on's handlers: decode, authorise, call SingleSignOns / IdentityProviders, answer.
import Vapor

enum SingleSignOnController {
    struct StartForm: Content {
        var next: String?
    }

    /// POST /signin/sso/:providerID (the sign-in page's button): to the provider.
    @Sendable static func start(req: Request) async throws -> Response {
        let providerID = try req.parameters.require("providerID", as: UUID.self)
        let form = try? req.content.decode(StartForm.self)
        let address = try await SingleSignOns.start(providerID, next: form?.next, req: req)
        return req.redirect(to: address, redirectType: .normal)
    }

    /// GET /signin/sso/:providerID/callback: the provider sends the browser back here.
    @Sendable static func callback(req: Request) async throws -> Response {
        let providerID = try req.parameters.require("providerID", as: UUID.self)
        let query = try req.query.decode(SingleSignOns.CallbackQuery.self)
        let finished = try await SingleSignOns.finish(providerID, query: query, req: req)
        try await Credentials.startSession(finished.user, on: req, now: req.now, by: .provider)
        if let endSession = finished.endSession { req.session.data[SignInOptions.endSessionKey] = endSession }
        req.logger.info("Single sign-on: \(finished.user.email) signed in")
        return req.redirect(to: finished.next, redirectType: .normal)
    }

    @Sendable static func adminPage(req: Request) async throws -> View {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await render(req, PageContext(req))
    }

    static func render(_ req: Request, _ page: PageContext) async throws -> View {
        let programmes = try await Programme.query(on: req.db).sort(\.$name).all().map { (id: try $0.requireID(), name: $0.name) }
        return try await req.view.render("admin-sso", AdminSSOPage(page: page, providers: try await IdentityProviders.list(on: req), programmes: programmes))
    }

    @Sendable static func addFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await req.formAction(back: .adminSSO, render: { try await render(req, $0) }) {
            let provider = try await IdentityProviders.add(try req.input(IdentityProviderInput.self), app: req.application, on: req.db)
            return "\(provider.name) added: people can sign in with it now."
        }
    }

    /// The page's form for one provider: its checkboxes say every rule (one left unticked is off).
    @Sendable static func changeFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        guard let provider = try await IdentityProvider.find(try req.parameters.require("providerID", as: UUID.self), on: req.db) else { throw Abort(.notFound) }
        return try await req.formAction(back: .adminSSO, render: { try await render(req, $0) }) {
            var form = try req.input(IdentityProviderChange.self)
            (form.enabled, form.passwordSignInOff) = (form.enabled ?? false, form.passwordSignInOff ?? false)
            (form.linkByEmail, form.createAccounts) = (form.linkByEmail ?? false, form.createAccounts ?? false)
            try await IdentityProviders.change(provider, form, app: req.application, on: req.db)
            return "\(provider.name) changed\(provider.enabled ? "" : ": switched off, its button is gone from the sign-in page")."
        }
    }

    @Sendable static func change(req: Request) async throws -> IdentityProviderDTO {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        guard let provider = try await IdentityProvider.find(try req.parameters.require("providerID", as: UUID.self), on: req.db) else { throw Abort(.notFound) }
        try await IdentityProviders.change(provider, try req.input(IdentityProviderChange.self), app: req.application, on: req.db)
        return try IdentityProviders.dto(provider, config: req.application.platformConfig)
    }

    @Sendable static func list(req: Request) async throws -> [IdentityProviderDTO] {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await IdentityProviders.list(on: req)
    }

    @Sendable static func add(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let provider = try await IdentityProviders.add(try req.input(IdentityProviderInput.self), app: req.application, on: req.db)
        return try await IdentityProviders.dto(provider, config: req.application.platformConfig).encodeResponse(status: .created, for: req)
    }
}
