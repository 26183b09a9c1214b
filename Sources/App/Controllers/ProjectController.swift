// Research projects: the page and read API for the project's members and programme managers; for its PI (and
// managers, admins) the forms and API to change it and its members. Lifecycle and allocations come with the
// research issue.
import Fluent
import Vapor

struct ProjectPage: Encodable {
    var title: String
    var page: PageContext
    var project: ProjectDTO
    var canManage: Bool
    var form: ProjectInput
    var roles = ProjectRole.allCases.map(\.rawValue)
    var statuses = ProjectStatus.allCases.map(\.rawValue)
}

enum ProjectController {
    @Sendable static func page(req: Request) async throws -> View {
        let (project, user, access) = try await req.project(for: Policy.Action.viewProject)
        return try await render(req, project, user, access, PageContext(req))
    }

    @Sendable static func updateFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        return try await req.formAction(back: "/projects/\(try project.requireID())", render: { try await render(req, project, user, access, $0) }) {
            try await ResearchProjects.update(project, try req.input(ProjectInput.self), by: user, access: access, app: req.application, on: req.db)
            return "Saved the project's details."
        }
    }

    @Sendable static func setMemberFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        return try await req.formAction(back: "/projects/\(try project.requireID())", render: { try await render(req, project, user, access, $0) }) {
            let (member, _) = try await People.setMember(ProjectMember.self, place: project.requireID(), try req.input(MembershipInput.self),
                                                         allowNewPeople: false, on: req.db)
            return "\(member.name) is now \(member.role) of the project."
        }
    }

    @Sendable static func removeMemberFromPage(req: Request) async throws -> Response {
        let (project, _, _) = try await req.project(for: Policy.Action.manageProject)
        try await People.removeMember(ProjectMember.self, place: project.requireID(), userID: try req.userIDParameter(), on: req.db)
        req.session.data[PageContext.noticeKey] = "Removed them from the project."
        return req.redirect(to: "/projects/\(try project.requireID())", redirectType: .normal)
    }

    private static func render(_ req: Request, _ project: ResearchProject, _ user: User, _ access: ProjectAccess, _ page: PageContext) async throws -> View {
        try await req.view.render("project", ProjectPage(
            title: project.title, page: page, project: try await ProgrammeViews.project(project, on: req.db),
            canManage: Policy.allows(user, .manageProject(access)),
            form: ProjectInput(title: project.title, summary: project.summary, status: project.status)))
    }

    // MARK: API

    @Sendable static func show(req: Request) async throws -> ProjectDTO {
        try await ProgrammeViews.project(try await req.project(for: Policy.Action.viewProject).0, on: req.db)
    }

    @Sendable static func update(req: Request) async throws -> ProjectDTO {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        try await ResearchProjects.update(project, try req.input(ProjectInput.self), by: user, access: access, app: req.application, on: req.db)
        return try await ProgrammeViews.project(project, on: req.db)
    }

    @Sendable static func setMember(req: Request) async throws -> ProjectDTO.Member {
        let (project, _, _) = try await req.project(for: Policy.Action.manageProject)
        let (member, _) = try await People.setMember(ProjectMember.self, place: project.requireID(), try req.input(MembershipInput.self),
                                                     allowNewPeople: false, on: req.db)
        return ProjectDTO.Member(userID: member.userID, name: member.name, role: member.role)
    }

    @Sendable static func removeMember(req: Request) async throws -> HTTPStatus {
        let (project, _, _) = try await req.project(for: Policy.Action.manageProject)
        try await People.removeMember(ProjectMember.self, place: project.requireID(), userID: try req.userIDParameter(), on: req.db)
        return .noContent
    }
}
