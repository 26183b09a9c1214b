// At-risk signals from what the platform already records, as plain values: a student is flagged with a reason a
// teacher can act on, never a verdict. Each flag has a subject (which assignment, which test, which week) so that
// the same situation raises one flag however often it is computed, and a dismissed flag stays dismissed.
import Foundation

public enum RiskRule: String, CaseIterable, Sendable, Codable {
    /// An assignment is due within 48 hours and nothing is handed in.
    case dueSoon = "due_soon"
    /// The same test has failed on every graded attempt for at least 3 days.
    case failingTest = "failing_test"
    /// Five or more graded attempts at an assignment without the best score going up in the last five.
    case noProgress = "no_progress"
    /// Nothing recorded (hand-in, AI request, lab session) for 7 days.
    case inactive = "inactive"
    /// 80% of the allowance used in the first half of the course's term.
    case allowanceEarly = "allowance_early"
}

extension RiskRule {
    /// The rule in a few words, for a list of flags.
    public var label: String {
        switch self {
        case .dueSoon: "Due soon, nothing handed in"
        case .failingTest: "Failing the same test"
        case .noProgress: "Attempts without progress"
        case .inactive: "No activity for a week"
        case .allowanceEarly: "Allowance nearly spent early"
        }
    }
}

public struct RiskFlag: Equatable, Sendable {
    public var rule: RiskRule
    /// What it is about, stable across runs: an assignment id, "assignment/test", a quiet spell ("since 2026-11-20",
    /// "never"), "allowance".
    public var subject: String
    public var reason: String
    public init(rule: RiskRule, subject: String, reason: String) { (self.rule, self.subject, self.reason) = (rule, subject, reason) }
}

/// What is known of one student in one course.
public struct StudentSignals: Sendable {
    public struct Due: Sendable { public var id: String; public var title: String; public var dueAt: Date; public var handedIn: Bool
        public init(id: String, title: String, dueAt: Date, handedIn: Bool) { (self.id, self.title, self.dueAt, self.handedIn) = (id, title, dueAt, handedIn) } }
    /// One graded attempt: when, its autograder score, and the tests it failed.
    public struct Attempt: Sendable { public var assignment: String; public var title: String; public var at: Date; public var score: Double; public var failing: Set<String>
        public init(assignment: String, title: String, at: Date, score: Double, failing: Set<String>) { (self.assignment, self.title, self.at, self.score, self.failing) = (assignment, title, at, score, failing) } }
    public var due: [Due]
    public var attempts: [Attempt]
    public var lastActivity: Date?
    public var memberSince: Date
    public var allowanceUsed: Int64
    public var allowanceTotal: Int64
    public init(due: [Due], attempts: [Attempt], lastActivity: Date?, memberSince: Date, allowanceUsed: Int64, allowanceTotal: Int64) {
        (self.due, self.attempts, self.lastActivity, self.memberSince, self.allowanceUsed, self.allowanceTotal) = (due, attempts, lastActivity, memberSince, allowanceUsed, allowanceTotal)
    }
}

public enum RiskRules {
    public static let dueWindow: TimeInterval = 48 * 3_600
    public static let failingDays = 3
    public static let noProgressAttempts = 5
    public static let inactiveDays = 7
    public static let allowanceShare = 0.8

    public static func evaluate(_ s: StudentSignals, termStart: Date, termEnd: Date, now: Date) -> [RiskFlag] {
        var flags: [RiskFlag] = []
        for item in s.due where !item.handedIn && item.dueAt > now && item.dueAt.timeIntervalSince(now) <= dueWindow {
            flags.append(.init(rule: .dueSoon, subject: item.id, reason: "“\(item.title)” is due in \(TimeLeft.describe(seconds: item.dueAt.timeIntervalSince(now)).replacingOccurrences(of: " left", with: "")) and nothing is handed in."))
        }
        let byAssignment = Dictionary(grouping: s.attempts, by: \.assignment)
        for (assignment, attempts) in byAssignment.sorted(by: { $0.key < $1.key }) {
            let ordered = attempts.sorted { $0.at < $1.at }
            guard let latest = ordered.last else { continue }
            // Tests failing on the latest attempt and on every attempt back to one at least 3 days earlier.
            for test in latest.failing.sorted() {
                var since = latest.at
                for attempt in ordered.reversed() { guard attempt.failing.contains(test) else { break }; since = attempt.at }
                let days = now.timeIntervalSince(since) / 86_400
                if days >= Double(failingDays) && ordered.count > 1 {
                    flags.append(.init(rule: .failingTest, subject: "\(assignment)/\(test)",
                                       reason: "The test “\(test)” of “\(latest.title)” has failed on every attempt for \(Int(days)) days."))
                }
            }
            if ordered.count >= noProgressAttempts {
                let before = ordered.dropLast(noProgressAttempts).map(\.score).max()
                let recent = ordered.suffix(noProgressAttempts).map(\.score)
                let improved = before.map { best in recent.contains { $0 > best } } ?? (recent.max()! > recent.first!)
                if !improved {
                    flags.append(.init(rule: .noProgress, subject: assignment,
                                       reason: "\(ordered.count) attempts at “\(latest.title)” and the score has not gone up in the last \(noProgressAttempts)."))
                }
            }
        }
        let quietSince = s.lastActivity ?? s.memberSince
        if now.timeIntervalSince(quietSince) >= Double(inactiveDays) * 86_400 {
            // One flag per quiet spell (named by its last activity), so a dismissal holds while the spell lasts.
            let days = Int(now.timeIntervalSince(quietSince) / 86_400)
            flags.append(.init(rule: .inactive, subject: s.lastActivity.map { "since " + Stats.dayString($0) } ?? "never", reason: s.lastActivity == nil
                ? "Nothing recorded (hand-ins, AI requests, labs) in the \(days) days they have been in the course."
                : "No recorded activity (hand-ins, AI requests, labs) for \(days) days."))
        }
        let half = termStart.addingTimeInterval(termEnd.timeIntervalSince(termStart) / 2)
        if s.allowanceTotal > 0, now < half, Double(s.allowanceUsed) >= allowanceShare * Double(s.allowanceTotal) {
            flags.append(.init(rule: .allowanceEarly, subject: "allowance",
                               reason: "\(Int((Double(s.allowanceUsed) / Double(s.allowanceTotal) * 100).rounded(.down)))% of the allowance is used before the middle of the term."))
        }
        return flags
    }

    /// "2026-W49" (ISO 8601 week, UTC).
    public static func isoWeek(_ date: Date) -> String {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
        return String(format: "%04d-W%02d", parts.yearForWeekOfYear!, parts.weekOfYear!)
    }
}
