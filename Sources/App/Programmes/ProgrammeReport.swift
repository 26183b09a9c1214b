// The programme report for the partner and the university: per course and per project, the credits granted, used
// and remaining (straight from the ledger's accounts) with a burn-down, students reached, assignments graded, AI
// tokens used, batch jobs run, projects by status and their outputs. It holds counts, never a student's name, so
// partner contacts see it as it is. A fixed number of queries whatever the programme's size.
import Fluent
import Foundation
import Insight
import Ledger
import SQLKit
import Vapor

struct ProgrammeReportDTO: Content {
    struct CreditLine: Content, Equatable {
        /// Everything given to the place (or, for the programme, granted by the partner).
        var granted: Credits
        var used: Credits
        var remaining: Credits
    }
    struct CourseLine: Content {
        var id: UUID
        var code: String
        var title: String
        var credits: CreditLine
        /// Students enrolled (nil: 1 to 4, withheld).
        var students: Int?
        var assignments: Int
        /// Students' hand-ins graded (staff test runs not counted).
        var submissionsGraded: Int
        var aiTokens: Int
        var burnDown: [BurnDownPoint]
    }
    struct Output: Content { var kind: String; var title: String; var venue: String; var year: Int?; var doi: String?; var url: String? }
    struct ProjectLine: Content {
        var id: UUID
        var title: String
        var status: String
        var credits: CreditLine
        /// Members (nil: 1 to 4, withheld).
        var members: Int?
        var jobsRun: Int
        var aiTokens: Int
        var outputs: [Output]
        var burnDown: [BurnDownPoint]
    }
    var programme: ProgrammeSummaryDTO
    var generatedAt: Date
    var credits: CreditLine
    /// Distinct students across the programme's courses.
    var studentsReached: Int?
    var submissionsGraded: Int
    var aiTokens: Int
    var jobsRun: Int
    var projectsByStatus: [String: Int]
    var outputsByKind: [String: Int]
    var courses: [CourseLine]
    var projects: [ProjectLine]
    var burnDown: [BurnDownPoint]
    /// Whether counts of 1 to 4 people are withheld (null) in this report: for partner contacts.
    var smallCellsWithheld: Bool
}

