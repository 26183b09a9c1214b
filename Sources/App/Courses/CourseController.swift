// A course's page and its roster: staff see who is in it; instructors (and programme managers, admins) import a
// roster CSV and export it. Students see the course, never the roster.
import Fluent
import Vapor

struct CourseDTO: Content {
    var id: UUID
    var code: String
    var title: String
    var term: String
    var yourRole: String?

    init(_ course: Course, access: CourseAccess) throws {
        try self.init(course, role: access.courseRole?.rawValue ?? access.programmeRole?.rawValue)
    }

    init(_ course: Course, role: String?) throws {
        id = try course.requireID()
        code = course.code
        title = course.title
        term = course.term
        yourRole = role
    }
}

extension CourseDTO: APIBody {
    static let schemaName = "Course"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "code": .string(), "title": .string(), "term": .string(), "yourRole": .string()],
                                          required: ["id", "code", "title", "term"])
    static var samples: [CourseDTO] {
        let course = Course(id: Sample.id, programmeID: Sample.id, code: "CS101", title: "Programming", term: "2026 Autumn", startsOn: Sample.date, endsOn: Sample.date)
        return [try! CourseDTO(course, role: "student")]
    }
}

struct RosterRejection: AbortError, DetailedError {
    var problems: [String]
    var status: HTTPResponseStatus { .unprocessableEntity }
    var reason: String { "The roster was not imported, and nothing was changed: \(problems.count) problem(s). Fix them and upload the whole file again." }
    var details: [String] { problems }
}

enum CourseController {
    struct RosterUpload: Content { var roster: File }

    @Sendable static func page(req: Request) async throws -> View {
        let (course, user, access) = try await req.course(for: Policy.Action.viewCourse)
        return try await render(req, course, user, access)
    }

