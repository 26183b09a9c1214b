// How a course is doing, for its staff: hand-ins over time, each assignment's score distribution (the gradebook's
// counted scores), per-test pass rates on each student's latest graded attempt, the median time from release to a
// first full autograder score, and per student their credits used (the ledger's figure), AI requests and lab
// minutes; AI use by model. Eleven statements whatever the course's size (CourseInsightsTests counts them).
import Fluent
import Foundation
import Grading
import Insight
import Ledger
import SQLKit
import Vapor

struct CourseOverviewDTO: Content {
    struct DayCount: Content, Equatable { var day: String; var count: Int }
    struct TestRate: Content, Equatable {
        var name: String
        var passed: Int
        /// Students whose latest graded attempt ran this test.
        var total: Int
    }
    struct AssignmentInsight: Content {
        var assignmentID: UUID
        var title: String
        var dueAt: Date?
        var pointsPossible: Double?
        /// Students with a counted score.
        var scored: Int
        var medianScore: Double?
        /// Counted scores in ten equal slices of 0…the assignment's points (or the highest score when it has none).
        var distribution: [Int]
        var distributionMaximum: Double
        /// Students who reached the autograder's full score, and the median hours from release to their first one.
        var fullScores: Int
        var medianHoursToFullScore: Double?
        /// Most failed first.
        var tests: [TestRate]
    }
    struct StudentInsight: Content, Equatable {
        var userID: UUID
        var name: String
        var email: String
        var handIns: Int
        var creditsUsed: Credits
        var aiRequests: Int
        var labMinutes: Int
    }
    struct ModelUse: Content, Equatable {
        var model: String
        var requests: Int
        var tokens: Int
        var credits: Credits
    }
    var courseID: UUID
    var code: String
    var asOf: Date
    var students: Int
    /// From the first hand-in's day to the last's (at most the last 180 days), days without hand-ins included.
    var handInsByDay: [DayCount]
    var assignments: [AssignmentInsight]
    var people: [StudentInsight]
    var aiByModel: [ModelUse]
}

enum CourseInsights {
    static let buckets = 10, longestRange = 180

