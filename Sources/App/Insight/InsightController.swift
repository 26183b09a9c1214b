// The insight pages and their JSON and CSV: decode → authorise (the course's graders) → call a domain function →
// encode. A student of the course, or a stranger, is answered 404 as for any course they may not grade.
import Fluent
import Vapor

enum InsightController {
    /// GET /api/v1/courses/:courseID/overview[?refresh=true]: the snapshot's JSON as kept (at most 15 minutes old;
    /// `asOf` says when it was computed), computed now when asked (unless it was computed within the last minute).
    @Sendable static func overview(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.grade)
        let refresh = req.query[Bool.self, at: "refresh"] ?? false
        let (json, _) = try await CourseInsightSnapshots.current(course, now: req.now, refresh: refresh, byPerson: true, on: req.db)
        let response = Response(status: .ok, body: .init(string: json))
        response.headers.contentType = .json
        return response
    }

    /// GET /api/v1/courses/:courseID/overview.csv
    @Sendable static func overviewCSV(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.grade)
        let overview = try await CourseInsightSnapshots.overview(course, now: req.now, cache: req.application.insightCache, on: req.db)
        return .csvDownload(CourseInsights.csv(overview), filename: "\(course.code)-\(course.term)-overview.csv")
    }

    /// GET /api/v1/courses/:courseID/students/:userID/overview
    @Sendable static func student(req: Request) async throws -> StudentOverviewDTO {
        let (course, _, _) = try await req.course(for: Policy.Action.grade)
        return try await StudentInsights.overview(course, userID: try req.userIDParameter(), now: req.now, on: req.db)
    }

    @Sendable static func overviewPage(req: Request) async throws -> View {
        let (course, user, access) = try await req.course(for: Policy.Action.grade)
        let kept = try await CourseInsightSnapshots.kept(course, now: req.now, cache: req.application.insightCache, on: req.db)
        var page = CourseOverviewPage(page: PageContext(req), course: try CourseDTO(course, access: access), kept.overview, charts: kept.charts,
                                      pageNumber: Pager.number(req))
        page.watch = Policy.allows(user, .watchStudents(access))
        return try await req.view.render("course-overview", page)
    }

    /// The page's "Refresh now": computes the overview again, then shows it.
    @Sendable static func refreshFromPage(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.grade)
        _ = try await CourseInsightSnapshots.current(course, now: req.now, refresh: true, byPerson: true, on: req.db)
        return req.redirect(to: .courseOverview(.id(try course.requireID())))
    }

    @Sendable static func studentPage(req: Request) async throws -> View {
        let (course, user, access) = try await req.course(for: Policy.Action.grade)
        let student = try await StudentInsights.overview(course, userID: try req.userIDParameter(), now: req.now, on: req.db)
        // Their open flags, for those who follow students (not TAs).
        let flags = Policy.allows(user, .watchStudents(access))
            ? try await RiskFlags.list(try course.requireID(), dismissed: false, userID: student.userID, on: req.db) : nil
        return try await req.view.render("course-student", StudentOverviewPage(page: PageContext(req), course: try CourseDTO(course, access: access), student,
                                                                               flags: flags))
    }
}
