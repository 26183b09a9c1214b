// Sandboxes set up ahead of need. A ready sandbox is bwrap, started with everything a job of its shape needs
// (namespaces, mounts, its own job folder, uid, cgroups, pipes), blocked on --block-fd before it runs anything.
// A job then writes its limits into the cgroups, its files into the folder, and a run script into a read-only
// control folder (/.campuscloud), and unblocks bwrap: /bin/sh runs the script, which lowers the rlimits to the
// job's, exports the job's environment and execs its command. Every isolation property is the same as for a
// sandbox started on demand; only the time of the set-up moves. Shapes: the system view (host or a built layer)
// and the work path; jobs with network are never pre-started.
import Foundation
import Glibc
import CSandboxSpawn

final class ReadyPool: @unchecked Sendable {
    struct Shape: Hashable, Sendable {
        var layer: SandboxLayer?
        /// The layer folder's inode: a rebuilt layer is a new folder, so sandboxes prepared on the old one are not used.
        var layerInode: UInt64 = 0
        var workPath: String

        /// The shape of a job on `view`; nil for a layer's setup (never prepared ahead).
        init?(_ job: SandboxJob, view: SystemView) {
            workPath = job.workPath
            switch view {
            case .host: layer = nil
            case .layer(let layer, false):
                var info = stat()
                guard stat(layer.path, &info) == 0 else { return nil }
                self.layer = layer
                layerInode = UInt64(info.st_ino)
            case .layer(_, true): return nil
            }
        }

        /// The system view its sandboxes see.
        var view: SystemView { layer.map { .layer($0, building: false) } ?? .host }

        /// How a sandbox of this shape is started: bwrap with `arguments`, as `uid`, over the layer's overlays, with
        /// only the core-dump limit (each job sets its own limits inside; lowering is always allowed).
        func spec(host: Sandbox.Host, arguments: [String], uid: UInt32?) -> ExecSpec {
            ExecSpec(launcher: host.bwrap, arguments: arguments, rlimits: [cc_rlimit(resource: CC_RLIMIT_CORE, soft: 0, hard: 0)], uid: uid,
                     overlays: layer.map { LayerMounts.overlays(layer: $0, building: false,
                                                                composedEtc: host.arguments.composedEtcFolder(of: $0, network: false) != nil) } ?? [])
        }
    }

    final class Slot {
        let pid: pid_t
        let pidfd: Int32
        let uid: UInt32?
        let folder: JobFolder
        let control: String
        let cgroup: JobCgroup?
        let stdin: Int32
        let pipes: JobPipes
        var block: Int32

        init(pid: pid_t, pidfd: Int32, uid: UInt32?, folder: JobFolder, control: String, cgroup: JobCgroup?, stdin: Int32, pipes: JobPipes, block: Int32) {
            self.pid = pid
            self.pidfd = pidfd
            self.uid = uid
            self.folder = folder
            self.control = control
            self.cgroup = cgroup
            self.stdin = stdin
            self.pipes = pipes
            self.block = block
        }

        /// Still blocked and waiting (not killed while idle).
        var isAlive: Bool {
            var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            return poll(&entry, 1, 0) == 0
        }
    }

    typealias Environment = PoolEnvironment

    static let controlPath = "/.campuscloud"
    let shape: Shape
    private let environment: Environment
    private let id = String(UUID().uuidString.lowercased().prefix(8))
    private var slots: SlotPool<Slot>!
    private(set) var lastUsed = ContinuousClock.now

    init(shape: Shape, environment: Environment, target: Int) {
        self.shape = shape
        self.environment = environment
        slots = SlotPool(target: target, make: { [weak self] in
            guard let self else { throw SandboxError.hostFailure("the sandbox was shut down") }
            return try self.makeSlot()
        }, discard: { [environment] in Self.discard($0, environment: environment) })
    }

    func take() -> Slot? {
        lastUsed = .now
        while let candidate: Slot = slots.take() {
            if candidate.isAlive { return candidate }
            Self.discard(candidate, environment: environment)
        }
        return nil
    }