    static func overview(_ course: Course, now: Date, on db: any Database) async throws -> CourseOverviewDTO {
        let courseID = try course.requireID(), sql = try db.sqlDatabase()
        // 1–4. The gradebook: assignments, students (in natural order), counted scores.
        let gradebook = try await GradebookData.load(course, on: db)
        let students = "JOIN course_members m ON m.course_id = a.course_id AND m.user_id = s.user_id AND m.role = 'student'"

        // 5. Hand-ins per day.
        var perDay: [Int: Int] = [:]
        for row in try await sql.raw("""
            SELECT \(sql.dayNumber("s.submitted_at")) AS day, count(*) AS n FROM submissions s JOIN assignments a ON a.id = s.assignment_id \(unsafeRaw: students)
            WHERE a.course_id = \(bind: courseID) AND s.is_test_run = \(bind: false) GROUP BY 1
            """).all() {
            perDay[try row.decode(column: "day", as: Int.self)] = try row.decode(column: "n", as: Int.self)
        }
        var handInsByDay: [CourseOverviewDTO.DayCount] = []
        if let first = perDay.keys.min(), let last = perDay.keys.max() {
            for day in max(first, last - longestRange + 1)...last {
                handInsByDay.append(.init(day: Stats.dayString(Date(timeIntervalSince1970: Double(day) * 86_400)), count: perDay[day] ?? 0))
            }
        }

        // 6. Pass rates per test, on each student's latest graded attempt.
        var tests: [UUID: [(position: Int, rate: CourseOverviewDTO.TestRate)]] = [:]
        for row in try await sql.raw("""
            SELECT s.assignment_id AS assignment, t.name AS name, min(t.position) AS position, count(DISTINCT s.user_id) AS total,
                   count(DISTINCT CASE WHEN t.passed THEN s.user_id END) AS passed
            FROM submission_tests t JOIN submissions s ON s.id = t.submission_id JOIN assignments a ON a.id = s.assignment_id \(unsafeRaw: students)
            WHERE a.course_id = \(bind: courseID) AND \(latestGraded)
            GROUP BY s.assignment_id, t.name
            """).all() {
            let rate = CourseOverviewDTO.TestRate(name: try row.decode(column: "name", as: String.self), passed: try row.decode(column: "passed", as: Int.self),
                                                  total: try row.decode(column: "total", as: Int.self))
            tests[try row.decode(column: "assignment", as: UUID.self), default: []].append((try row.decode(column: "position", as: Int.self), rate))
        }

        // 7. Each student's first full autograder score per assignment.
        var firstFull: [UUID: [Date]] = [:]
        for row in try await sql.raw("""
            SELECT s.assignment_id AS assignment, min(s.submitted_at) AS at FROM submissions s JOIN assignments a ON a.id = s.assignment_id \(unsafeRaw: students)
            WHERE a.course_id = \(bind: courseID) AND s.is_test_run = \(bind: false) AND s.status = 'graded' AND s.max_score > 0 AND s.score >= s.max_score
            GROUP BY s.assignment_id, s.user_id
            """).all() {
            firstFull[try row.decode(column: "assignment", as: UUID.self), default: []].append(try row.decode(column: "at", as: Date.self))
        }
        // 1 (again, light): release and creation times, which the gradebook's columns do not carry.
        let released = Dictionary(uniqueKeysWithValues: try await Assignment.query(on: db).filter(\.$course.$id == courseID)
            .field(\.$id).field(\.$releaseAt).field(\.$createdAt).all().map { ($0.id!, $0.releaseAt ?? $0.createdAt) })

        let assignments = gradebook.columns.enumerated().map { index, column in
            let scores = gradebook.rows.compactMap { $0.scores[index] }
            let maximum = column.pointsPossible ?? max(scores.max() ?? 0, 1)
            let start = released[column.assignmentID]
            let hours = (firstFull[column.assignmentID] ?? []).map { $0.timeIntervalSince(start ?? $0) / 3_600 }
            return CourseOverviewDTO.AssignmentInsight(
                assignmentID: column.assignmentID, title: column.title, dueAt: column.dueAt, pointsPossible: column.pointsPossible, scored: scores.count,
                medianScore: Stats.median(scores), distribution: Stats.histogram(scores, maximum: maximum, buckets: buckets), distributionMaximum: maximum,
                fullScores: hours.count, medianHoursToFullScore: Stats.median(hours),
                tests: (tests[column.assignmentID] ?? []).sorted {
                    let (a, b) = (Double($0.rate.passed) / Double(max($0.rate.total, 1)), Double($1.rate.passed) / Double(max($1.rate.total, 1)))
                    return a != b ? a < b : $0.position < $1.position
                }.map(\.rate))
        }

        // 8. Credits used per student: their allowance's spent, as the ledger keeps it.
        var credits: [UUID: Int64] = [:]
        for row in try await sql.raw("""
            SELECT user_id AS person, spent FROM ledger_accounts WHERE course_id = \(bind: courseID) AND kind = 'allowance' AND user_id IS NOT NULL
            """).all() {
            credits[try row.decode(column: "person", as: UUID.self), default: 0] += try row.decode(column: "spent", as: Int64.self)
        }
        // 9–10. AI use per student and per model.
        var aiRequests: [UUID: Int] = [:]
        for row in try await sql.raw("SELECT user_id AS person, count(*) AS n FROM ai_usage WHERE course_id = \(bind: courseID) GROUP BY user_id").all() {
            aiRequests[try row.decode(column: "person", as: UUID.self)] = try row.decode(column: "n", as: Int.self)
        }
        let aiByModel = try await aiByModel(.course(courseID, person: nil), on: db).map(\.use)
        // 11. Lab minutes per student.
        let labMinutes = try await labMinutes(courseID: courseID, userID: nil, now: now, on: db)

        let people = gradebook.rows.map { row in
            CourseOverviewDTO.StudentInsight(userID: row.userID, name: row.name, email: row.email, handIns: row.submissions.reduce(0, +),
                                             creditsUsed: Credits(micro: credits[row.userID] ?? 0), aiRequests: aiRequests[row.userID] ?? 0,
                                             labMinutes: labMinutes[row.userID] ?? 0)
        }
        return CourseOverviewDTO(courseID: courseID, code: course.code, asOf: now, students: gradebook.rows.count, handInsByDay: handInsByDay,
                                 assignments: assignments, people: people, aiByModel: aiByModel)
    }

    /// `s` (a hand-in) is a student's latest graded attempt of its assignment, test runs aside (an attempt that could
    /// not be graded has no tests to count).
    static var latestGraded: SQLQueryString {
        """
        s.is_test_run = \(bind: false) AND s.status = 'graded'
          AND NOT EXISTS (SELECT 1 FROM submissions later WHERE later.assignment_id = s.assignment_id AND later.user_id = s.user_id
                          AND later.is_test_run = \(bind: false) AND later.status = 'graded' AND later.attempt > s.attempt)
        """
    }

