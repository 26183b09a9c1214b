// Students at risk, for a course's teachers: the rules of `Insight.RiskRules` run over what the platform already
// records, per course, by the periodic sweep (each course in its term at most hourly) or by a teacher's "Check now".
// Flags are kept in `risk_flags`, one per (course, student, rule, subject): a situation raises one flag however often
// it is checked, a flag whose situation has passed is cleared (kept, no longer shown), and a dismissed flag stays
// dismissed while it lasts. Reading a course costs seven statements whatever its size (RiskFlagTests counts them);
// claiming it one, recording its flags one upsert per 300 flags and one to clear the rest.
import Fluent
import Foundation
import Insight
import SQLKit
import Vapor

struct RiskFlagDTO: Content, Equatable {
    var id: UUID
    var userID: UUID
    var name: String
    var email: String
    /// due_soon, failing_test, no_progress, inactive or allowance_early (`RiskRule`).
    var rule: String
    /// What the flag is about: an assignment id, "assignment id/test name", an ISO week, "allowance".
    var subject: String
    var reason: String
    var raisedAt: Date
    /// When a check last found the situation.
    var seenAt: Date
    var dismissedAt: Date?
    var dismissedBy: String?
}

/// A teacher dismissing a flag (or taking the dismissal back).
struct RiskFlagChange: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case dismissed }
    typealias Fields = CodingKeys
    var dismissed: Bool
}

enum RiskFlags {
    /// How often the sweep checks a course in its term; a teacher's "Check now" does nothing within a minute of the
    /// last check.
    static let interval: TimeInterval = 3_600, soonest: TimeInterval = 60
    /// How far back graded attempts are read: the rules are about the weeks just past.
    static let lookBack: TimeInterval = 28 * 86_400
    /// How long after its last day a course is still checked.
    static let afterTerm: TimeInterval = 7 * 86_400
    static let chunk = 300

    /// Courses checked per sweep at most, the longest unchecked first, so the worker that sweeps soon claims jobs again.
    static let perSweep = 20

    /// The periodic task: courses in their term not checked within the hour. A course that fails to check is logged
    /// and tried at a later sweep; the others go on. Another worker checking the same course meanwhile wins it.
    @Sendable static func sweep(_ app: Application) async throws {
        let now = app.clock.now()
        let due = try await app.db.sqlDatabase().raw("""
            SELECT c.id AS id FROM courses c LEFT JOIN risk_checks r ON r.course_id = c.id
            WHERE c.starts_on <= \(bind: now) AND c.ends_on >= \(bind: now.addingTimeInterval(-afterTerm))
              AND (r.checked_at IS NULL OR r.checked_at <= \(bind: now.addingTimeInterval(-interval)))
            ORDER BY CASE WHEN r.checked_at IS NULL THEN 0 ELSE 1 END, r.checked_at LIMIT \(unsafeRaw: String(perSweep))
            """).all().map { try $0.decode(column: "id", as: UUID.self) }
        for id in due {
            guard let course = try await Course.find(id, on: app.db) else { continue }
            do { try await check(course, now: now, unlessCheckedSince: now.addingTimeInterval(-interval), writes: app.writes) } catch {
                app.logger.warning("At-risk check of course \(id) failed: \(String(describing: error)); tried again at the next sweep")
            }
        }
    }

