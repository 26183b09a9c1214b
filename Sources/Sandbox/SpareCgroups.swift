// Emptied cgroups of finished jobs, kept for the next job: a fresh memory cgroup costs the kernel per-group set-up
// on first use, a reused one does not. A group is kept only when no process is left in it.
import Foundation

final class SpareCgroups: @unchecked Sendable {
    private let lock = NSLock()
    private var groups: [JobCgroup] = []
    private var closed = false
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func take() -> JobCgroup? {
        lock.lock()
        defer { lock.unlock() }
        return groups.popLast()
    }

    /// Kills anything left in the group, then keeps it or removes it.
    func put(_ group: JobCgroup) {
        group.killAll()
        lock.lock()
        let keep = !closed && group.members().isEmpty && groups.count < limit
        if keep { groups.append(group) }
        lock.unlock()
        if !keep { group.remove() }
    }

    func removeAll() {
        lock.lock()
        closed = true
        let all = groups
        groups.removeAll()
        lock.unlock()
        all.forEach { $0.remove() }
    }
}
