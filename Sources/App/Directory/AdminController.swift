// Administrators' pages and API: people's accounts (create with an invitation link, (de)activate, grant or remove
// the administrator role) and the list of every programme with a form for a new one.
import Fluent
import Vapor

enum AdminController {
    struct UsersQuery: Decodable { var q: String? }

    /// The form on each person's row names what to do, so an empty or replayed form changes nothing by accident.
    struct UserActionForm: Content {
        enum Action: String, Codable { case activate, deactivate, grantAdmin = "grant-admin", removeAdmin = "remove-admin" }
        var action: Action
    }

    // MARK: Pages

    @Sendable static func usersPage(req: Request) async throws -> View {
        try await renderUsers(req, PageContext(req))
    }

    @Sendable static func createUserFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await req.formAction(back: .adminUsers, render: { try await renderUsers(req, $0) }) {
            var input = try req.input(NewUserInput.self)
            input.isAdmin = input.isAdmin ?? false
            let (user, invitation) = try await People.create(input, writes: req.writes)
            return "Created \(user.email). Give them this invitation link (valid 14 days, once): " + req.application.platformConfig.absolute(invitation)
        }
    }

    @Sendable static func changeUserFromPage(req: Request) async throws -> Response {
        let actor = try req.auth.require(User.self)
        try Policy.require(actor, can: .administerPlatform)
        let user = try await findUser(req)
        return try await req.formAction(back: .adminUsers, render: { try await renderUsers(req, $0) }) {
            let form = try req.content.decode(UserActionForm.self)
            let change: UserChangeInput
            switch form.action {
            case .activate: change = UserChangeInput(isActive: true)
            case .deactivate: change = UserChangeInput(isActive: false)
            case .grantAdmin: change = UserChangeInput(isAdmin: true)
            case .removeAdmin: change = UserChangeInput(isAdmin: false)
            }
            try await People.change(user, change, by: actor, on: req.db)
            return "\(user.email): \(user.isActive ? "active" : "deactivated")\(user.isAdmin ? ", administrator" : "")."
        }
    }

    @Sendable static func programmesPage(req: Request) async throws -> View {
        try await renderProgrammes(req, PageContext(req))
    }

    @Sendable static func createProgrammeFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        do {
            let programme = try await Places.createProgramme(try req.input(ProgrammeInput.self), on: req.db)
            req.session.data[PageContext.noticeKey] = "Created the programme. Add its managers and partner contacts below."
            return req.redirect(to: .programme(.id(try programme.requireID())))
        } catch let rejection as InputRejection {
            return try await renderProgrammes(req, PageContext(req, problems: rejection.problems)).encodeResponse(status: .unprocessableEntity, for: req)
        }
    }

    private static func renderUsers(_ req: Request, _ page: PageContext) async throws -> View {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let search = try req.query.decode(UsersQuery.self).q ?? ""
        let users = try await People.search(search, on: req.db).paginate(for: req).map { try UserDTO($0) }
        let (previous, next) = neighbours(users.metadata)
        return try await req.view.render("admin-users", AdminUsersPage(page: page, users: users, search: search, previous: previous, next: next))
    }

    private static func renderProgrammes(_ req: Request, _ page: PageContext) async throws -> View {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let programmes = try await Programme.query(on: req.db).sort(\.$name).paginate(for: req).map {
            AdminProgrammesPage.Row(link: SitePath.programme(.id(try $0.requireID())).url, name: $0.name, partnerOrganisation: $0.partnerOrganisation,
                                    period: "\($0.startsOn.day) to \($0.endsOn.day)")
        }
        let (previous, next) = neighbours(programmes.metadata)
        return try await req.view.render("admin-programmes", AdminProgrammesPage(page: page, programmes: programmes, previous: previous, next: next))
    }

    private static func neighbours(_ metadata: PageMetadata) -> (Int?, Int?) {
        (metadata.page > 1 ? metadata.page - 1 : nil, metadata.page < metadata.pageCount ? metadata.page + 1 : nil)
    }

    // MARK: API

    @Sendable static func listUsers(req: Request) async throws -> Page<UserDTO> {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await People.search(try req.query.decode(UsersQuery.self).q, on: req.db).paginate(for: req).map { try UserDTO($0) }
    }

    @Sendable static func createUser(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let (user, invitation) = try await People.create(try req.input(NewUserInput.self), writes: req.writes)
        return try await NewUserDTO(user: try UserDTO(user), invitation: req.application.platformConfig.absolute(invitation))
            .encodeResponse(status: .created, for: req)
    }

    @Sendable static func changeUser(req: Request) async throws -> UserDTO {
        let actor = try req.auth.require(User.self)
        try Policy.require(actor, can: .administerPlatform)
        let user = try await findUser(req)
        try await People.change(user, try req.input(UserChangeInput.self), by: actor, on: req.db)
        return try UserDTO(user)
    }

    private static func findUser(_ req: Request) async throws -> User {
        guard let user = try await User.find(try req.userIDParameter(), on: req.db) else { throw Abort(.notFound, reason: "No such person.") }
        return user
    }
}
