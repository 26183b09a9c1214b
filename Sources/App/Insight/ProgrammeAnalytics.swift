// What a programme's credits bought, for its managers and its partner: the grant used against the time elapsed, the
// credits spent by meter (grading sandboxes, AI models, labs, research jobs) week by week and per course and project,
// cost per active learner, research outputs per 1,000 credits, AI use by model. Every credit figure is read from the
// ledger's journal (settled and charged uses), so the meters add up to the accounts' spent; what a use was for is
// told by its hold's key, which each area writes in its own form. Counts of people below `SmallCells.minimum` are
// withheld from those who may not see them (partner contacts). Seven statements whatever the programme's size.
import Fluent
import Foundation
import Insight
import Ledger
import SQLKit
import Vapor

struct ProgrammeAnalyticsDTO: Content {
    /// Credits by meter: what each kind of use cost.
    struct Meters: Content, Equatable {
        var grading: Credits = .zero
        var ai: Credits = .zero
        var labs: Credits = .zero
        var jobs: Credits = .zero
        /// Holds made through the API or by hand (not by one of the platform's meters).
        var other: Credits = .zero
        var total: Credits { Credits(micro: grading.micro + ai.micro + labs.micro + jobs.micro + other.micro) }

        mutating func add(_ meter: String, _ micro: Int64) {
            switch meter {
            case "grading": grading = Credits(micro: grading.micro + micro)
            case "ai": ai = Credits(micro: ai.micro + micro)
            case "labs": labs = Credits(micro: labs.micro + micro)
            case "jobs": jobs = Credits(micro: jobs.micro + micro)
            default: other = Credits(micro: other.micro + micro)
            }
        }
    }
    struct Week: Content, Equatable {
        /// The Monday the week starts (UTC).
        var week: String
        var meters: Meters
    }
    struct Place: Content, Equatable {
        /// "course" or "project".
        var kind: String
        var id: UUID
        var name: String
        var used: Meters
        /// Students with a hand-in, an AI request or a lab session in the course; nil for a project, or when fewer
        /// than 5 and the viewer may not see so small a count.
        var activeLearners: Int?
        var costPerActiveLearner: Credits?
        /// A project's recorded outputs, and per 1,000 credits spent.
        var outputs: Int?
        var outputsPerThousandCredits: Double?
    }
    typealias ModelUse = CourseOverviewDTO.ModelUse
    var programmeID: UUID
    var name: String
    var asOf: Date
    var granted: Credits
    var used: Credits
    /// Share of the grant used, and of the programme's time elapsed (0…1).
    var shareUsed: Double
    var shareElapsed: Double
    var activeLearners: Int?
    var costPerActiveLearner: Credits?
    var meters: Meters
    var weeks: [Week]
    var places: [Place]
    var aiByModel: [ModelUse]
    /// Whether counts under 5 people are withheld in this answer.
    var smallCellsWithheld: Bool
}

enum ProgrammeAnalytics {
    /// Which meter a use was for, from its hold's key (`submission:`, `ai-lease:`, `lab:`, `research-job:`).
    static let meterOfHold: SQLQueryString = """
        CASE WHEN h.idempotency_key LIKE 'submission:%' THEN 'grading' WHEN h.idempotency_key LIKE 'ai-lease:%' THEN 'ai'
             WHEN h.idempotency_key LIKE 'lab:%' THEN 'labs' WHEN h.idempotency_key LIKE 'research-job:%' THEN 'jobs' ELSE 'other' END
        """

