// What a person sees first: what is due next across their courses (time left, late policy), their latest grades and
// feedback as they may see them, credits left per allowance with four weeks of use, AI requests and lab minutes in
// the last seven days, and unread notices. A fixed number of statements whatever the number of courses,
// assignments or hand-ins (DashboardTests counts them).
import Fluent
import Foundation
import Grading
import Insight
import Ledger
import SQLKit
import Vapor

struct MyDashboardDTO: Content {
    struct Due: Content, Equatable {
        var assignmentID: UUID
        var title: String
        var courseID: UUID
        var course: String
        var dueAt: Date
        /// Seconds until the deadline; negative when it has passed (listed while late hand-ins are still accepted).
        var secondsLeft: Double
        /// `none` (late is accepted as on time), `hard` (not accepted after the deadline) or `penalty:N` (N% a started day).
        var latePolicy: String
        /// Counted hand-ins so far (test runs aside).
        var handedIn: Int
        /// Hand-ins left when the assignment limits them.
        var attemptsLeft: Int?
    }
    struct Grade: Content, Equatable {
        var submissionID: UUID
        var assignmentID: UUID
        var title: String
        var course: String
        var attempt: Int
        var gradedAt: Date?
        /// The score after adjustments and any late penalty, as the student may see it: nil while it is hidden.
        var score: Double?
        var maxScore: Double?
        /// Staff's comments on the hand-in.
        var feedback: [String]
    }
    struct Allowance: Content, Equatable {
        var accountID: UUID
        var name: String
        var free: Credits
        var spent: Credits
        var total: Credits
        /// Credits used on each of the last 28 days (UTC), oldest first.
        var daily: [Credits]
    }
    var dueNext: [Due]
    var latestGrades: [Grade]
    var allowances: [Allowance]
    /// The last seven days.
    var since: Date
    var aiRequests: Int
    var aiCredits: Credits
    var labMinutes: Int
    var notices: [NoticeDTO]
}

enum StudentSummary {
    /// Overdue work stays listed this long while it may still be handed in late.
    static let lateWindow: TimeInterval = 7 * 86_400
    static let dueLimit = 10, gradeLimit = 5, sparkDays = 28

