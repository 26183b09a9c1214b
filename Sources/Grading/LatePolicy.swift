// What lateness costs: nothing, a penalty per started day, or no submission at all after the deadline.
import Foundation

public enum LatePolicy: Sendable, Equatable, Codable {
    case none
    /// Percent of the score taken per started day late (the score never goes below zero).
    case penaltyPerDay(percent: Int)
    case hardDeadline

    /// Started days after `due` (0 when on time).
    public static func daysLate(submittedAt: Date, due: Date?) -> Int {
        guard let due, submittedAt > due else { return 0 }
        return Int((submittedAt.timeIntervalSince(due) / 86_400).rounded(.up))
    }

    /// Whether a submission at this time is accepted at all.
    public func accepts(submittedAt: Date, due: Date?) -> Bool {
        self != .hardDeadline || Self.daysLate(submittedAt: submittedAt, due: due) == 0
    }

    /// The score after the penalty.
    public func apply(_ score: Double, submittedAt: Date, due: Date?) -> Double {
        guard case .penaltyPerDay(let percent) = self else { return score }
        let days = Self.daysLate(submittedAt: submittedAt, due: due)
        return max(0, score * (1 - Double(percent * days) / 100))
    }

    /// As stored and typed in forms: `none`, `hard`, or `penalty:N`.
    public init?(text: String) {
        let text = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch text {
        case "none", "": self = .none
        case "hard": self = .hardDeadline
        default:
            guard text.hasPrefix("penalty:"), let percent = Int(text.dropFirst(8)), (1...100).contains(percent) else { return nil }
            self = .penaltyPerDay(percent: percent)
        }
    }

    public var text: String {
        switch self {
        case .none: "none"
        case .hardDeadline: "hard"
        case .penaltyPerDay(let percent): "penalty:\(percent)"
        }
    }
}
