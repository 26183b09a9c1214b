// What every page's layout needs: who is signed in (for the navigation), the CSRF token for its forms, and the
// outcome of the last form (a notice after a redirect, or the problems when the form is shown again).
import Vapor

struct PageContext: Encodable {
    var userName: String?
    var isAdmin: Bool
    var csrf: String
    var notice: String?
    var problems: [String]?
    /// The layout's navigation.
    var nav = Nav()

    struct Nav: Encodable {
        let home = SitePath.home.url, dashboard = SitePath.dashboard.url, profile = SitePath.profile.url
        let people = SitePath.adminUsers.url, programmes = SitePath.adminProgrammes.url, aiModels = SitePath.adminAI.url, slurm = SitePath.adminSlurm.url
        let singleSignOn = SitePath.adminSSO.url, lti = SitePath.adminLTI.url
        let signIn = SitePath.signIn.url, signOut = SitePath.signOut.url
    }

    init(_ request: Request, problems: [String]? = nil) {
        let user = request.auth.get(User.self)
        userName = user?.displayName
        isAdmin = user.map { Policy.allows($0, .administerPlatform) } ?? false
        csrf = CSRF.token(for: request)
        self.problems = problems
        if request.hasSession, let notice = request.session.data[Self.noticeKey] {
            self.notice = notice
            request.session.data[Self.noticeKey] = nil
        }
    }

    static let noticeKey = "notice"
}

extension Request {
    /// Runs a page's form action. Success: the returned sentence is shown once on `back`, after a redirect (so a
    /// reload does not send the form twice). Bad input: the page is shown again with every problem (422).
    func formAction(back: SitePath, at fragment: String? = nil, render: @escaping (PageContext) async throws -> View,
                    _ action: () async throws -> String) async throws -> Response {
        do {
            session.data[PageContext.noticeKey] = try await action()
            return redirect(to: back, at: fragment)
        } catch let rejection as InputRejection {
            return try await render(PageContext(self, problems: rejection.problems)).encodeResponse(status: .unprocessableEntity, for: self)
        } catch let error as DecodingError {
            return try await render(PageContext(self, problems: [PlatformErrorMiddleware.describe(error).1]))
                .encodeResponse(status: .badRequest, for: self)
        }
    }
}