    static func load(for user: User, now: Date, on db: any Database) async throws -> MyDashboardDTO {
        let userID = try user.requireID()
        let sql = try db.sqlDatabase()

        // 1. The courses the person studies in.
        let memberships = try await CourseMember.query(on: db).filter(\.$user.$id == userID).filter(\.$role == .student).filter(\.$leftAt == nil)
            .join(Course.self, on: \CourseMember.$course.$id == \Course.$id).all()
        let courses = Dictionary(try memberships.map { (try $0.joined(Course.self).requireID(), try $0.joined(Course.self)) }, uniquingKeysWith: { a, _ in a })
        // 2. Their released assignments, without the autograder (which can be large).
        let assignments = courses.isEmpty ? [] : try await Assignment.query(on: db).filter(\.$course.$id ~~ Array(courses.keys))
            .field(\.$id).field(\.$course.$id).field(\.$title).field(\.$releaseAt).field(\.$dueAt).field(\.$latePolicyText)
            .field(\.$maxSubmissions).field(\.$gradesPublishedAt).field(\.$pointsPossible).all()
            .filter { $0.isReleased(at: now) }
        let byID = Dictionary(uniqueKeysWithValues: assignments.map { ($0.id!, $0) })
        // 3. The person's counted hand-ins there (light columns only).
        let handIns = byID.isEmpty ? [] : try await Submission.query(on: db).filter(\.$user.$id == userID).filter(\.$isTestRun == false)
            .filter(\.$assignment.$id ~~ Array(byID.keys)).field(\.$id).field(\.$assignment.$id).field(\.$status).field(\.$gradedAt).all()
        let handedIn = Dictionary(grouping: handIns, by: { $0.$assignment.id }).mapValues(\.count)

        let dueNext = assignments.compactMap { assignment -> MyDashboardDTO.Due? in
            guard let due = assignment.dueAt, let course = courses[assignment.$course.id] else { return nil }
            let count = handedIn[assignment.id!] ?? 0
            let stillOpen = due > now || (count == 0 && assignment.latePolicy != .hardDeadline && now.timeIntervalSince(due) < lateWindow)
            guard stillOpen else { return nil }
            return .init(assignmentID: assignment.id!, title: assignment.title, courseID: assignment.$course.id, course: course.code, dueAt: due,
                         secondsLeft: due.timeIntervalSince(now), latePolicy: assignment.latePolicy.text, handedIn: count,
                         attemptsLeft: assignment.maxSubmissions.map { max($0 - count, 0) })
        }.sorted { ($0.dueAt, $0.title) < ($1.dueAt, $1.title) }.prefix(dueLimit)

        // 4–6. The latest graded hand-ins in full, with their adjustments (and their authors), as the student sees them.
        let latestIDs = handIns.filter { $0.status == .graded || $0.status == .failed }
            .sorted { ($0.gradedAt ?? .distantPast) > ($1.gradedAt ?? .distantPast) }.prefix(gradeLimit).compactMap(\.id)
        let latest = latestIDs.isEmpty ? [] : try await Submission.query(on: db).filter(\.$id ~~ latestIDs).all()
        let views = try await Grades.views(latest, assignment: nil, assignments: byID, staff: false, now: now, on: db)
        let grades = views.map { view in
            MyDashboardDTO.Grade(submissionID: view.id, assignmentID: view.assignmentID, title: byID[view.assignmentID]?.title ?? "",
                                 course: byID[view.assignmentID].flatMap { courses[$0.$course.id]?.code } ?? "", attempt: view.attempt,
                                 gradedAt: view.gradedAt, score: view.finalScore, maxScore: view.maxScore,
                                 feedback: view.adjustments.map(\.comment).filter { !$0.isEmpty })
        }.sorted { ($0.gradedAt ?? .distantPast) > ($1.gradedAt ?? .distantPast) }

        // 7–9. Allowances with their names, and what was used from them on each of the last four weeks' days.
        let mine = try await CreditsViews.mine(user, on: db)
        let dayStart = Calendar.utc.startOfDay(for: now), sparkStart = dayStart.addingTimeInterval(-Double(sparkDays - 1) * 86_400)
        var daily: [UUID: [Int64]] = [:]
        for row in try await sql.raw("""
            SELECT e.from_account_id AS account, e.amount AS amount, e.created_at AS at FROM ledger_entries e
            JOIN ledger_accounts a ON a.id = e.from_account_id
            WHERE a.user_id = \(bind: userID) AND a.kind = 'allowance' AND e.kind IN ('settle', 'charge') AND e.created_at >= \(bind: sparkStart)
            """).all() {
            let account = try row.decode(column: "account", as: UUID.self), at = try row.decode(column: "at", as: Date.self)
            let index = Int(at.timeIntervalSince(sparkStart) / 86_400)
            guard (0..<sparkDays).contains(index) else { continue }
            daily[account, default: Array(repeating: 0, count: sparkDays)][index] += try row.decode(column: "amount", as: Int64.self)
        }
        let allowances = mine.map { allowance in
            MyDashboardDTO.Allowance(accountID: allowance.accountID, name: allowance.name, free: allowance.balance.free, spent: allowance.balance.spent,
                                     total: allowance.balance.total,
                                     daily: (daily[allowance.accountID] ?? Array(repeating: 0, count: sparkDays)).map { Credits(micro: $0) })
        }

        // 10–11. AI requests and lab minutes in the last seven days.
        let since = now.addingTimeInterval(-7 * 86_400)
        let ai = try await sql.raw("""
            SELECT count(*) AS n, CAST(coalesce(sum(credits), 0) AS BIGINT) AS credits FROM ai_usage
            WHERE user_id = \(bind: userID) AND created_at >= \(bind: since)
            """).first()
        let sessions = try await LabSession.query(on: db).filter(\.$user.$id == userID).filter(\.$startedAt < now)
            .group(.or) { $0.filter(\.$stoppedAt == nil).filter(\.$stoppedAt >= since) }
            .field(\.$id).field(\.$startedAt).field(\.$seenAt).field(\.$stoppedAt).all()
        let labSeconds = sessions.reduce(0.0) {
            $0 + Stats.sessionSeconds(started: $1.startedAt, seen: $1.seenAt, stopped: $1.stoppedAt, from: since, now: now)
        }

        // 12. Unread notices.
        let notices = try await Notice.query(on: db).filter(\.$user.$id == userID).filter(\.$readAt == nil)
            .sort(\.$createdAt, .descending).limit(20).all().map(NoticeDTO.init)

        return MyDashboardDTO(dueNext: Array(dueNext), latestGrades: grades, allowances: allowances, since: since,
                              aiRequests: try ai?.decode(column: "n", as: Int.self) ?? 0,
                              aiCredits: Credits(micro: try ai?.decode(column: "credits", as: Int64.self) ?? 0),
                              labMinutes: Int(labSeconds / 60), notices: notices)
    }
}