    @Sendable static func importFromPage(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.manageCourse)
        let upload = try req.content.decode(RosterUpload.self)
        switch Rosters.parse(Data(buffer: upload.roster.data)) {
        case .failure(let rejected):
            return try await render(req, course, user, access, problems: rejected.problems).encodeResponse(status: .unprocessableEntity, for: req)
        case .success(let rows):
            let summary = try await Rosters.apply(rows, to: course, link: req.application.platformConfig.absolute, writes: req.writes)
            return try await render(req, course, user, access, summary: summary).encodeResponse(for: req)
        }
    }

    @Sendable static func exportCSV(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.manageCourse)
        return .csvDownload(Rosters.csv(try await Rosters.all(of: course, on: req.db)), filename: "\(course.code)-\(course.term)-roster.csv")
    }

    /// GET /courses: the courses the caller has a role in, by code, with that role; ?page=&per=.
    @Sendable static func mine(req: Request) async throws -> Page<CourseDTO> {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        return try await CourseMember.query(on: req.db).filter(\.$user.$id == user.requireID()).filter(\.$leftAt == nil)
            .join(Course.self, on: \CourseMember.$course.$id == \Course.$id).sort(Course.self, \.$code).with(\.$course)
            .paginate(for: req)
            .map { try CourseDTO($0.course, role: $0.role.rawValue) }
    }

    @Sendable static func show(req: Request) async throws -> CourseDTO {
        let (course, _, access) = try await req.course(for: Policy.Action.viewCourse)
        return try CourseDTO(course, access: access)
    }

    /// GET …/roster?page=1&per=50
    @Sendable static func roster(req: Request) async throws -> Page<Rosters.Entry> {
        let (course, _, _) = try await req.course(for: Policy.Action.viewRoster)
        let (number, per) = try req.listPage()
        let (entries, total) = try await Rosters.page(of: course, number: number, per: per, on: req.db)
        return Page(items: entries, metadata: PageMetadata(page: number, per: per, total: total))
    }

    @Sendable static func update(req: Request) async throws -> CourseDTO {
        let (course, _, access) = try await req.course(for: Policy.Action.manageCourse)
        try await Places.updateCourse(course, try req.input(CourseInput.self), on: req.db)
        return try CourseDTO(course, access: access)
    }

    /// PUT …/members: one person in with a role (a new email with a name creates them, with an invitation).
    @Sendable static func setMember(req: Request) async throws -> CourseMemberDTO {
        let (course, _, _) = try await req.course(for: Policy.Action.manageCourse)
        let (member, invitation) = try await People.setMember(CourseMember.self, place: course.requireID(), try req.input(MembershipInput.self),
                                                              allowNewPeople: true, writes: req.writes)
        return CourseMemberDTO(member: member, invitation: invitation.map(req.application.platformConfig.absolute))
    }

    @Sendable static func removeMember(req: Request) async throws -> HTTPStatus {
        let (course, _, _) = try await req.course(for: Policy.Action.manageCourse)
        try await People.removeMember(CourseMember.self, place: course.requireID(), userID: try req.userIDParameter(), on: req.db)
        return .noContent
    }

    // MARK: Page forms

    @Sendable static func updateFromPage(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.manageCourse)
        return try await req.formAction(back: .course(.id(try course.requireID())), render: { try await render(req, course, user, access, page: $0) }) {
            try await Places.updateCourse(course, try req.input(CourseInput.self), on: req.db)
            return "Saved the course's details."
        }
    }

    @Sendable static func setMemberFromPage(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.manageCourse)
        return try await req.formAction(back: .course(.id(try course.requireID())), render: { try await render(req, course, user, access, page: $0) }) {
            var input = try req.input(MembershipInput.self)
            if input.name?.isEmpty == true { input.name = nil }
            let (member, invitation) = try await People.setMember(CourseMember.self, place: course.requireID(), input, allowNewPeople: true, writes: req.writes)
            let added = "\(member.name) is now \(member.role) in \(course.code)."
            guard let invitation else { return added }
            return added + " They have no account yet: give them this invitation link (valid 14 days, once): "
                + req.application.platformConfig.absolute(invitation)
        }
    }

    @Sendable static func removeMemberFromPage(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.manageCourse)
        try await People.removeMember(CourseMember.self, place: course.requireID(), userID: try req.userIDParameter(), on: req.db)
        req.session.data[PageContext.noticeKey] = "Removed them from \(course.code)."
        return req.redirect(to: .course(.id(try course.requireID())))
    }

    /// POST …/roster with the CSV file as the body (text/csv).
    @Sendable static func importCSV(req: Request) async throws -> RosterImportSummary {
        let (course, _, _) = try await req.course(for: Policy.Action.manageCourse)
        guard let body = req.body.data else { throw Abort(.badRequest, reason: "Send the roster CSV as the request body (Content-Type: text/csv).") }
        switch Rosters.parse(Data(buffer: body)) {
        case .failure(let rejected): throw RosterRejection(problems: rejected.problems)
        case .success(let rows): return try await Rosters.apply(rows, to: course, link: req.application.platformConfig.absolute, writes: req.writes)
        }
    }

    static func render(_ req: Request, _ course: Course, _ user: User, _ access: CourseAccess, page: PageContext? = nil,
                               problems: [String]? = nil, summary: RosterImportSummary? = nil) async throws -> View {
        let number = Pager.number(req)
        let roster = Policy.allows(user, .viewRoster(access)) ? try await Rosters.page(of: course, number: number, per: Pager.perPage, on: req.db) : nil
        let form = CourseInput(code: course.code, title: course.title, term: course.term, startsOn: course.startsOn.day, endsOn: course.endsOn.day)
        let canGrade = Policy.allows(user, .grade(access)), now = req.now
        let assignments = try await Assignment.query(on: req.db).filter(\.$course.$id == course.requireID()).sort(\.$dueAt).sort(\.$createdAt)
            .field(\.$id).field(\.$title).field(\.$kind).field(\.$dueAt).field(\.$releaseAt).field(\.$setupStatus).all()
            .filter { canGrade || $0.isReleased(at: now) }
            .map { AssignmentLink(link: SitePath.assignment(.id($0.id!)).url, title: $0.title, kind: $0.kind.rawValue, due: PageFormat.when($0.dueAt),
                                  released: $0.isReleased(at: now), setupStatus: $0.setupStatus.rawValue) }
        let labs = try await LabEnvironment.query(on: req.db).filter(\.$course.$id == course.requireID()).sort(\.$name).all()
            .filter { Policy.allows(user, .viewLab(access, openTo: $0.openTo)) }
            .map { LabRow(link: SitePath.lab(.id($0.id!)).url, name: $0.name, kind: $0.kind.rawValue, openTo: $0.openTo.rawValue, setupStatus: $0.setupStatus.rawValue) }
        let view = CoursePage(title: "\(course.code) \(course.title)", page: page ?? PageContext(req), course: try CourseDTO(course, access: access),
                              links: CourseLinks(try course.requireID()),
                              roster: try roster.map { page in try page.entries.map { CoursePage.Member($0, course: try course.requireID()) } },
                              rosterPager: try roster.map { Pager(path: SitePath.course(.id(try course.requireID())).url, number: number, total: $0.total, noun: "people") },
                              canManage: Policy.allows(user, .manageCourse(access)), problems: problems, summary: summary, form: form,
                              assignments: assignments, canGrade: canGrade, labs: labs, canManageLabs: Policy.allows(user, .manageLabs(access)))
        return try await req.view.render("course", view)
    }
}

struct CourseMemberDTO: Content {
    var member: MemberDTO
    /// For a person who had no account: where they set their password (valid 14 days, once).
    var invitation: String?
}

extension CourseMemberDTO: APIBody {
    static let schemaName = "CourseMember"
    static let schema = JSONSchema.object(["member": .ref(MemberDTO.self), "invitation": .string()], required: ["member"])
    static var parts: [any APIBody.Type] { [MemberDTO.self] }
    static let samples = [CourseMemberDTO(member: MemberDTO.samples[0], invitation: "https://cc.uni.test/set-password?token=abc")]
}
