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
        id = try course.requireID()
        code = course.code
        title = course.title
        term = course.term
        yourRole = access.courseRole?.rawValue ?? access.programmeRole?.rawValue
    }
}

struct CoursePage: Encodable {
    var title: String
    var page: PageContext
    var course: CourseDTO
    var roster: [Rosters.Entry]?
    var canManage: Bool
    var problems: [String]?
    var summary: RosterImportSummary?
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
        let (course, user, access) = try await req.course(for: Policy.Action.manageRoster)
        let upload = try req.content.decode(RosterUpload.self)
        switch Rosters.parse(Data(buffer: upload.roster.data)) {
        case .failure(let rejected):
            return try await render(req, course, user, access, problems: rejected.problems).encodeResponse(status: .unprocessableEntity, for: req)
        case .success(let rows):
            let summary = try await Rosters.apply(rows, to: course, link: req.application.platformConfig.absolute, on: req.db)
            return try await render(req, course, user, access, summary: summary).encodeResponse(for: req)
        }
    }

    @Sendable static func exportCSV(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.manageRoster)
        let response = Response(status: .ok, body: .init(string: Rosters.csv(try await Rosters.entries(of: course, on: req.db))))
        response.headers.contentType = HTTPMediaType(type: "text", subType: "csv", parameters: ["charset": "utf-8"])
        response.headers.contentDisposition = .init(.attachment, filename: "\(course.code)-\(course.term)-roster.csv")
        return response
    }

    @Sendable static func show(req: Request) async throws -> CourseDTO {
        let (course, _, access) = try await req.course(for: Policy.Action.viewCourse)
        return try CourseDTO(course, access: access)
    }

    /// GET …/roster?page=1&per=50
    @Sendable static func roster(req: Request) async throws -> Page<Rosters.Entry> {
        let (course, _, _) = try await req.course(for: Policy.Action.viewRoster)
        let request = try req.query.decode(PageRequest.self)
        let entries = try await Rosters.entries(of: course, on: req.db)
        let per = max(1, min(request.per ?? 50, 500)), page = max(1, request.page ?? 1)
        let items = Array(entries.dropFirst((page - 1) * per).prefix(per))
        return Page(items: items, metadata: PageMetadata(page: page, per: per, total: entries.count))
    }

    /// POST …/roster with the CSV file as the body (text/csv).
    @Sendable static func importCSV(req: Request) async throws -> RosterImportSummary {
        let (course, _, _) = try await req.course(for: Policy.Action.manageRoster)
        guard let body = req.body.data else { throw Abort(.badRequest, reason: "Send the roster CSV as the request body (Content-Type: text/csv).") }
        switch Rosters.parse(Data(buffer: body)) {
        case .failure(let rejected): throw RosterRejection(problems: rejected.problems)
        case .success(let rows): return try await Rosters.apply(rows, to: course, link: req.application.platformConfig.absolute, on: req.db)
        }
    }

    private static func render(_ req: Request, _ course: Course, _ user: User, _ access: CourseAccess,
                               problems: [String]? = nil, summary: RosterImportSummary? = nil) async throws -> View {
        let roster = Policy.allows(user, .viewRoster(access)) ? try await Rosters.entries(of: course, on: req.db) : nil
        let page = CoursePage(title: "\(course.code) \(course.title)", page: PageContext(req), course: try CourseDTO(course, access: access),
                              roster: roster, canManage: Policy.allows(user, .manageRoster(access)), problems: problems, summary: summary)
        return try await req.view.render("course", page)
    }

    struct PageRequest: Decodable { var page: Int?; var per: Int? }
}