extension MyDashboardDTO: APIBody {
    static let schemaName = "MyDashboard"
    static let schema = JSONSchema.object([
        "dueNext": .array(.object([
            "assignmentID": .string(format: "uuid"), "title": .string(), "courseID": .string(format: "uuid"), "course": .string(),
            "dueAt": .string(format: "date-time"), "secondsLeft": .number(), "latePolicy": .string(), "handedIn": .integer(), "attemptsLeft": .integer(),
        ], required: ["assignmentID", "title", "courseID", "course", "dueAt", "secondsLeft", "latePolicy", "handedIn"])),
        "latestGrades": .array(.object([
            "submissionID": .string(format: "uuid"), "assignmentID": .string(format: "uuid"), "title": .string(), "course": .string(),
            "attempt": .integer(), "gradedAt": .string(format: "date-time"), "score": .number(), "maxScore": .number(), "feedback": .array(.string()),
        ], required: ["submissionID", "assignmentID", "title", "course", "attempt", "feedback"])),
        "allowances": .array(.object([
            "accountID": .string(format: "uuid"), "name": .string(), "free": .credits, "spent": .credits, "total": .credits, "daily": .array(.credits),
        ], required: ["accountID", "name", "free", "spent", "total", "daily"])),
        "since": .string(format: "date-time"), "aiRequests": .integer(), "aiCredits": .credits, "labMinutes": .integer(),
        "notices": .array(.ref(NoticeDTO.self)),
    ], required: ["dueNext", "latestGrades", "allowances", "since", "aiRequests", "aiCredits", "labMinutes", "notices"])
    static var parts: [any APIBody.Type] { [NoticeDTO.self] }
    static var samples: [MyDashboardDTO] {
        [MyDashboardDTO(
            dueNext: [Due(assignmentID: Sample.id, title: "Hello", courseID: Sample.id, course: "CS101", dueAt: Sample.date, secondsLeft: 86_400,
                          latePolicy: "penalty:10", handedIn: 1, attemptsLeft: 4)],
            latestGrades: [Grade(submissionID: Sample.id, assignmentID: Sample.id, title: "Hello", course: "CS101", attempt: 1, gradedAt: Sample.date,
                                 score: 9, maxScore: 10, feedback: ["Good style"])],
            allowances: [Allowance(accountID: Sample.id, name: "CS101", free: Credits(whole: 8), spent: Credits(whole: 2), total: Credits(whole: 10),
                                   daily: [Credits(whole: 0), Credits(whole: 2)])],
            since: Sample.date, aiRequests: 12, aiCredits: Credits(micro: 15_000), labMinutes: 90, notices: NoticeDTO.samples)]
    }
}
