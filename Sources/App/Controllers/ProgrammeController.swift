// Programme and research-project pages and their read API.
import Fluent
import Vapor

struct ProgrammePage: Encodable {
    var title: String
    var page: PageContext
    var programme: ProgrammeDTO
}

struct ProjectPage: Encodable {
    var title: String
    var page: PageContext
    var project: ProjectDTO
}

enum ProgrammeController {
    @Sendable static func page(req: Request) async throws -> View {
        let (programme, role) = try await ProgrammeViews.load(req)
        let dto = try await ProgrammeViews.programme(programme, role: role, on: req.db)
        return try await req.view.render("programme", ProgrammePage(title: programme.name, page: PageContext(req), programme: dto))
    }

    @Sendable static func projectPage(req: Request) async throws -> View {
        let project = try await ProgrammeViews.loadProject(req)
        return try await req.view.render("project", ProjectPage(title: project.title, page: PageContext(req),
                                                                 project: try await ProgrammeViews.project(project, on: req.db)))
    }

    /// GET /api/v1/programmes?page=&per=: every programme for an admin, otherwise the caller's.
    @Sendable static func list(req: Request) async throws -> Page<ProgrammeSummaryDTO> {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let query = Programme.query(on: req.db).sort(\.$name)
        if !Policy.allows(user, .listEveryProgramme) {
            let ids = try await ProgrammeMember.query(on: req.db).filter(\.$user.$id == user.requireID()).all(\.$programme.$id)
            query.filter(\.$id ~~ ids)
        }
        return try await query.paginate(for: req).map { try ProgrammeViews.summary($0) }
    }

    @Sendable static func show(req: Request) async throws -> ProgrammeDTO {
        let (programme, role) = try await ProgrammeViews.load(req)
        return try await ProgrammeViews.programme(programme, role: role, on: req.db)
    }

    @Sendable static func showProject(req: Request) async throws -> ProjectDTO {
        try await ProgrammeViews.project(try await ProgrammeViews.loadProject(req), on: req.db)
    }
}
