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
    private let spares: SpareCgroups
    private var slots: SlotPool<Slot>!

    init(layout: CgroupLayout, target: Int, spares: SpareCgroups) {
        self.layout = layout
        self.target = target
        self.spares = spares
        slots = SlotPool(target: target, make: { [weak self] in
            guard let self else { throw SandboxError.hostFailure("the sandbox was shut down") }
            return try self.makeSlot()
        }, discard: { $0.discard() })
    }

    /// A ready launcher, or nil (then a plain spawn is better). Keeps the pool filling in the background.
    func take() -> Slot? { slots.take() }

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
        // Under the fork lock, as a spawn: until its exec the launcher shares the platform's memory, and with it the
        // "dumpable" flag its uid change resets, which a layer job's child being spawned meanwhile has just set
        // to write its own uid map (it would fail with "Permission denied").
        let pid = ForkLock.spawning { spec.withRequest { request in cc_warm_go(slot.warm, &request, &failedStep) } }
        let goErrno = errno
        slot.warm.deallocate()
        close(slot.stdin)
        guard pid > 0 else {
            slot.pipes.closeReadEnds()
            return .failure(LaunchFailure(step: failedStep.map { String(cString: $0) } ?? "go", errno: goErrno))
        }
        return .success(Launch(pid: pid, stdout: slot.pipes.stdoutRead, stderr: slot.pipes.stderrRead, status: slot.pipes.statusRead, started: started))
    }

    /// Takes back a finished job's groups for a later job, and refills.
    func recycle(_ cgroup: JobCgroup) {
        spares.put(cgroup)
        slots.refill()
    }

    func refill() { slots.refill() }
    var readyCount: Int { slots.readyCount }

    func shutdown() { slots.shutdown() }

    deinit { shutdown() }

    private func makeSlot() throws -> Slot {
        try makeSlot(reusing: spares.take())
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
            var prepare = cc_spawn_request.closed()
            prepare.stdin_fd = stdin
            prepare.stdout_fd = pipes.stdoutWrite
            prepare.stderr_fd = pipes.stderrWrite
            prepare.extra_fd = pipes.statusWrite
            prepare.setCgroups(cgroups, count: cgroup.procsFiles.count)
            // The filter's descriptor is copied into the launcher now (its descriptors are set before it is ready).
            return SystemCallFilter.withDescriptor { filter in
                prepare.seccomp_fd = filter
                return ForkLock.spawning { cc_warm_start(&prepare, warm, &failedStep) }
            }
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