    /// AI requests, tokens and credits in the course by model (one person's with `userID`). One statement.
    /// Whose AI requests to sum by model: a course's (one person's in it), or a programme's courses' and projects'.
    enum AIScope { case course(UUID, person: UUID?), programme(UUID) }

    /// Requests, tokens and credits per model, with how many people made them, in the natural order of the
    /// models' names. One statement.
    static func aiByModel(_ scope: AIScope, on db: any Database) async throws -> [(use: CourseOverviewDTO.ModelUse, people: Int)] {
        let from: SQLQueryString, filter: SQLQueryString
        switch scope {
        case .course(let courseID, let person):
            from = "ai_usage u"
            filter = person.map { "u.course_id = \(bind: courseID) AND u.user_id = \(bind: $0)" } ?? "u.course_id = \(bind: courseID)"
        case .programme(let programmeID):
            from = "ai_usage u LEFT JOIN courses c ON c.id = u.course_id LEFT JOIN research_projects p ON p.id = u.project_id"
            filter = "c.programme_id = \(bind: programmeID) OR p.programme_id = \(bind: programmeID)"
        }
        return try await db.sqlDatabase().raw("""
            SELECT u.model AS model, count(*) AS n, count(DISTINCT u.user_id) AS people,
                   CAST(coalesce(sum(u.prompt_tokens + u.completion_tokens), 0) AS BIGINT) AS tokens, CAST(coalesce(sum(u.credits), 0) AS BIGINT) AS credits
            FROM \(from) WHERE \(filter) GROUP BY u.model
            """).all().map { row in
            (CourseOverviewDTO.ModelUse(model: try row.decode(column: "model", as: String.self), requests: try row.decode(column: "n", as: Int.self),
                                        tokens: try row.decode(column: "tokens", as: Int.self), credits: Credits(micro: try row.decode(column: "credits", as: Int64.self))),
             try row.decode(column: "people", as: Int.self))
        }.naturallySorted(by: \.use.model)
    }

    /// Minutes in the course's labs per person (one person's with `userID`): ended sessions to their end, running
    /// ones to when they were last seen. One statement.
    static func labMinutes(courseID: UUID, userID: UUID?, now: Date, on db: any Database) async throws -> [UUID: Int] {
        let person: SQLQueryString = userID.map { "AND s.user_id = \(bind: $0)" } ?? ""
        var seconds: [UUID: Double] = [:]
        for row in try await db.sqlDatabase().raw("""
            SELECT s.user_id AS person, s.started_at, s.seen_at, s.stopped_at FROM lab_sessions s JOIN lab_environments l ON l.id = s.lab_id
            WHERE l.course_id = \(bind: courseID) \(person)
            """).all() {
            let started = try row.decode(column: "started_at", as: Date.self), seen = try row.decode(column: "seen_at", as: Date.self)
            let stopped = try row.decode(column: "stopped_at", as: Date?.self)
            seconds[try row.decode(column: "person", as: UUID.self), default: 0] += Stats.sessionSeconds(started: started, seen: seen, stopped: stopped, now: now)
        }
        return seconds.mapValues { Int($0 / 60) }
    }

    /// The overview as CSV in long form, one figure a row (section, assignment, item, value), for a spreadsheet's
    /// pivot table.
    static func csv(_ overview: CourseOverviewDTO) -> String {
        var lines = [CSVCells.row(["section", "assignment", "item", "value"])]
        func add(_ section: String, _ assignment: String, _ item: String, _ value: String) { lines.append(CSVCells.row([section, assignment, item, value])) }
        for day in overview.handInsByDay { add("hand-ins per day", "", day.day, "\(day.count)") }
        for assignment in overview.assignments {
            let slice = assignment.distributionMaximum / Double(buckets)
            for (index, count) in assignment.distribution.enumerated() {
                add("score distribution", assignment.title, "\(Gradebook.number(slice * Double(index)))–\(Gradebook.number(slice * Double(index + 1)))", "\(count)")
            }
            if let median = assignment.medianScore { add("median score", assignment.title, "", Gradebook.number(median)) }
            if let hours = assignment.medianHoursToFullScore { add("median hours to full score", assignment.title, "", String(format: "%.1f", hours)) }
            for test in assignment.tests { add("test passed", assignment.title, test.name, "\(test.passed) of \(test.total)") }
        }
        for person in overview.people {
            add("credits used", "", person.email, "\(person.creditsUsed)")
            add("AI requests", "", person.email, "\(person.aiRequests)")
            add("lab minutes", "", person.email, "\(person.labMinutes)")
        }
        for model in overview.aiByModel { add("AI by model", "", model.model, "\(model.requests) requests, \(model.tokens) tokens, \(model.credits) credits") }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
