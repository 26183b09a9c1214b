// Slows a burst of wrong passwords: after `freeAttempts` failures for an account (or from an address) within the
// window, further attempts are refused for a growing pause, and each refusal is logged. In memory, per process.
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

    /// Seconds to wait before another attempt for any of `keys`, or nil when one may go ahead.
    func wait(for keys: [String], now: Date = Date()) -> Int? {
        records.withLockedValue { records in
            let waits = keys.compactMap { records[$0]?.blockedUntil }.filter { $0 > now }.map { Int($0.timeIntervalSince(now).rounded(.up)) }
            return waits.max()
        }
    }

    func recordFailure(for keys: [String], now: Date = Date()) {
        records.withLockedValue { records in
            for key in keys {
                var record = records[key] ?? Record()
                record.failures = record.failures.filter { now.timeIntervalSince($0) < policy.window } + [now]
                let excess = record.failures.count - policy.freeAttempts
                if excess >= 0 {
                    let pause = min(policy.maxPause, policy.firstPause * pow(2, Double(excess)))
                    record.blockedUntil = now.addingTimeInterval(pause)
                }
                records[key] = record
            }
            if records.count > 100_000 { records = records.filter { $0.value.blockedUntil.map { $0 > now } ?? false } }
        }
    }

    func recordSuccess(for keys: [String]) {
        records.withLockedValue { records in keys.forEach { records[$0] = nil } }
    }
}
