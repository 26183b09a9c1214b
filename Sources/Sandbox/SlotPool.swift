// Things prepared ahead of need (warm launchers, ready sandboxes): a list of ready slots kept at `target` by one
// long-lived thread. One thread makes every slot and lives as long as the pool: a warm launcher shares that
// thread's memory until it execs, and the kernel treats the creating thread as a spawned process's parent.
import Foundation

final class SlotPool<Slot>: @unchecked Sendable {
    private let target: Int
    private let make: () throws -> Slot
    private let discard: (Slot) -> Void
    private let condition = NSCondition()
    private var ready: [Slot] = []
    private var stopped = false
    private var maker: Thread?

    init(target: Int, make: @escaping () throws -> Slot, discard: @escaping (Slot) -> Void) {
        self.target = target
        self.make = make
        self.discard = discard
    }

    /// A ready slot, or nil when none is ready (the caller then does the work inline). Starts the maker.
    func take() -> Slot? {
        condition.lock()
        let slot = ready.popLast()
        startMaker()
        condition.unlock()
        return slot
    }

    var readyCount: Int { locked { _ in ready.count } }

    /// Wakes the maker (e.g. after a job ended and its resources can be reused).
    func refill() {
        condition.lock()
        startMaker()
        condition.unlock()
    }

    /// Runs `body` under the pool's lock (for state the slots' makers share, such as recycled cgroups); it is
    /// told whether the pool has been shut down.
    func locked<T>(_ body: (_ stopped: Bool) -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body(stopped)
    }

    func shutdown() {
        condition.lock()
        stopped = true
        let slots = ready
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
        slots.forEach(discard)
    }

    /// Caller holds the lock.
    private func startMaker() {
        if maker == nil, !stopped {
            let thread = Thread { [weak self] in self?.makeSlots() }
            thread.stackSize = 512 << 10
            maker = thread
            thread.start()
        }
        condition.broadcast()
    }

    private func makeSlots() {
        condition.lock()
        while !stopped {
            if ready.count >= target {
                condition.wait()
                continue
            }
            condition.unlock()
            let slot = try? make()
            condition.lock()
            guard let slot else {
                _ = condition.wait(until: Date().addingTimeInterval(1))  // e.g. cgroups busy: retry later, never spin
                continue
            }
            if stopped {
                condition.unlock()
                discard(slot)
                condition.lock()
                break
            }
            ready.append(slot)
        }
        condition.unlock()
    }
}
