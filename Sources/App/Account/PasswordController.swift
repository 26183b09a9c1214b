// Setting a password from an invitation or reset link, and changing one's own password.
import Fluent
import Vapor

enum PasswordController {
    struct SetPasswordForm: Content { var token: String; var password: String; var confirmation: String }
    struct ChangePasswordForm: Content { var current: String; var password: String; var confirmation: String }

    @Sendable static func page(req: Request) async throws -> Response {
        let token = (try? req.query.get(String.self, at: "token")) ?? ""
        let link = try await PasswordLinks.find(token, on: req.db)
        let page = SetPasswordPage(page: PageContext(req), token: token, email: link?.user.email,
                                   error: link == nil ? "This link has expired or was already used. Ask your instructor or an administrator for a new one." : nil)
        return try await req.view.render("set-password", page).encodeResponse(status: link == nil ? .gone : .ok, for: req)
    }

    @Sendable static func setPassword(req: Request) async throws -> Response {
        let form = try req.content.decode(SetPasswordForm.self)
        do {
            let user = try await PasswordLinks.use(form.token, password: form.password, confirmation: form.confirmation,
                                                   hasher: req.password.async, on: req.writes)
            try await Credentials.startSession(user, on: req)
            return req.redirect(to: .dashboard)
        } catch let error as any AbortError {
            let link = try await PasswordLinks.find(form.token, on: req.db)
            let page = SetPasswordPage(page: PageContext(req), token: form.token, email: link?.user.email, error: error.reason)
            return try await req.view.render("set-password", page).encodeResponse(status: error.status, for: req)
        }
    }

    @Sendable static func change(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let form = try req.content.decode(ChangePasswordForm.self)
        guard let hash = user.passwordHash, try await req.password.async.verify(form.current, created: hash) else {
            throw Abort(.badRequest, reason: "Your current password is not right.")
        }
        try PasswordLinks.check(form.password, confirmation: form.confirmation)
        try await Credentials.passwordChanged(user, hash: try await req.password.async.hash(form.password), on: req.writes, req: req)
        return req.redirect(to: SitePath.profile.url + "?changed=1", redirectType: .normal)
    }
}