    /// Gives the slot its job and lets it run. The caller watches the returned launch and calls `finish`.
    func go(_ slot: Slot, job: SandboxJob, rlimits: [cc_rlimit]) throws -> Launch {
        try slot.cgroup?.apply(job.limits)
        if slot.folder.mounted {
            _ = mount("tmpfs", slot.folder.path, "tmpfs", UInt(MS_REMOUNT | MS_NOSUID | MS_NODEV), "size=\(job.limits.diskMB << 20)")
        }
        let owner = slot.uid.map { (uid: $0, gid: $0) }
        try slot.folder.place(job.files, executables: job.executables, copyFrom: job.copyFrom, owner: owner)
        if let output = job.outputDirectory { try slot.folder.ensureFolder(output, owner: owner) }
        try StdinFile.fill(slot.stdin, with: job.stdin)
        try RunScript.write(RunScript.make(command: job.command, environment: job.environment, rlimits: rlimits), to: slot.control + "/run")
        let started = ContinuousClock.now
        var go: UInt8 = 1
        guard write(slot.block, &go, 1) == 1 else { throw SandboxError.hostFailure("the ready sandbox did not take its job") }
        close(slot.block)
        slot.block = -1
        return Launch(pid: slot.pid, stdout: slot.pipes.stdoutRead, stderr: slot.pipes.stderrRead, status: slot.pipes.statusRead, started: started)
    }

    /// After the job (its result delivered): remove its folder, recycle its groups, free its uid, refill.
    func finish(_ slot: Slot) {
        Self.release(slot, environment: environment)
        slots.refill()
    }

    private static func release(_ slot: Slot, environment: Environment) {
        close(slot.pidfd)
        close(slot.stdin)
        if slot.block >= 0 { close(slot.block) }
        try? FileManager.default.removeItem(atPath: slot.control)
        environment.release(Seat(uid: slot.uid, folder: slot.folder, cgroup: slot.cgroup))
    }

    func refill() { slots.refill() }
    var readyCount: Int { slots.readyCount }

    func shutdown() { slots.shutdown() }

    deinit { shutdown() }

    // MARK: - Making ready sandboxes

    private static func discard(_ slot: Slot, environment: Environment) {
        Launcher.reap(slot.pid)
        slot.pipes.closeReadEnds()
        release(slot, environment: environment)
    }

    private func makeSlot() throws -> Slot {
        let host = environment.host
        let name = "ready-\(id)-" + UUID().uuidString.lowercased()
        var undo = Cleanup()
        do {
            let seat = try environment.seat(named: name, undo: &undo)
            let control = environment.jobsRoot + "/" + JobFolder.ownedName(name) + ".ctl"
            guard mkdir(control, 0o755) == 0 else { throw SandboxError.hostFailure("cannot create \(control)") }
            undo.add { try? FileManager.default.removeItem(atPath: control) }
            let pipes = try JobPipes.make()
            let stdin = try StdinFile.make(nil)
            var block: [Int32] = [-1, -1]
            guard cc_pipe_cloexec(&block) == 0 else { throw SandboxError.hostFailure("cannot create pipes") }

            let template = SandboxJob(command: ["/bin/sh", Self.controlPath + "/run"], workPath: shape.workPath)
            let arguments = host.arguments.arguments(for: template, jobFolder: seat.folder.path, view: shape.view,
                                                     control: (folder: control, blockFD: 4))
            // The run script sets the job's own limits (lowering is always allowed).
            let spec = shape.spec(host: host, arguments: arguments, uid: seat.uid)
            let spawned = Launcher.spawn(spec, stdin: stdin, pipes: pipes, blockFD: block[0], cgroupProcs: seat.cgroup?.procsFiles ?? [])
            pipes.closeWriteEnds()
            close(block[0])
            guard case .success(let pid) = spawned else {
                pipes.closeReadEnds()
                close(block[1])
                close(stdin)
                throw SandboxError.hostFailure("could not start a ready sandbox")
            }
            return Slot(pid: pid, pidfd: cc_pidfd_open(pid), uid: seat.uid, folder: seat.folder, control: control, cgroup: seat.cgroup,
                        stdin: stdin, pipes: pipes, block: block[1])
        } catch {
            undo.run()
            throw error
        }
    }
}

