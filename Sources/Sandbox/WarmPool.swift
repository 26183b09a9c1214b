// Launchers prepared ahead of need. On cgroup v1, moving a process into a cgroup waits out an RCU grace period
// (the kernel's cgroup_threadgroup_rwsem); three hierarchies cost a job ~10 ms before it can start. A warm
// launcher pays that on the pool's own thread, ahead of time: it has its job's empty cgroups, its pipes, and has
// already joined the cgroups; a job then only sets its limits and sends "go". Every isolation property is the
// same as a plain spawn: the launcher still sets the job's rlimits, session and uid, and execs bwrap.
import Foundation
import Glibc
import CSandboxSpawn

final class WarmPool: @unchecked Sendable {
    final class Slot {
        let warm: UnsafeMutablePointer<cc_warm>
        let cgroup: JobCgroup
        let stdin: Int32
        let pipes: JobPipes

        init(warm: UnsafeMutablePointer<cc_warm>, cgroup: JobCgroup, stdin: Int32, pipes: JobPipes) {
            self.warm = warm
            self.cgroup = cgroup
            self.stdin = stdin
            self.pipes = pipes
        }

        /// Ends an unused launcher and removes what it held.
        func discard() {
            cc_warm_discard(warm)
            warm.deallocate()
            close(stdin)
            pipes.closeReadEnds()
            cgroup.killAll()
            cgroup.remove()
        }
    }

    private let layout: CgroupLayout
    private let target: Int
    /// Names this pool's groups (warm-<id>-…), so several sandboxes in one process keep theirs apart.
    let id = String(UUID().uuidString.lowercased().prefix(8))
    private let condition = NSCondition()
    private var ready: [Slot] = []
    /// Emptied groups of finished jobs, waiting for their next launcher.
    private var spare: [JobCgroup] = []
    private var stopped = false
    private var maker: Thread?

    init(layout: CgroupLayout, target: Int) {
        self.layout = layout
        self.target = target
    }

    /// A ready launcher, or (when none is ready) a plain spawn is better: returns nil. Refills in the background.
    func take() -> Slot? {
        condition.lock()
        let slot = ready.popLast()
        // An empty pool starts filling now; otherwise refills wait until a job ends (see recycle), so that a
        // launcher's cgroup migration does not overlap the start of the job that just took one.
        if ready.isEmpty && slot == nil || maker == nil { startRefillIfNeeded() }
        condition.unlock()
        return slot
    }

    /// Hands the job to the launcher; it execs bwrap with the job's limits, session and uid.
    func go(_ slot: Slot, spec: ExecSpec, limits: SandboxLimits, stdin: Data?) throws -> Result<Launch, LaunchFailure> {
        do {
            try slot.cgroup.apply(limits)
            try StdinFile.fill(slot.stdin, with: stdin)
        } catch {
            slot.discard()
            throw error
        }
        var failedStep: UnsafePointer<CChar>?
        let started = ContinuousClock.now
        let pid = spec.withRequest { request in cc_warm_go(slot.warm, &request, &failedStep) }
        let goErrno = errno
        slot.warm.deallocate()
        close(slot.stdin)
        guard pid > 0 else {
            slot.pipes.closeReadEnds()
            return .failure(LaunchFailure(step: failedStep.map { String(cString: $0) } ?? "go", errno: goErrno))
        }
        return .success(Launch(pid: pid, stdout: slot.pipes.stdoutRead, stderr: slot.pipes.stderrRead, status: slot.pipes.statusRead, started: started))
    }

    /// Takes back a finished job's groups for a later launcher, once every process in them is gone.
    func recycle(_ cgroup: JobCgroup) {
        cgroup.killAll()
        condition.lock()
        let keep = !stopped && cgroup.members().isEmpty && spare.count < target * 2
        if keep { spare.append(cgroup) }
        startRefillIfNeeded()
        condition.unlock()
        if !keep { cgroup.remove() }
    }

    func shutdown() {
        condition.lock()
        stopped = true
        let slots = ready, groups = spare
        ready.removeAll()
        spare.removeAll()
        condition.broadcast()
        condition.unlock()
        slots.forEach { $0.discard() }
        groups.forEach { $0.remove() }
    }

    deinit { shutdown() }

    // MARK: - Making launchers

    /// Caller holds the lock. One thread makes every pooled launcher and lives as long as the pool: a launcher
    /// shares that thread's memory until it execs, and the kernel treats the creating thread as its parent.
    private func startRefillIfNeeded() {
        if maker == nil, !stopped {
            let thread = Thread { [weak self] in self?.makeLaunchers() }
            thread.stackSize = 512 << 10
            maker = thread
            thread.start()
        }
        condition.broadcast()
    }

    private func makeLaunchers() {
        condition.lock()
        while !stopped {
            if ready.count >= target {
                condition.wait()
                continue
            }
            condition.unlock()
            condition.lock()
            let group = spare.popLast()
            condition.unlock()
            let slot = try? makeSlot(reusing: group)
            condition.lock()
            guard let slot else {
                _ = condition.wait(until: Date().addingTimeInterval(1))  // e.g. cgroups busy: retry later, never spin
                continue
            }
            if stopped { condition.unlock(); slot.discard(); condition.lock(); break }
            ready.append(slot)
        }
        condition.unlock()
    }

    private func makeSlot(reusing group: JobCgroup?) throws -> Slot {
        guard let cgroup = try group ?? JobCgroup.create(layout, name: "warm-\(id)-" + UUID().uuidString.lowercased()) else {
            throw SandboxError.hostFailure("warm launchers need cgroups")
        }
        let pipes: JobPipes, stdin: Int32
        do {
            pipes = try JobPipes.make()
            stdin = try StdinFile.make(nil)
        } catch {
            cgroup.remove()
            throw error
        }
        let warm = UnsafeMutablePointer<cc_warm>.allocate(capacity: 1)
        warm.initialize(to: cc_warm())
        var failedStep: UnsafePointer<CChar>?
        let status: Int32 = CStrings.with(cgroup.procsFiles) { cgroups in
            var prepare = cc_spawn_request()
            prepare.stdin_fd = stdin
            prepare.stdout_fd = pipes.stdoutWrite
            prepare.stderr_fd = pipes.stderrWrite
            prepare.extra_fd = pipes.statusWrite
            prepare.setCgroups(cgroups, count: cgroup.procsFiles.count)
            return cc_warm_start(&prepare, warm, &failedStep)
        }
        let startErrno = errno
        pipes.closeWriteEnds()
        guard status == 0 else {
            warm.deallocate()
            close(stdin)
            pipes.closeReadEnds()
            cgroup.remove()
            throw SandboxError.hostFailure(LaunchFailure(step: failedStep.map { String(cString: $0) } ?? "start", errno: startErrno).description)
        }
        return Slot(warm: warm, cgroup: cgroup, stdin: stdin, pipes: pipes)
    }
}
