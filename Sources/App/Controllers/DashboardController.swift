// The signed-in home: every place the person has a role, and (API) the same as JSON.
import Vapor

struct DashboardPage: Encodable {
    var title = "Dashboard"
    var page: PageContext
    var name: String
    var isAdmin: Bool
    var memberships: MembershipsDTO
}

enum DashboardController {
    @Sendable static func page(req: Request) async throws -> View {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let memberships = try await MembershipsDTO.of(user, on: req.db)
        return try await req.view.render("dashboard", DashboardPage(page: PageContext(req), name: user.displayName, isAdmin: user.isAdmin, memberships: memberships))
    }

    @Sendable static func me(req: Request) async throws -> MeDTO {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        return MeDTO(id: try user.requireID(), email: user.email, name: user.displayName, isAdmin: user.isAdmin,
                     memberships: try await MembershipsDTO.of(user, on: req.db))
    }
}