/// A pool of sandboxes prepared ahead for one job shape (ready sandboxes, lanes).
protocol PreparedPool: AnyObject {
    var shape: ReadyPool.Shape { get }
    var lastUsed: ContinuousClock.Instant { get }
    func shutdown()
}

extension ReadyPool: PreparedPool {}
extension LanePool: PreparedPool {}

/// What the pools of sandboxes prepared ahead (ready sandboxes, lanes) take their host resources from.
struct PoolEnvironment {
    var host: Sandbox.Host
    var jobsRoot: String
    var spares: SpareCgroups
    var uids: UIDAllocator

    /// A prepared sandbox's own host resources: a uid, a job folder (a tmpfs as root) and cgroups with the default
    /// limits; `undo` gives them back if a later step of the set-up fails.
    func seat(named name: String, undo: inout Cleanup) throws -> Seat {
        let uid = uids.allocate(), uids = self.uids, spares = self.spares
        undo.add { uids.release(uid) }
        let folder = try JobFolder.create(root: jobsRoot, name: name, diskBytes: SandboxLimits().diskMB << 20, owner: uid.map { ($0, $0) })
        undo.add { folder.remove() }
        let cgroup = try spares.take() ?? JobCgroup.create(host.cgroups, name: name)
        if let cgroup { undo.add { spares.put(cgroup) } }
        try cgroup?.apply(SandboxLimits())
        return Seat(uid: uid, folder: folder, cgroup: cgroup)
    }

    /// Gives a seat's resources back (its processes are gone).
    func release(_ seat: Seat) {
        seat.folder.remove()
        if let cgroup = seat.cgroup { spares.put(cgroup) }
        uids.release(seat.uid)
    }
}

struct Seat {
    let uid: UInt32?
    let folder: JobFolder
    let cgroup: JobCgroup?
    var owner: (uid: UInt32, gid: UInt32)? { uid.map { ($0, $0) } }
}

/// The script a ready sandbox runs: the job's limits (rlimits can only be lowered), its environment, its command.
/// Every value is single-quoted; names were validated (see Sandbox.validate).
enum RunScript {
    static func make(command: [String], environment: [String: String], rlimits: [cc_rlimit]) -> String {
        var lines = ["ulimit -c 0 || exit 125"]
        for limit in rlimits {
            switch limit.resource {
            case CC_RLIMIT_CPU: lines.append("ulimit -S -t \(limit.soft) && ulimit -H -t \(limit.hard) || exit 125")  // soft first: it may not exceed the hard limit
            case CC_RLIMIT_AS: lines.append("ulimit -v \(limit.hard / 1024) || exit 125")
            case CC_RLIMIT_FSIZE: lines.append("ulimit -f \(limit.hard / 512) || exit 125")
            case CC_RLIMIT_NOFILE: lines.append("ulimit -n \(limit.hard) || exit 125")
            case CC_RLIMIT_NPROC: lines.append("ulimit -p \(limit.hard) || exit 125")
            default: break
            }
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) { lines.append("export \(name)=\(quote(value))") }
        lines.append("exec " + command.map(quote).joined(separator: " "))
        return lines.joined(separator: "\n") + "\n"
    }

    static func quote(_ value: String) -> String {
        guard value.utf8.contains(UInt8(ascii: "'")) else { return "'" + value + "'" }
        return "'" + value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
    }

    /// Puts the script in place for the sandbox to read (written beside it, then renamed over it).
    static func write(_ script: String, to path: String) throws {
        guard ForkLock.writeFile(path + ".new", Array(script.utf8), mode: 0o644), rename(path + ".new", path) == 0 else {
            throw SandboxError.hostFailure("cannot write the job's run script")
        }
    }
}
