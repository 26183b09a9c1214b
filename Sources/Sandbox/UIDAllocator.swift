// Host uids for jobs, one job (or ready sandbox) at a time each, when the platform runs as root.
import Foundation

final class UIDAllocator: @unchecked Sendable {
    private let lock = NSLock()
    private let range: ClosedRange<UInt32>
    private let enabled: Bool
    private var inUse = Set<UInt32>()
    private var next: UInt32

    /// `range.upperBound` is kept for the host probe.
    init(range: ClosedRange<UInt32>, enabled: Bool) {
        self.range = range
        self.enabled = enabled
        next = range.lowerBound
    }

    /// A uid no other job holds, or nil when jobs run as this user (not root).
    func allocate() -> UInt32? {
        guard enabled else { return nil }
        lock.lock()
        defer { lock.unlock() }
        for _ in 0..<range.count {
            let candidate = next
            next = next >= range.upperBound - 1 ? range.lowerBound : next + 1
            if !inUse.contains(candidate) {
                inUse.insert(candidate)
                return candidate
            }
        }
        return range.lowerBound  // more concurrent jobs than uids: share (cgroups and namespaces still separate them)
    }

    func release(_ uid: UInt32?) {
        guard let uid else { return }
        lock.lock()
        inUse.remove(uid)
        lock.unlock()
    }
}
