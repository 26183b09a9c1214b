// A programme's analytics, for its managers, its partner contacts and administrators (`viewProgrammeCredits`):
// page, JSON and CSV. Counts of fewer than 5 people are withheld from those `Policy.Action.countFewPeople` does
// not allow (partner contacts).
import Fluent
import Vapor

enum ProgrammeAnalyticsController {
    private static func load(_ req: Request) async throws -> ProgrammeAnalyticsDTO {
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgrammeCredits)
        return try await ProgrammeAnalytics.load(programme, now: req.now, withholdSmallCells: !Policy.allows(user, .countFewPeople(role)), on: req.db)
    }

    /// GET /api/v1/programmes/:programmeID/analytics
    @Sendable static func json(req: Request) async throws -> ProgrammeAnalyticsDTO { try await load(req) }

    /// GET /api/v1/programmes/:programmeID/analytics.csv
    @Sendable static func csv(req: Request) async throws -> Response {
        .csvDownload(ProgrammeAnalytics.csv(try await load(req)), filename: "programme-analytics.csv")
    }

    @Sendable static func page(req: Request) async throws -> View {
        try await req.view.render("programme-analytics", ProgrammeAnalyticsPage(page: PageContext(req), try await load(req)))
    }
}