enum ProgrammeReport {
    static func load(_ programme: Programme, withholdSmallCells: Bool = false, on db: any Database) async throws -> ProgrammeReportDTO {
        func shown(_ count: Int) -> Int? { SmallCells.shown(count, withheld: withholdSmallCells) }
        let programmeID = try programme.requireID()
        let sql = try db.sqlDatabase()
        let accounts = try await LedgerAccount.query(on: db).filter(\.$programme.$id == programmeID).all()
        let tree = AccountTree(accounts)
        let courses = try await Course.query(on: db).filter(\.$programme.$id == programmeID).all().naturallySorted(by: \.code)
        let projects = try await ResearchProject.query(on: db).filter(\.$programme.$id == programmeID).all().naturallySorted(by: \.title)
        let courseIDs = courses.compactMap(\.id), projectIDs = projects.compactMap(\.id)

        func counts(_ query: SQLQueryString) async throws -> [UUID: Int] {
            var result: [UUID: Int] = [:]
            for row in try await sql.raw(query).all() { result[try row.decode(column: "place", as: UUID.self)] = try row.decode(column: "n", as: Int?.self) ?? 0 }
            return result
        }
        func list(_ ids: [UUID]) -> SQLList { SQLList((ids.isEmpty ? [UUID()] : ids).map { SQLBind($0) }) }
        let students = try await counts("SELECT course_id AS place, count(*) AS n FROM course_members WHERE role = 'student' AND course_id IN (\(list(courseIDs))) GROUP BY course_id")
        let reached = try await sql.raw("SELECT count(DISTINCT user_id) AS n FROM course_members WHERE role = 'student' AND course_id IN (\(list(courseIDs)))")
            .first()?.decode(column: "n", as: Int.self) ?? 0
        let assignments = try await counts("SELECT course_id AS place, count(*) AS n FROM assignments WHERE course_id IN (\(list(courseIDs))) GROUP BY course_id")
        let graded = try await counts("""
            SELECT a.course_id AS place, count(*) AS n FROM submissions s JOIN assignments a ON a.id = s.assignment_id
            WHERE a.course_id IN (\(list(courseIDs))) AND s.status = 'graded' AND s.is_test_run = \(bind: false) GROUP BY a.course_id
            """)
        let courseTokens = try await counts("""
            SELECT course_id AS place, CAST(sum(prompt_tokens + completion_tokens) AS BIGINT) AS n FROM ai_usage
            WHERE course_id IN (\(list(courseIDs))) GROUP BY course_id
            """)
        let projectTokens = try await counts("""
            SELECT project_id AS place, CAST(sum(prompt_tokens + completion_tokens) AS BIGINT) AS n FROM ai_usage
            WHERE project_id IN (\(list(projectIDs))) GROUP BY project_id
            """)
        let members = try await counts("SELECT project_id AS place, count(*) AS n FROM project_members WHERE project_id IN (\(list(projectIDs))) GROUP BY project_id")
        let jobs = try await counts("""
            SELECT project_id AS place, count(*) AS n FROM research_jobs WHERE project_id IN (\(list(projectIDs))) AND status IN ('succeeded', 'failed')
            GROUP BY project_id
            """)
        let outputs = projectIDs.isEmpty ? [] : try await ProjectOutput.query(on: db).filter(\.$project.$id ~~ projectIDs)
            .sort(\.$year, .descending).sort(\.$title).all()
        let entries = try await LedgerEntry.query(on: db).filter(\.$programmeID == programmeID)
            .filter(\.$kind ~~ [.grant, .allocate, .return, .expire, .settle]).sort(\.$createdAt)
            .field(\.$kind).field(\.$amount).field(\.$createdAt).field(\.$fromAccountID).field(\.$toAccountID).all()

        func line(_ allocation: LedgerAccount?) -> ProgrammeReportDTO.CreditLine {
            guard let allocation else { return .init(granted: .zero, used: .zero, remaining: .zero) }
            let balance = tree.rolledUp(allocation)
            return .init(granted: balance.total, used: balance.spent, remaining: Credits(micro: balance.total.micro - balance.spent.micro))
        }
        let allocations = Dictionary(accounts.filter { $0.kind == .course || $0.kind == .project }.compactMap { account in
            (account.courseID ?? account.projectID).map { ($0, account) }
        }, uniquingKeysWith: { first, _ in first })
        let allowances = Dictionary(grouping: accounts.filter { $0.kind == .allowance }, by: { $0.$parent.id })
        func subtree(_ allocation: LedgerAccount?) -> Set<UUID> {
            guard let id = allocation?.id else { return [] }
            return Set([id] + (allowances[id] ?? []).compactMap(\.id))
        }
        let courseLines = courses.map { course in
            ProgrammeReportDTO.CourseLine(
                id: course.id!, code: course.code, title: course.title, credits: line(allocations[course.id!]), students: shown(students[course.id!] ?? 0),
                assignments: assignments[course.id!] ?? 0, submissionsGraded: graded[course.id!] ?? 0, aiTokens: courseTokens[course.id!] ?? 0,
                burnDown: burnDown(entries, place: subtree(allocations[course.id!])))
        }
        let outputsByProject = Dictionary(grouping: outputs, by: { $0.$project.id })
        let projectLines = projects.map { project in
            ProgrammeReportDTO.ProjectLine(
                id: project.id!, title: project.title, status: project.status, credits: line(allocations[project.id!]),
                members: shown(members[project.id!] ?? 0), jobsRun: jobs[project.id!] ?? 0, aiTokens: projectTokens[project.id!] ?? 0,
                outputs: (outputsByProject[project.id!] ?? []).map { .init(kind: $0.kind.rawValue, title: $0.title, venue: $0.venue, year: $0.year, doi: $0.doi, url: $0.url) },
                burnDown: burnDown(entries, place: subtree(allocations[project.id!])))
        }
        let partner = accounts.first { $0.kind == .partner }
        let granted = -(partner?.balance ?? 0)
        let spent = accounts.reduce(Int64(0)) { $0 + $1.spent }
        return ProgrammeReportDTO(
            programme: try ProgrammeViews.summary(programme), generatedAt: Date(),
            credits: .init(granted: Credits(micro: granted), used: Credits(micro: spent), remaining: Credits(micro: granted - spent)),
            // The total next to a withheld cell would give it away (total minus the cells shown): withheld with it.
            studentsReached: courseLines.contains { $0.students == nil } ? nil : shown(reached), submissionsGraded: graded.values.reduce(0, +),
            aiTokens: courseTokens.values.reduce(0, +) + projectTokens.values.reduce(0, +), jobsRun: jobs.values.reduce(0, +),
            projectsByStatus: Dictionary(grouping: projects, by: \.status).mapValues(\.count),
            outputsByKind: Dictionary(grouping: outputs, by: { $0.kind.rawValue }).mapValues(\.count),
            courses: courseLines, projects: projectLines,
            burnDown: burnDown(entries, place: nil), smallCellsWithheld: withholdSmallCells)
    }

    /// Remaining credits at the end of each day with a change: for a place (its allocation and allowances), what
    /// came in from outside minus what went back and what was spent; for the programme (nil), grants minus spending.
    static func burnDown(_ entries: [LedgerEntry], place: Set<UUID>?) -> [BurnDownPoint] {
        var points: [BurnDownPoint] = [], remaining: Int64 = 0
        for entry in entries {
            let change: Int64
            if let place {
                let from = entry.fromAccountID.map(place.contains) ?? false, to = entry.toAccountID.map(place.contains) ?? false
                switch entry.kind {
                case .settle, .charge: change = from ? -entry.amount : 0
                case .grant, .allocate, .return, .expire: change = to && !from ? entry.amount : (from && !to ? -entry.amount : 0)
                default: change = 0
                }
                if place.isEmpty { continue }
            } else {
                change = entry.kind == .grant ? entry.amount : (entry.kind == .settle || entry.kind == .charge ? -entry.amount : 0)
            }
            guard change != 0 else { continue }
            remaining += change
            let day = entry.createdAt.day
            if points.last?.day == day { points[points.count - 1].remaining = Credits(micro: remaining) }
            else { points.append(BurnDownPoint(day: day, remaining: Credits(micro: remaining))) }
        }
        return points
    }