    /// Checks one course now and records its flags; returns how many situations were found, or nil when the course
    /// was checked after `unlessCheckedSince` (by another worker, or a teacher) and is left as that check found it.
    /// The course is claimed first (its `risk_checks` row, conditionally), in the same transaction as the reading and
    /// the writing, so two checks of one course run one after the other and the later one sees the earlier's claim.
    @discardableResult
    static func check(_ course: Course, now: Date, unlessCheckedSince: Date? = nil, writes: Writes) async throws -> Int? {
        let courseID = try course.requireID(), run = UUID(), claimBefore = unlessCheckedSince ?? now
        return try await writes.transaction { tx in
            let sql = try tx.sqlDatabase()
            let claimed = try await sql.raw("""
                INSERT INTO risk_checks (id, course_id, checked_at) VALUES (\(bind: UUID()), \(bind: courseID), \(bind: now))
                ON CONFLICT (course_id) DO UPDATE SET checked_at = excluded.checked_at WHERE risk_checks.checked_at <= \(bind: claimBefore)
                RETURNING id
                """).all()
            guard !claimed.isEmpty else { return nil }
            let found = try await signals(course, now: now, on: tx).flatMap { user, signals in
                RiskRules.evaluate(signals, termStart: course.startsOn, termEnd: course.endsOn, now: now).map { (user, $0) }
            }
            for start in stride(from: 0, to: found.count, by: chunk) {
                let part = found[start..<min(start + chunk, found.count)]
                var insert = sql.insert(into: "risk_flags")
                    .columns("id", "course_id", "user_id", "rule", "subject", "reason", "raised_at", "seen_at", "check_id")
                for (user, flag) in part {
                    insert = insert.values(SQLBind(UUID()), SQLBind(courseID), SQLBind(user), SQLBind(flag.rule.rawValue), SQLBind(flag.subject),
                                           SQLBind(flag.reason), SQLBind(now), SQLBind(now), SQLBind(run))
                }
                // A situation that had passed and is back is a new flag: raised now, not dismissed.
                try await insert.onConflict(with: ["course_id", "user_id", "rule", "subject"]) {
                    $0.set(excludedValueOf: "reason").set(excludedValueOf: "seen_at").set(excludedValueOf: "check_id")
                        .set(SQLColumn("raised_at"), to: SQLQueryString("CASE WHEN risk_flags.cleared_at IS NULL THEN risk_flags.raised_at ELSE excluded.raised_at END"))
                        .set(SQLColumn("dismissed_at"), to: SQLQueryString("CASE WHEN risk_flags.cleared_at IS NULL THEN risk_flags.dismissed_at END"))
                        .set(SQLColumn("dismissed_by"), to: SQLQueryString("CASE WHEN risk_flags.cleared_at IS NULL THEN risk_flags.dismissed_by END"))
                        .set("cleared_at", to: SQLLiteral.null)
                }.run()
            }
            // What this check did not find has passed.
            try await sql.raw("""
                UPDATE risk_flags SET cleared_at = \(bind: now) WHERE course_id = \(bind: courseID) AND cleared_at IS NULL AND check_id <> \(bind: run)
                """).run()
            return found.count
        }
    }

    /// "Check now" from a teacher: at most once a minute per course (a second press within it shows the same).
    static func checkSoon(_ course: Course, now: Date, writes: Writes) async throws {
        try await check(course, now: now, unlessCheckedSince: now.addingTimeInterval(-soonest), writes: writes)
    }

