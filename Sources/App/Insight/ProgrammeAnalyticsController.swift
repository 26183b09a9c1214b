// A programme's analytics, for its managers, its partner contacts and administrators (`viewProgrammeCredits`):
// page, JSON and CSV. Counts of fewer than 5 people are withheld from those `Policy.Action.seePeople` does
// not allow (partner contacts).
import Fluent
import Vapor

enum ProgrammeAnalyticsController {
    private static func load(_ req: Request) async throws -> ProgrammeAnalyticsDTO {
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgrammeCredits)
        return try await ProgrammeAnalytics.load(programme, now: req.now, withholdSmallCells: !Policy.allows(user, .seePeople(role)), on: req.db)
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

extension ProgrammeAnalyticsController {
    /// GET /api/v1/programmes/:programmeID/events?from=&to=&format=csv|jsonl (and the page's download): the
    /// programme's events over the days asked, people pseudonymised for this export unless the viewer may see them.
    @Sendable static func events(req: Request) async throws -> Response {
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgrammeCredits)
        let asked = try EventsExport.Request(try req.query.decode(EventsQuery.self), now: req.now)
        let people = EventsExport.People(pseudonymous: !Policy.allows(user, .seePeople(role)))
        let (programmeID, db) = (try programme.requireID(), req.db)
        let response = Response(status: .ok, body: .init(managedAsyncStream: { writer in
            try await EventsExport.write(programmeID: programmeID, asked, people: people, on: db) { text in
                try await writer.writeBuffer(ByteBuffer(string: text))
            }
        }))
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        let name = "events-\(day.string(from: asked.from))-to-\(day.string(from: asked.to.addingTimeInterval(-86_400))).\(asked.format.rawValue)"
        response.headers.contentType = asked.format == .csv ? HTTPMediaType(type: "text", subType: "csv", parameters: ["charset": "utf-8"])
                                                            : HTTPMediaType(type: "application", subType: "jsonl", parameters: ["charset": "utf-8"])
        response.headers.contentDisposition = .init(.attachment, filename: name)
        return response
    }
}
