import Foundation
import Insight
import Testing

@Suite struct RiskRulesTests {
    static let now = ISO8601DateFormatter().date(from: "2026-12-04T12:00:00Z")!
    static let termStart = ISO8601DateFormatter().date(from: "2026-11-01T00:00:00Z")!
    static let termEnd = ISO8601DateFormatter().date(from: "2027-02-28T00:00:00Z")!
    static func hours(_ h: Double) -> Date { now.addingTimeInterval(h * 3_600) }

    static func signals(due: [StudentSignals.Due] = [], attempts: [StudentSignals.Attempt] = [], last: Date? = hours(-1),
                        used: Int64 = 0, total: Int64 = 10) -> StudentSignals {
        StudentSignals(due: due, attempts: attempts, lastActivity: last, memberSince: termStart, allowanceUsed: used, allowanceTotal: total)
    }

    static func rules(_ s: StudentSignals) -> [RiskRule] { RiskRules.evaluate(s, termStart: termStart, termEnd: termEnd, now: now).map(\.rule) }

    @Test func somethingDueWithinTwoDaysAndNothingHandedIn() {
        let flags = RiskRules.evaluate(Self.signals(due: [.init(id: "a1", title: "Loops", dueAt: Self.hours(30), handedIn: false),
                                                         .init(id: "a2", title: "Later", dueAt: Self.hours(60), handedIn: false),
                                                         .init(id: "a3", title: "Done", dueAt: Self.hours(5), handedIn: true),
                                                         .init(id: "a4", title: "Past", dueAt: Self.hours(-5), handedIn: false)]),
                                       termStart: Self.termStart, termEnd: Self.termEnd, now: Self.now)
        #expect(flags == [RiskFlag(rule: .dueSoon, subject: "a1", reason: "“Loops” is due in 1 day 6 h and nothing is handed in.")])
    }

    @Test func theSameTestFailingForThreeDays() {
        func attempt(_ h: Double, _ failing: Set<String>) -> StudentSignals.Attempt { .init(assignment: "a1", title: "Loops", at: Self.hours(h), score: 1, failing: failing) }
        // Failing "edge" since 4 days ago on every attempt: flagged; "basic" failed only on the latest: not.
        let stuck = Self.signals(attempts: [attempt(-96, ["edge"]), attempt(-50, ["edge"]), attempt(-2, ["edge", "basic"])])
        let flags = RiskRules.evaluate(stuck, termStart: Self.termStart, termEnd: Self.termEnd, now: Self.now)
        #expect(flags.map(\.subject) == ["a1/edge"] && flags.first?.reason.contains("for 4 days") == true)
        // Passed in between: the streak starts again.
        #expect(Self.rules(Self.signals(attempts: [attempt(-96, ["edge"]), attempt(-50, []), attempt(-2, ["edge"])])).isEmpty)
        // One attempt long ago is not a pattern of trying.
        #expect(Self.rules(Self.signals(attempts: [attempt(-96, ["edge"])])).isEmpty)
    }

    @Test func manyAttemptsWithoutProgress() {
        func attempts(_ scores: [Double]) -> [StudentSignals.Attempt] {
            scores.enumerated().map { .init(assignment: "a1", title: "Loops", at: Self.hours(Double($0.offset) - 20), score: $0.element, failing: []) }
        }
        #expect(Self.rules(Self.signals(attempts: attempts([3, 3, 3, 3, 3]))) == [.noProgress])
        #expect(Self.rules(Self.signals(attempts: attempts([5, 2, 3, 4, 5, 5]))) == [.noProgress])  // never above the 5 before
        #expect(Self.rules(Self.signals(attempts: attempts([3, 3, 3, 3, 4]))).isEmpty)
        #expect(Self.rules(Self.signals(attempts: attempts([3, 3, 3, 3]))).isEmpty)
    }

    @Test func noActivityForAWeekIsOneFlagPerQuietSpell() {
        let quiet = RiskRules.evaluate(Self.signals(last: Self.hours(-24 * 8)), termStart: Self.termStart, termEnd: Self.termEnd, now: Self.now)
        #expect(quiet == [RiskFlag(rule: .inactive, subject: "since \(Stats.dayString(Self.hours(-24 * 8)))", reason: "No recorded activity (hand-ins, AI requests, labs) for 8 days.")])
        // A week on, still quiet: the same spell, the same flag (a dismissal holds).
        let later = RiskRules.evaluate(Self.signals(last: Self.hours(-24 * 8)), termStart: Self.termStart, termEnd: Self.termEnd, now: Self.hours(24 * 7))
        #expect(later.filter { $0.rule == .inactive }.map(\.subject) == quiet.map(\.subject))
        #expect(Self.rules(Self.signals(last: Self.hours(-24 * 6))).isEmpty)
        // Never active: counted from joining.
        let never = RiskRules.evaluate(Self.signals(last: nil), termStart: Self.termStart, termEnd: Self.termEnd, now: Self.now)
        #expect(never.map(\.rule) == [.inactive] && never[0].reason.hasPrefix("Nothing recorded (hand-ins, AI requests, labs) in the ") && never[0].subject == "never")
    }

    @Test func mostOfTheAllowanceSpentInTheFirstHalfOfTerm() {
        #expect(Self.rules(Self.signals(used: 8, total: 10)) == [.allowanceEarly])
        #expect(Self.rules(Self.signals(used: 7, total: 10)).isEmpty)
        #expect(Self.rules(Self.signals(used: 0, total: 0)).isEmpty)
        let late = RiskRules.evaluate(Self.signals(used: 9, total: 10), termStart: Self.termStart, termEnd: Self.termStart.addingTimeInterval(40 * 86_400),
                                      now: Self.now)
        #expect(late.isEmpty)  // past the middle of a shorter term
    }

    @Test func isoWeeksCrossTheYear() {
        #expect(RiskRules.isoWeek(ISO8601DateFormatter().date(from: "2026-12-31T12:00:00Z")!) == "2026-W53")
        #expect(RiskRules.isoWeek(ISO8601DateFormatter().date(from: "2027-01-04T12:00:00Z")!) == "2027-W01")
    }
}