    /// What the rules need to know of each current student, in seven statements.
    static func signals(_ course: Course, now: Date, on db: any Database) async throws -> [UUID: StudentSignals] {
        let courseID = try course.requireID(), sql = try db.sqlDatabase()
        let dueFrom = now, dueTo = now.addingTimeInterval(RiskRules.dueWindow)
        // 1. The students who have not left.
        var people: [UUID: StudentSignals] = [:]
        for row in try await sql.raw("""
            SELECT user_id, joined_at FROM course_members WHERE course_id = \(bind: courseID) AND role = 'student' AND left_at IS NULL
            """).all() {
            // Quiet since they joined, or since the course began if they joined before it (or before joins were kept).
            let joined = try row.decode(column: "joined_at", as: Date?.self)
            people[try row.decode(column: "user_id", as: UUID.self)] = StudentSignals(
                due: [], attempts: [], lastActivity: nil, memberSince: min(now, max(course.startsOn, joined ?? course.startsOn)),
                allowanceUsed: 0, allowanceTotal: 0)
        }
        guard !people.isEmpty else { return [:] }
        // 2. Released assignments due within the window, and 3. who has handed each in.
        let soon = try await sql.raw("""
            SELECT id, title, due_at FROM assignments WHERE course_id = \(bind: courseID) AND due_at > \(bind: dueFrom) AND due_at <= \(bind: dueTo)
              AND (release_at IS NULL OR release_at <= \(bind: now))
            """).all().map { (try $0.decode(column: "id", as: UUID.self), try $0.decode(column: "title", as: String.self), try $0.decode(column: "due_at", as: Date.self)) }
        var handedIn = Set<String>()
        for row in try await sql.raw("""
            SELECT DISTINCT s.user_id AS person, s.assignment_id AS assignment FROM submissions s JOIN assignments a ON a.id = s.assignment_id
            WHERE a.course_id = \(bind: courseID) AND s.is_test_run = \(bind: false) AND a.due_at > \(bind: dueFrom) AND a.due_at <= \(bind: dueTo)
            """).all() {
            handedIn.insert("\(try row.decode(column: "person", as: UUID.self)) \(try row.decode(column: "assignment", as: UUID.self))")
        }
        for person in people.keys {
            people[person]?.due = soon.map { .init(id: $0.0.uuidString, title: $0.1, dueAt: $0.2, handedIn: handedIn.contains("\(person) \($0.0)")) }
        }
        // 4. Graded attempts of the weeks just past, and 5. the tests each failed.
        let recent: SQLQueryString = """
            a.course_id = \(bind: courseID) AND s.is_test_run = \(bind: false) AND s.status = 'graded' AND s.submitted_at >= \(bind: now.addingTimeInterval(-lookBack))
            """
        var failing: [UUID: Set<String>] = [:]
        for row in try await sql.raw("""
            SELECT t.submission_id AS attempt, t.name AS name FROM submission_tests t JOIN submissions s ON s.id = t.submission_id
            JOIN assignments a ON a.id = s.assignment_id WHERE \(recent) AND t.passed = \(bind: false)
            """).all() {
            failing[try row.decode(column: "attempt", as: UUID.self), default: []].insert(try row.decode(column: "name", as: String.self))
        }
        for row in try await sql.raw("""
            SELECT s.id AS id, s.user_id AS person, s.assignment_id AS assignment, a.title AS title, s.submitted_at AS at, s.score AS score
            FROM submissions s JOIN assignments a ON a.id = s.assignment_id WHERE \(recent)
            """).all() {
            let person = try row.decode(column: "person", as: UUID.self)
            guard people[person] != nil else { continue }
            people[person]?.attempts.append(.init(
                assignment: try row.decode(column: "assignment", as: UUID.self).uuidString, title: try row.decode(column: "title", as: String.self),
                at: try row.decode(column: "at", as: Date.self), score: try row.decode(column: "score", as: Double?.self) ?? 0,
                failing: failing[try row.decode(column: "id", as: UUID.self)] ?? []))
        }
        // 6. The last thing each did in the course: a hand-in, an AI request, a lab session.
        for row in try await sql.raw("""
            SELECT person, max(at) AS at FROM (
              SELECT s.user_id AS person, s.submitted_at AS at FROM submissions s JOIN assignments a ON a.id = s.assignment_id
              WHERE a.course_id = \(bind: courseID) AND s.is_test_run = \(bind: false)
              UNION ALL SELECT user_id AS person, created_at AS at FROM ai_usage WHERE course_id = \(bind: courseID)
              UNION ALL SELECT l.user_id AS person, l.seen_at AS at FROM lab_sessions l JOIN lab_environments e ON e.id = l.lab_id WHERE e.course_id = \(bind: courseID)
            ) activity GROUP BY person
            """).all() {
            let person = try row.decode(column: "person", as: UUID.self)
            if people[person] != nil { people[person]?.lastActivity = try row.decode(column: "at", as: Date?.self) }
        }
        // 7. Each student's allowance in the course: what is spent of all it was given.
        for row in try await sql.raw("""
            SELECT user_id AS person, balance, held, spent FROM ledger_accounts WHERE course_id = \(bind: courseID) AND kind = 'allowance' AND user_id IS NOT NULL
            """).all() {
            let person = try row.decode(column: "person", as: UUID.self)
            guard people[person] != nil else { continue }
            let spent = try row.decode(column: "spent", as: Int64.self)
            people[person]?.allowanceUsed += spent
            people[person]?.allowanceTotal += spent + (try row.decode(column: "balance", as: Int64.self)) + (try row.decode(column: "held", as: Int64.self))
        }
        return people
    }