    static func load(_ programme: Programme, now: Date, withholdSmallCells: Bool, on db: any Database) async throws -> ProgrammeAnalyticsDTO {
        let programmeID = try programme.requireID(), sql = try db.sqlDatabase()
        // 1–2. The programme's courses and projects.
        let courses = try await sql.raw("SELECT id, code, title FROM courses WHERE programme_id = \(bind: programmeID)").all().map {
            (try $0.decode(column: "id", as: UUID.self), "\(try $0.decode(column: "code", as: String.self)) \(try $0.decode(column: "title", as: String.self))")
        }.naturallySorted(by: \.1)
        let projects = try await sql.raw("SELECT id, title FROM research_projects WHERE programme_id = \(bind: programmeID)").all().map {
            (try $0.decode(column: "id", as: UUID.self), try $0.decode(column: "title", as: String.self))
        }.naturallySorted(by: \.1)
        // 3. The grant: what the partner's account gave (its balance runs negative).
        let granted = -(try await sql.raw("""
            SELECT CAST(coalesce(sum(balance), 0) AS BIGINT) AS given FROM ledger_accounts WHERE programme_id = \(bind: programmeID) AND kind = 'partner'
            """).first()?.decode(column: "given", as: Int64.self) ?? 0)
        // 4. Every use, by account's place, meter and day.
        var byPlace: [UUID: ProgrammeAnalyticsDTO.Meters] = [:], byWeek: [Int: ProgrammeAnalyticsDTO.Meters] = [:]
        var meters = ProgrammeAnalyticsDTO.Meters()
        for row in try await sql.raw("""
            SELECT coalesce(a.course_id, a.project_id) AS place, \(meterOfHold) AS meter, \(sql.dayNumber("e.created_at")) AS day,
                   CAST(sum(e.amount) AS BIGINT) AS credits
            FROM ledger_entries e JOIN ledger_holds h ON h.id = e.hold_id JOIN ledger_accounts a ON a.id = e.from_account_id
            WHERE e.programme_id = \(bind: programmeID) AND e.kind IN ('settle', 'charge')
            GROUP BY 1, 2, 3
            """).all() {
            let meter = try row.decode(column: "meter", as: String.self), credits = try row.decode(column: "credits", as: Int64.self)
            let day = try row.decode(column: "day", as: Int.self)
            meters.add(meter, credits)
            byWeek[Stats.weekStart(day), default: .init()].add(meter, credits)
            if let place = try row.decode(column: "place", as: UUID?.self) { byPlace[place, default: .init()].add(meter, credits) }
        }
        // 5. Active learners: students of the programme's courses who handed in, asked the AI or opened a lab there.
        var active: [UUID: Set<UUID>] = [:]
        for row in try await sql.raw("""
            SELECT DISTINCT x.course AS course, x.person AS person FROM (
              SELECT a.course_id AS course, s.user_id AS person FROM submissions s JOIN assignments a ON a.id = s.assignment_id WHERE s.is_test_run = \(bind: false)
              UNION SELECT u.course_id AS course, u.user_id AS person FROM ai_usage u WHERE u.course_id IS NOT NULL
              UNION SELECT e.course_id AS course, l.user_id AS person FROM lab_sessions l JOIN lab_environments e ON e.id = l.lab_id
            ) x JOIN courses c ON c.id = x.course JOIN course_members m ON m.course_id = x.course AND m.user_id = x.person AND m.role = 'student'
            WHERE c.programme_id = \(bind: programmeID)
            """).all() {
            active[try row.decode(column: "course", as: UUID.self), default: []].insert(try row.decode(column: "person", as: UUID.self))
        }
        // 6. Outputs per project.
        var outputs: [UUID: Int] = [:]
        for row in try await sql.raw("""
            SELECT o.project_id AS project, count(*) AS n FROM project_outputs o JOIN research_projects p ON p.id = o.project_id
            WHERE p.programme_id = \(bind: programmeID) GROUP BY o.project_id
            """).all() {
            outputs[try row.decode(column: "project", as: UUID.self)] = try row.decode(column: "n", as: Int.self)
        }
        // 7. AI use by model, in the programme's courses and projects.
        // For a partner, a model fewer than 5 people used is left out: it would point at them.
        let aiByModel = try await CourseInsights.aiByModel(.programme(programmeID), on: db)
            .filter { !withholdSmallCells || $0.people >= SmallCells.minimum }.map(\.use)

        func shown(_ count: Int) -> Int? { SmallCells.shown(count, withheld: withholdSmallCells) }
        func perLearner(_ used: Credits, _ learners: Int?) -> Credits? {
            guard let learners, learners > 0 else { return nil }
            return Credits(micro: used.micro / Int64(learners))
        }
        let places = courses.map { id, name -> ProgrammeAnalyticsDTO.Place in
            let used = byPlace[id] ?? .init(), learners = shown(active[id]?.count ?? 0)
            return .init(kind: "course", id: id, name: name, used: used, activeLearners: learners, costPerActiveLearner: perLearner(used.total, learners))
        } + projects.map { id, name -> ProgrammeAnalyticsDTO.Place in
            let used = byPlace[id] ?? .init(), count = outputs[id] ?? 0
            return .init(kind: "project", id: id, name: name, used: used, outputs: count,
                         outputsPerThousandCredits: used.total.micro > 0 ? Double(count) / (Double(used.total.micro) / 1_000_000_000) : nil)
        }
        // The total next to a withheld cell would give it away (total minus the cells shown): withheld with it.
        let anyWithheld = places.contains { $0.kind == "course" && $0.activeLearners == nil }
        let learners = anyWithheld ? nil : shown(Set(active.values.flatMap { $0 }).count)
        let courseSpending = Credits(micro: courses.reduce(Int64(0)) { $0 + (byPlace[$1.0]?.total.micro ?? 0) })
        let span = programme.endsOn.timeIntervalSince(programme.startsOn)
        return ProgrammeAnalyticsDTO(
            programmeID: programmeID, name: programme.name, asOf: now, granted: Credits(micro: granted), used: meters.total,
            shareUsed: granted > 0 ? Double(meters.total.micro) / Double(granted) : 0,
            shareElapsed: span > 0 ? min(max(now.timeIntervalSince(programme.startsOn) / span, 0), 1) : 1,
            activeLearners: learners, costPerActiveLearner: perLearner(courseSpending, learners), meters: meters,
            weeks: weeks(byWeek, through: Stats.weekStart(Int((now.timeIntervalSince1970 / 86_400).rounded(.down)))),
            places: places, aiByModel: aiByModel, smallCellsWithheld: withholdSmallCells)
    }

