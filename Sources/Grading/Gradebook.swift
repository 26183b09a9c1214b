// The gradebook's arithmetic: which attempt counts (the latest or the best), what a late penalty leaves, and the
// CSV that Canvas imports. Plain values; the App loads the rows.
import Foundation

/// Which of a student's graded submissions counts for the assignment.
public enum CountedAttempt: String, Codable, Sendable, CaseIterable {
    case latest
    case best
}

/// One graded submission as the gradebook sees it.
public struct GradedAttempt: Sendable, Equatable {
    public var submittedAt: Date
    /// The autograder's score (nil while grading or when it could not grade: then it counts as 0).
    public var autograderScore: Double?
    /// Staff adjustments, summed (kept apart from the autograder's score).
    public var adjustment: Double

    public init(submittedAt: Date, autograderScore: Double?, adjustment: Double) {
        self.submittedAt = submittedAt
        self.autograderScore = autograderScore
        self.adjustment = adjustment
    }

    /// The autograder's score plus adjustments, then the late penalty; never below zero.
    public func score(late: LatePolicy, due: Date?) -> Double {
        late.apply(max(0, (autograderScore ?? 0) + adjustment), submittedAt: submittedAt, due: due)
    }
}

public enum Gradebook {
    /// The score that counts among a student's attempts, given in the order they were handed in (nil when there are
    /// none). Of attempts handed in at the same instant, the last given is the latest.
    public static func counted(_ attempts: [GradedAttempt], rule: CountedAttempt, late: LatePolicy, due: Date?) -> Double? {
        guard var latest = attempts.first else { return nil }
        switch rule {
        case .latest:
            for attempt in attempts.dropFirst() where attempt.submittedAt >= latest.submittedAt { latest = attempt }
            return latest.score(late: late, due: due)
        case .best: return attempts.map { $0.score(late: late, due: due) }.max()
        }
    }

    public struct Column: Sendable {
        public var title: String
        public var pointsPossible: Double?
        public init(title: String, pointsPossible: Double?) {
            self.title = title
            self.pointsPossible = pointsPossible
        }
    }

    public struct Row: Sendable {
        public var name: String
        /// What Canvas matches a row by when there is no Canvas id: the SIS login (the university email here).
        public var login: String
        public var section: String
        public var scores: [Double?]
        public init(name: String, login: String, section: String, scores: [Double?]) {
            self.name = name
            self.login = login
            self.section = section
            self.scores = scores
        }
    }

    /// The gradebook in the column form Canvas imports: Student, ID, SIS User ID, SIS Login ID, Section, then one
    /// column per assignment, with a "Points Possible" row first. An empty cell means no submission.
    public static func canvasCSV(columns: [Column], rows: [Row]) -> String {
        var lines = [(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + columns.map(\.title)).map(csvField).joined(separator: ",")]
        lines.append((["    Points Possible", "", "", "", ""] + columns.map { $0.pointsPossible.map(number) ?? "" }).map(csvField).joined(separator: ","))
        for row in rows {
            lines.append(([row.name, "", "", row.login, row.section] + row.scores.map { $0.map(number) ?? "" }).map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Scores with at most two decimals, without trailing zeros ("7", "7.5", "7.25"), written from whole hundredths
    /// rather than with `String(format:)`, which is slow on Linux (a page of a thousand cells spent tens of ms in it).
    public static func number(_ value: Double) -> String {
        let hundredths = (value * 100).rounded()
        guard hundredths.isFinite, abs(hundredths) < 1e15 else {
            return value.isFinite ? String(format: "%.0f", value) : "0"  // beyond any score; no fraction to show
        }
        let whole = Int(hundredths), magnitude = whole.magnitude, fraction = Int(magnitude % 100)
        let sign = whole < 0 ? "-" : "", units = String(magnitude / 100)
        if fraction == 0 { return sign + units }
        if fraction % 10 == 0 { return sign + units + "." + String(fraction / 10) }
        return sign + units + (fraction < 10 ? ".0" : ".") + String(fraction)
    }

    static func csvField(_ value: String) -> String {
        // A leading = + - @ would be read as a formula by spreadsheets: quote it with an apostrophe.
        var value = value
        if let first = value.first, "=+-@".contains(first), Double(value) == nil { value = "'" + value }
        guard value.contains(where: { ",\"\r\n".contains($0) }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
