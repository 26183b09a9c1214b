// Slows a burst of wrong passwords: after `freeAttempts` attempts for an account (or from an address) within the
// window, further attempts are refused for a growing pause, and each refusal is logged. An attempt is counted before
// its password is checked and taken back if it was right. In memory, per process.
import Foundation
import NIOConcurrencyHelpers

final class SignInThrottle: Sendable {
    struct Policy: Sendable {
        var freeAttempts = 5
        var window: TimeInterval = 15 * 60
        var firstPause: TimeInterval = 30
        var maxPause: TimeInterval = 15 * 60
    }

    private struct Record { var failures: [Date] = []; var blockedUntil: Date? }
    private let policy: Policy
    private let records = NIOLockedValueBox([String: Record]())

    init(policy: Policy = Policy()) { self.policy = policy }

    /// Counts an attempt for every key before its password is checked, in one step under the lock, so concurrent
    /// guesses cannot all slip past the limit: nil when it may go ahead (it is counted as a failure until
    /// `succeeded`), else the seconds to wait. The attempt that uses the last free one starts the pause.
    func begin(_ keys: [String], now: Date = Date()) -> Int? {
        records.withLockedValue { records in
            let waits = keys.compactMap { records[$0]?.blockedUntil }.filter { $0 > now }.map { Int($0.timeIntervalSince(now).rounded(.up)) }
            if let wait = waits.max() { return wait }
            for key in keys {
                var record = records[key] ?? Record()
                record.failures = record.failures.filter { now.timeIntervalSince($0) < policy.window } + [now]
                let excess = record.failures.count - policy.freeAttempts
                if excess >= 0 { record.blockedUntil = now.addingTimeInterval(min(policy.maxPause, policy.firstPause * pow(2, Double(excess)))) }
                records[key] = record
            }
            if records.count > 100_000 { records = records.filter { $0.value.blockedUntil.map { $0 > now } ?? false } }
            return nil
        }
    }

    /// The attempt begun at `now` had the right password: the account's own count starts again; for the other keys
    /// (the address) only this attempt is taken back, so one success does not clear other accounts' guesses.
    func succeeded(account: String, others: [String], now: Date) {
        records.withLockedValue { records in
            records[account] = nil
            for key in others {
                guard var record = records[key] else { continue }
                if let index = record.failures.lastIndex(of: now) { record.failures.remove(at: index) }
                if record.failures.count < policy.freeAttempts { record.blockedUntil = nil }
                records[key] = record
            }
        }
    }
}