    /// Every week from the first with any use to the current one, quiet weeks as zeros.
    static func weeks(_ byWeek: [Int: ProgrammeAnalyticsDTO.Meters], through last: Int) -> [ProgrammeAnalyticsDTO.Week] {
        guard let first = byWeek.keys.min() else { return [] }
        return stride(from: first, through: max(first, last, byWeek.keys.max() ?? first), by: 7).map {
            .init(week: Stats.dayString(Date(timeIntervalSince1970: Double($0) * 86_400)), meters: byWeek[$0] ?? .init())
        }
    }

    /// In long form for a spreadsheet: section, place, item, value.
    static func csv(_ analytics: ProgrammeAnalyticsDTO) -> String {
        var lines = [CSVCells.row(["section", "place", "item", "value"])]
        func add(_ section: String, _ place: String, _ item: String, _ value: String) { lines.append(CSVCells.row([section, place, item, value])) }
        func meters(_ section: String, _ place: String, _ m: ProgrammeAnalyticsDTO.Meters) {
            for (name, value) in [("grading", m.grading), ("ai", m.ai), ("labs", m.labs), ("jobs", m.jobs), ("other", m.other)] { add(section, place, name, "\(value)") }
        }
        add("grant", "", "granted", "\(analytics.granted)")
        add("grant", "", "used", "\(analytics.used)")
        add("grant", "", "share used", String(format: "%.3f", analytics.shareUsed))
        add("grant", "", "share of time elapsed", String(format: "%.3f", analytics.shareElapsed))
        add("learners", "", "active", analytics.activeLearners.map(String.init) ?? SmallCells.withheldText)
        add("learners", "", "cost per active learner", analytics.costPerActiveLearner.map { "\($0)" } ?? "")
        for week in analytics.weeks { meters("credits by week", week.week, week.meters) }
        for place in analytics.places {
            meters("credits by \(place.kind)", place.name, place.used)
            if place.kind == "course" {
                add("active learners", place.name, "", place.activeLearners.map(String.init) ?? SmallCells.withheldText)
                add("cost per active learner", place.name, "", place.costPerActiveLearner.map { "\($0)" } ?? "")
            } else {
                add("outputs", place.name, "", "\(place.outputs ?? 0)")
                add("outputs per 1000 credits", place.name, "", place.outputsPerThousandCredits.map { String(format: "%.2f", $0) } ?? "")
            }
        }
        for model in analytics.aiByModel { add("AI by model", "", model.model, "\(model.requests) requests, \(model.tokens) tokens, \(model.credits) credits") }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
