// Students at risk, for a course's teachers (instructors, the programme's managers, administrators; not TAs, never
// students): decode → authorise (`Policy.Action.watchStudents`) → call `RiskFlags` → encode. Anyone else is answered
// 404 as for a course they may not see, and a flag of another course 404 too.
import Fluent
import Vapor

struct RiskCheckDTO: Content {
    var courseID: UUID
    var checkedAt: Date?
    /// Open flags (not dismissed) after the check.
    var open: Int
}

enum RiskFlagController {
    /// GET /api/v1/courses/:courseID/risk-flags[?dismissed=true]
    @Sendable static func list(req: Request) async throws -> Page<RiskFlagDTO> {
        let (course, _, _) = try await req.course(for: Policy.Action.watchStudents)
        return try await RiskFlags.list(try course.requireID(), dismissed: req.query[Bool.self, at: "dismissed"] ?? false, on: req.db).paginated(for: req)
    }

    /// PATCH /api/v1/courses/:courseID/risk-flags/:flagID
    @Sendable static func change(req: Request) async throws -> RiskFlagDTO {
        let (course, user, _) = try await req.course(for: Policy.Action.watchStudents)
        return try await RiskFlags.change(try flagID(req), in: try course.requireID(), try req.input(RiskFlagChange.self), by: user, now: req.now, on: req.db)
    }

    /// POST /api/v1/courses/:courseID/risk-checks
    @Sendable static func check(req: Request) async throws -> RiskCheckDTO {
        let (course, _, _) = try await req.course(for: Policy.Action.watchStudents)
        try await RiskFlags.checkSoon(course, now: req.now, writes: req.writes)
        let courseID = try course.requireID()
        return RiskCheckDTO(courseID: courseID, checkedAt: try await RiskFlags.checkedAt(courseID, on: req.db),
                            open: try await RiskFlags.list(courseID, dismissed: false, on: req.db).count)
    }

    @Sendable static func page(req: Request) async throws -> View {
        let (course, _, access) = try await req.course(for: Policy.Action.watchStudents)
        return try await render(req, course, access, PageContext(req))
    }

    static func render(_ req: Request, _ course: Course, _ access: CourseAccess, _ page: PageContext) async throws -> View {
        let courseID = try course.requireID(), dismissed = req.query[Bool.self, at: "dismissed"] ?? false
        let flags = try await RiskFlags.list(courseID, dismissed: dismissed, on: req.db)
        return try await req.view.render("course-risk", RiskFlagsPage(
            page: page, course: try CourseDTO(course, access: access), flags: flags, dismissed: dismissed,
            checkedAt: try await RiskFlags.checkedAt(courseID, on: req.db), pageNumber: Pager.number(req)))
    }

    /// The page's "Dismiss" and "Show again".
    @Sendable static func changeFromPage(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.watchStudents)
        let back = SitePath.courseRiskFlags(.id(try course.requireID()))
        return try await req.formAction(back: back, render: { try await render(req, course, access, $0) }) {
            let change = try req.input(RiskFlagChange.self)
            let flag = try await RiskFlags.change(try flagID(req), in: try course.requireID(), change, by: user, now: req.now, on: req.db)
            return change.dismissed ? "Dismissed the flag on \(flag.name)." : "The flag on \(flag.name) is shown again."
        }
    }

    /// The page's "Check now".
    @Sendable static func checkFromPage(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.watchStudents)
        try await RiskFlags.checkSoon(course, now: req.now, writes: req.writes)
        return req.redirect(to: .courseRiskFlags(.id(try course.requireID())))
    }

    private static func flagID(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("flagID", as: UUID.self) else { throw Abort(.notFound) }
        return id
    }
}