    static func checkedAt(_ courseID: UUID, on db: any Database) async throws -> Date? {
        try await db.sqlDatabase().raw("SELECT checked_at FROM risk_checks WHERE course_id = \(bind: courseID)").first()?
            .decode(column: "checked_at", as: Date.self)
    }

    /// The columns a flag is shown with (`decode` reads them).
    private static let shown = """
        SELECT f.id, f.user_id, u.display_name AS name, u.email, f.rule, f.subject, f.reason, f.raised_at, f.seen_at, f.dismissed_at,
               d.display_name AS dismisser
        FROM risk_flags f JOIN users u ON u.id = f.user_id LEFT JOIN users d ON d.id = f.dismissed_by
        """

    private static func decode(_ row: any SQLRow) throws -> RiskFlagDTO {
        RiskFlagDTO(id: try row.decode(column: "id", as: UUID.self), userID: try row.decode(column: "user_id", as: UUID.self),
                    name: try row.decode(column: "name", as: String.self), email: try row.decode(column: "email", as: String.self),
                    rule: try row.decode(column: "rule", as: String.self), subject: try row.decode(column: "subject", as: String.self),
                    reason: try row.decode(column: "reason", as: String.self), raisedAt: try row.decode(column: "raised_at", as: Date.self),
                    seenAt: try row.decode(column: "seen_at", as: Date.self), dismissedAt: try row.decode(column: "dismissed_at", as: Date?.self),
                    dismissedBy: try row.decode(column: "dismisser", as: String?.self))
    }

    /// The course's open flags (or its dismissed ones; one student's with `userID`), students in natural order.
    /// One statement.
    static func list(_ courseID: UUID, dismissed: Bool, userID: UUID? = nil, on db: any Database) async throws -> [RiskFlagDTO] {
        let person: SQLQueryString = userID.map { "AND f.user_id = \(bind: $0)" } ?? ""
        return try await db.sqlDatabase().raw("""
            \(unsafeRaw: shown)
            WHERE f.course_id = \(bind: courseID) AND f.cleared_at IS NULL AND f.dismissed_at IS \(unsafeRaw: dismissed ? "NOT NULL" : "NULL") \(person)
            ORDER BY u.sort_key, u.email, f.rule, f.raised_at, f.subject
            """).all().map(decode)
    }

    /// Dismisses a flag of the course (or takes the dismissal back); 404 for a flag of another course.
    static func change(_ flagID: UUID, in courseID: UUID, _ change: RiskFlagChange, by user: User, now: Date, on db: any Database) async throws -> RiskFlagDTO {
        let sql = try db.sqlDatabase()
        guard try await sql.raw("SELECT id FROM risk_flags WHERE id = \(bind: flagID) AND course_id = \(bind: courseID)").first() != nil else {
            throw Abort(.notFound, reason: "No such flag in this course.")
        }
        if change.dismissed {
            try await sql.raw("""
                UPDATE risk_flags SET dismissed_at = \(bind: now), dismissed_by = \(bind: try user.requireID())
                WHERE id = \(bind: flagID) AND dismissed_at IS NULL
                """).run()
        } else {
            try await sql.raw("UPDATE risk_flags SET dismissed_at = NULL, dismissed_by = NULL WHERE id = \(bind: flagID)").run()
        }
        return try await one(flagID, on: db)
    }

    private static func one(_ flagID: UUID, on db: any Database) async throws -> RiskFlagDTO {
        guard let row = try await db.sqlDatabase().raw("\(unsafeRaw: shown) WHERE f.id = \(bind: flagID)").first() else { throw Abort(.notFound) }
        return try decode(row)
    }
}