    /// One row per course and per project, in the columns a spreadsheet wants.
    static func csv(_ report: ProgrammeReportDTO) -> String {
        var lines = ["kind,name,status,credits_granted,credits_used,credits_remaining,students,assignments,submissions_graded,members,jobs_run,ai_tokens,outputs"]
        for course in report.courses {
            lines.append(CSVCells.row([ "course", "\(course.code) \(course.title)", "", course.credits.granted.description, course.credits.used.description,
                           course.credits.remaining.description, course.students.map(String.init) ?? SmallCells.withheldText, "\(course.assignments)", "\(course.submissionsGraded)", "", "",
                           "\(course.aiTokens)", "" ]))
        }
        for project in report.projects {
            lines.append(CSVCells.row([ "project", project.title, project.status, project.credits.granted.description, project.credits.used.description,
                           project.credits.remaining.description, "", "", "", project.members.map(String.init) ?? SmallCells.withheldText, "\(project.jobsRun)", "\(project.aiTokens)",
                           "\(project.outputs.count)" ]))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

extension ProgrammeReportDTO: APIBody {
    static let schemaName = "ProgrammeReport"
    static var schema: JSONSchema {
        let credit = JSONSchema.object(["granted": .credits, "used": .credits, "remaining": .credits], required: ["granted", "used", "remaining"])
        let points = JSONSchema.array(.object(["day": .string(format: "date"), "remaining": .credits], required: ["day", "remaining"]))
        let output = JSONSchema.object(["kind": .string(), "title": .string(), "venue": .string(), "year": .integer(), "doi": .string(), "url": .string()],
                                       required: ["kind", "title", "venue"])
        return .object([
            "programme": .ref(ProgrammeSummaryDTO.self), "generatedAt": .string(format: "date-time"), "credits": credit,
            "studentsReached": .integer(), "submissionsGraded": .integer(), "aiTokens": .integer(), "jobsRun": .integer(),
            "projectsByStatus": .map(.integer()), "outputsByKind": .map(.integer()),
            "courses": .array(.object(["id": .string(format: "uuid"), "code": .string(), "title": .string(), "credits": credit, "students": .integer(),
                                       "assignments": .integer(), "submissionsGraded": .integer(), "aiTokens": .integer(), "burnDown": points],
                                      required: ["id", "code", "title", "credits", "assignments", "submissionsGraded", "aiTokens", "burnDown"])),
            "projects": .array(.object(["id": .string(format: "uuid"), "title": .string(), "status": .choice(ProjectStatus.self), "credits": credit,
                                        "members": .integer(), "jobsRun": .integer(), "aiTokens": .integer(), "outputs": .array(output), "burnDown": points],
                                       required: ["id", "title", "status", "credits", "jobsRun", "aiTokens", "outputs", "burnDown"])),
            "burnDown": points, "smallCellsWithheld": .boolean,
        ], required: ["programme", "generatedAt", "credits", "submissionsGraded", "smallCellsWithheld", "aiTokens", "jobsRun", "projectsByStatus",
                      "outputsByKind", "courses", "projects", "burnDown"])
    }
    static var parts: [any APIBody.Type] { [ProgrammeSummaryDTO.self] }
    static var samples: [ProgrammeReportDTO] {
        let credits = CreditLine(granted: Credits(micro: 10_000_000), used: Credits(micro: 4_000_000), remaining: Credits(micro: 6_000_000))
        let burnDown = [BurnDownPoint(day: "2026-11-02", remaining: Credits(micro: 6_000_000))]
        return [ProgrammeReportDTO(
            programme: ProgrammeSummaryDTO.samples[0], generatedAt: Sample.date, credits: credits, studentsReached: 120, submissionsGraded: 900,
            aiTokens: 1_000_000, jobsRun: 12, projectsByStatus: ["active": 2], outputsByKind: ["paper": 1],
            courses: [CourseLine(id: Sample.id, code: "CS101", title: "Programming", credits: credits, students: 120, assignments: 6,
                                 submissionsGraded: 900, aiTokens: 500_000, burnDown: burnDown)],
            projects: [ProjectLine(id: Sample.id, title: "Protein folding", status: "active", credits: credits, members: 4, jobsRun: 12,
                                   aiTokens: 500_000, outputs: [Output(kind: "paper", title: "Folding at scale", venue: "NeurIPS", year: 2026,
                                                                       doi: "10.1000/xyz", url: "https://example.org/paper")],
                                   burnDown: burnDown)],
            burnDown: burnDown, smallCellsWithheld: false)]
    }
}
