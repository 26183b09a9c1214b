// The programme report: the page (with burn-down charts), JSON and CSV, for the programme's managers and partner
// contacts (and admins). Counts only; ProgrammeReport builds it.
import Fluent
import Foundation
import Vapor

enum ReportController {
    /// The report as the signed-in person may see it: counts of 1 to 4 people withheld from partner contacts.
    private static func load(_ req: Request) async throws -> (Programme, ProgrammeReportDTO) {
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgrammeCredits)
        return (programme, try await ProgrammeReport.load(programme, withholdSmallCells: !Policy.allows(user, .seePeople(role)), on: req.db))
    }

    @Sendable static func page(req: Request) async throws -> View {
        let (programme, report) = try await load(req)
        let charts = report.courses.map { ReportPage.Place(name: "\($0.code) \($0.title)", chart: BurnDownChart.svg($0.burnDown, title: "Credits remaining in \($0.code)")) }
            + report.projects.map { ReportPage.Place(name: $0.title, chart: BurnDownChart.svg($0.burnDown, title: "Credits remaining in \($0.title)")) }
        return try await req.view.render("report", ReportPage(
            title: "Report: \(programme.name)", page: PageContext(req), report: report, links: ProgrammeLinks(report.programme.id),
            chart: BurnDownChart.svg(report.burnDown, title: "Programme credits remaining by day"),
            statuses: report.projectsByStatus.sorted { $0.key < $1.key }.map { .init(name: $0.key, count: $0.value) }, charts: charts))
    }

    @Sendable static func json(req: Request) async throws -> ProgrammeReportDTO {
        try await load(req).1
    }

    @Sendable static func csv(req: Request) async throws -> Response {
        .csvDownload(ProgrammeReport.csv(try await load(req).1), filename: "programme-report.csv")
    }
}
