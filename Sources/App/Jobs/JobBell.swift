// Wakes this process's idle workers when this process queues a job, so a hand-in starts grading at once rather
// than at the workers' next look at the queue. Jobs queued by other processes (another `serve`, the CLI) are still
// found by polling: the bell only shortens the wait, the queue in the database stays the one source of work.
import NIOConcurrencyHelpers
import Vapor

final class JobBell: Sendable {
    private struct State {
        var next = 0
        var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = NIOLockedValueBox(State())

    /// Wakes every worker waiting now (call it after the transaction that queued the job has committed).
    func ring() {
        let waiting = state.withLockedValue { state in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        waiting.forEach { $0.resume() }
    }

    /// Returns when the bell rings or after `timeout`, whichever comes first.
    func wait(upTo timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = state.withLockedValue { state in
                state.next += 1
                state.waiting[state.next] = continuation
                return state.next
            }
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.state.withLockedValue { $0.waiting.removeValue(forKey: id) }?.resume()
            }
        }
    }
}

extension Application {
    private struct JobBellKey: StorageKey { typealias Value = JobBell }

    /// This process's job bell (see JobBell), set up by `configure`.
    var jobBell: JobBell {
        get { storage[JobBellKey.self]! }
        set { storage[JobBellKey.self] = newValue }
    }
}
