// Programmes: the page and read API for everyone in the programme; for managers (and admins) the forms and API to
// change it, add courses and projects to it, and manage its managers and partner contacts.
import Fluent
import Vapor

enum ProgrammeController {
    // MARK: Pages

    @Sendable static func page(req: Request) async throws -> View {
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgramme)
        return try await render(req, programme, user, role, PageContext(req))
    }

    /// POST /programmes/:programmeID: change the programme's details.
    @Sendable static func updateFromPage(req: Request) async throws -> Response {
        let (programme, user, role) = try await req.programme(for: Policy.Action.manageProgramme)
        return try await req.formAction(back: .programme(.id(try programme.requireID())), render: { try await render(req, programme, user, role, $0) }) {
            try await Places.updateProgramme(programme, try req.input(ProgrammeInput.self), on: req.db)
            return "Saved the programme's details."
        }
    }

    @Sendable static func createCourseFromPage(req: Request) async throws -> Response {
        let (programme, user, role) = try await req.programme(for: Policy.Action.createCourse)
        return try await req.formAction(back: .programme(.id(try programme.requireID())), render: { try await render(req, programme, user, role, $0) }) {
            let course = try await Places.createCourse(in: programme, try req.input(CourseInput.self), instructor: creatorTeaches(user, role), on: req.db)
            return creatorTeaches(user, role) == nil ? "Created \(course.code) \(course.title). Open it to add its instructor and import its roster."
                : "Created \(course.code) \(course.title); you are its instructor. Open it to import its roster."
        }
    }

    @Sendable static func createProjectFromPage(req: Request) async throws -> Response {
        let (programme, user, role) = try await req.programme(for: Policy.Action.manageProgramme)
        return try await req.formAction(back: .programme(.id(try programme.requireID())), render: { try await render(req, programme, user, role, $0) }) {
            let project = try await Places.createProject(in: programme, try req.input(ProjectInput.self), on: req.db)
            return "Created the project \(project.title). Open it to add its PI and members."
        }
    }

    @Sendable static func setMemberFromPage(req: Request) async throws -> Response {
        let (programme, user, role) = try await req.programme(for: Policy.Action.manageProgramme)
        return try await req.formAction(back: .programme(.id(try programme.requireID())), render: { try await render(req, programme, user, role, $0) }) {
            let (member, _) = try await People.setMember(ProgrammeMember.self, place: programme.requireID(), try req.input(MembershipInput.self),
                                                         allowNewPeople: false, writes: req.writes)
            return "\(member.name) is now \(member.role) of the programme."
        }
    }

    @Sendable static func removeMemberFromPage(req: Request) async throws -> Response {
        let (programme, _, _) = try await req.programme(for: Policy.Action.manageProgramme)
        try await People.removeMember(ProgrammeMember.self, place: programme.requireID(), userID: try req.userIDParameter(), on: req.db)
        req.session.data[PageContext.noticeKey] = "Removed them from the programme."
        return req.redirect(to: .programme(.id(try programme.requireID())))
    }

    private static func render(_ req: Request, _ programme: Programme, _ user: User, _ role: ProgrammeRole?, _ page: PageContext) async throws -> View {
        let id = try programme.requireID()
        let view = ProgrammePage(
            title: programme.name, page: page, programme: try await ProgrammeViews.programme(programme, role: role, withholdSmallCells: !Policy.allows(user, .seePeople(role)), on: req.db),
            members: try await visibleMembers(programme, user, role, on: req.db),
            canManage: Policy.allows(user, .manageProgramme(role)), canCreateCourse: Policy.allows(user, .createCourse(role)),
            canSeeCredits: Policy.allows(user, .viewProgrammeCredits(role)),
            form: ProgrammeInput(name: programme.name, partnerOrganisation: programme.partnerOrganisation, startsOn: programme.startsOn.day,
                                 endsOn: programme.endsOn.day, description: programme.description))
        return try await req.view.render("programme", view)
    }

    // MARK: API

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
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgramme)
        return try await ProgrammeViews.programme(programme, role: role, withholdSmallCells: !Policy.allows(user, .seePeople(role)), on: req.db)
    }

    @Sendable static func create(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let programme = try await Places.createProgramme(try req.input(ProgrammeInput.self), on: req.db)
        return try await ProgrammeViews.summary(programme).encodeResponse(status: .created, for: req)
    }

    @Sendable static func update(req: Request) async throws -> ProgrammeSummaryDTO {
        let (programme, _, _) = try await req.programme(for: Policy.Action.manageProgramme)
        try await Places.updateProgramme(programme, try req.input(ProgrammeInput.self), on: req.db)
        return try ProgrammeViews.summary(programme)
    }

    /// GET …/members?page=&per=: managers and partner contacts (university and partner staff; no students).
    @Sendable static func members(req: Request) async throws -> Page<MemberDTO> {
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgrammeCredits)
        return try await visibleMembers(programme, user, role, on: req.db).paginated(for: req)
    }

    /// The programme's people as `user` may see them: everyone for managers; the managers and partner contacts for a
    /// partner contact (not the staff a sign-on rule made course creators); nothing for a course creator.
    static func visibleMembers(_ programme: Programme, _ user: User, _ role: ProgrammeRole?, on db: any Database) async throws -> [MemberDTO] {
        guard Policy.allows(user, .viewProgrammeCredits(role)) else { return [] }
        let members = try await People.members(ProgrammeMember.self, place: programme.requireID(), on: db)
        return Policy.allows(user, .manageProgramme(role)) ? members : members.filter { $0.role != ProgrammeRole.courseCreator.rawValue }
    }

    @Sendable static func setMember(req: Request) async throws -> MemberDTO {
        let (programme, _, _) = try await req.programme(for: Policy.Action.manageProgramme)
        return try await People.setMember(ProgrammeMember.self, place: programme.requireID(), try req.input(MembershipInput.self),
                                          allowNewPeople: false, writes: req.writes).0
    }

    @Sendable static func removeMember(req: Request) async throws -> HTTPStatus {
        let (programme, _, _) = try await req.programme(for: Policy.Action.manageProgramme)
        try await People.removeMember(ProgrammeMember.self, place: programme.requireID(), userID: try req.userIDParameter(), on: req.db)
        return .noContent
    }

    @Sendable static func createCourse(req: Request) async throws -> Response {
        let (programme, user, role) = try await req.programme(for: Policy.Action.createCourse)
        let teacher = creatorTeaches(user, role)
        let course = try await Places.createCourse(in: programme, try req.input(CourseInput.self), instructor: teacher, on: req.db)
        return try await CourseDTO(course, access: CourseAccess(courseRole: teacher == nil ? nil : .instructor, programmeRole: role))
            .encodeResponse(status: .created, for: req)
    }

    /// A course creator (not a manager) teaches the course they create: its instructor.
    static func creatorTeaches(_ user: User, _ role: ProgrammeRole?) -> UUID? {
        role == .courseCreator && !user.isAdmin ? user.id : nil
    }

    @Sendable static func createProject(req: Request) async throws -> Response {
        let (programme, _, _) = try await req.programme(for: Policy.Action.manageProgramme)
        let project = try await Places.createProject(in: programme, try req.input(ProjectInput.self), on: req.db)
        return try await ProjectViews.project(project, on: req.db).encodeResponse(status: .created, for: req)
    }
}

extension Array where Element: Content {
    /// One page of an already-loaded list, with the same `?page=&per=` (at most 500) and shape as database pages.
    func paginated(for req: Request) throws -> Page<Element> {
        let (page, per) = try req.listPage()
        return Page(items: Array(dropFirst((page - 1) * per).prefix(per)), metadata: PageMetadata(page: page, per: per, total: count))
    }
}
