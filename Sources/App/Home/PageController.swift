// Public pages. The landing page says what the platform is and which programmes it runs (names only, no people).
import Vapor
import Fluent

enum PageController {
    @Sendable static func landing(req: Request) async throws -> View {
        let page = try await LandingPage.load(page: PageContext(req), on: req.db)
        return try await req.view.render("landing", page)
    }
}
