// Lanes: sandboxes kept for many jobs, one job at a time. Setting up a bwrap sandbox (exec, seven namespaces, a
// dozen mounts, and the pid namespace's teardown) costs ~5 ms of CPU, as much as a small Python autograder's own
// work; a lane pays it once. A lane is bwrap with every namespace and mount a one-job sandbox of its shape has, whose
// first process is campuscloud-lane (Sources/campuscloud-lane/main.c, pid 1, not dumpable, immune to the jobs'
// signals). For each job the platform sets the lane's cgroup limits, writes the job's files, and sends "run" with
// the job's command, environment and rlimits and its stdin, stdout and stderr; the lane forks the job (which sets
// its rlimits and execs the command), and when its first process ends,
// kills and reaps every other process, clears SysV IPC and keyrings, and reports the exit status and CPU time.
//
// A job never meets anything of the job before it:
//  - no process: all are dead and reaped before the report (and a job stopped by a limit or a cancel takes the
//    whole lane down with it: such a lane is never reused);
//  - no file: every writable place (the work path, /tmp, /dev/shm) is a folder on the lane's host tmpfs that the
//    platform empties as root (never following a link) and gives back its owner, mode and no extended attributes;
//    /dev itself is read-only, and the rest of the view is read-only as in any sandbox;
//  - no IPC object, key or message queue (cleared by the lane, or impossible: RLIMIT_MSGQUEUE is 0);
//  - limits are per job: cgroup limits are set and counters reset before each job, rlimits are set in the job's
//    own process before it execs.
// Anything unexpected (a wipe that fails, a lane that reports itself dirty, a protocol error) throws the lane away.
// A lane also retires after `jobsPerLane` jobs. Jobs with network never use lanes, nor do layer builds.
import Foundation
import Glibc
import CSandboxSpawn

final class Lane: @unchecked Sendable {
    let pid: pid_t
    let pidfd: Int32
    let control: Int32
    let uid: UInt32?
    /// The lane's host tmpfs (work, tmp, shm).
    let folder: JobFolder
    let cgroup: JobCgroup?
    var jobs = 0
    /// Its job is over and its wipe is under way (see LanePool.ended).
    var finishing = false
    /// Set when the lane must not run another job (a job was stopped, or the lane misbehaved).
    var broken = false
    /// The size its tmpfs was last given (remounted only when a job asks for another).
    var diskBytes: Int?

    init(pid: pid_t, pidfd: Int32, control: Int32, uid: UInt32?, folder: JobFolder, cgroup: JobCgroup?) {
        self.pid = pid
        self.pidfd = pidfd
        self.control = control
        self.uid = uid
        self.folder = folder
        self.cgroup = cgroup
    }

    /// The folder the job sees at its work path.
    var work: JobFolder { JobFolder(path: folder.path + "/work", mounted: false) }
    static let writableFolders = ["work", "tmp", "shm"]

    /// Still running (not killed while idle).
    var isAlive: Bool {
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 0
    }

    /// Stops a job that hit a limit: the whole lane goes (bwrap's --die-with-parent takes its namespace down).
    func stop() {
        broken = true
        kill(pid, SIGKILL)
        cgroup?.killAll()
    }
}

final class LanePool: @unchecked Sendable {
    static let jobsPerLane = 1000
    let shape: ReadyPool.Shape
    private let environment: PoolEnvironment
    /// The campuscloud-lane program (a copy under the jobs folder, readable by the lanes' uids).
    private let launcher: String
    /// Counts lanes started (tests check that a lane was reused, or replaced).
    private let started: LaneCounter
    /// Idle lanes kept for later jobs; more may exist while more jobs run at once.
    private let keep: Int
    private let condition = NSCondition()
    private var idle: [Lane] = []
    /// Lanes whose job is over and whose wipe is under way: a job that finds no idle lane waits a moment for one.
    private var finishing = 0
    /// Set when a lane failed to start: until then no lane is tried.
    private var failedUntil: ContinuousClock.Instant?
    private var lastFailure = ""
    private var stopped = false
    private let maker = LongLivedThread(name: "lanes")
    private let id = String(UUID().uuidString.lowercased().prefix(8))
    private(set) var lastUsed = ContinuousClock.now

    init(shape: ReadyPool.Shape, environment: PoolEnvironment, launcher: String, started: LaneCounter, keep: Int) {
        self.shape = shape
        self.environment = environment
        self.launcher = launcher
        self.started = started
        self.keep = keep
    }

    /// An idle lane, or a new one. After a lane failed to start, none is tried for a minute (jobs meanwhile get
    /// sandboxes of their own, rather than each paying a failed start).
    func lane() throws -> Lane {
        lastUsed = .now
        while let candidate = takeIdle() {
            if candidate.isAlive { return candidate }
            destroy(candidate)
        }
        if let failure = condition.withLock({ failedUntil.map { ContinuousClock.now < $0 } == true ? lastFailure : nil }) {
            throw SandboxError.hostFailure(failure)
        }
        // bwrap's --die-with-parent follows the thread that started it: lanes are started by the pool's own thread,
        // which lives as long as the pool (a job's thread ends with its job).
        do {
            return try maker.perform { try self.make() }
        } catch {
            condition.withLock {
                failedUntil = .now + .seconds(60)
                lastFailure = String(describing: error)
            }
            throw error
        }
    }

    var idleCount: Int { condition.withLock { idle.count } }

    /// An idle lane; when none is idle but one is being wiped, waits for it (briefly: a wipe takes a millisecond).
    private func takeIdle() -> Lane? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(0.25)
        while idle.isEmpty, finishing > 0, condition.wait(until: deadline) {}
        return idle.popLast()
    }

    /// Says the lane's job is over (its result is on its way); `finish` follows.
    func ended(_ lane: Lane) {
        condition.withLock {
            if !lane.finishing { finishing += 1 }
            lane.finishing = true
        }
    }

    /// Gives the lane its job. The caller watches the returned launch and then calls `finish`.
    func go(_ lane: Lane, job: SandboxJob, rlimits: [cc_rlimit]) throws -> Launch {
        do {
            var limits = job.limits
            limits.pids += 1  // the lane's own first process
            try lane.cgroup?.apply(limits)
            if lane.folder.mounted, lane.diskBytes != job.limits.diskMB << 20 {
                let size = job.limits.diskMB << 20
                lane.diskBytes = mount("tmpfs", lane.folder.path, "tmpfs", UInt(MS_REMOUNT | MS_NOSUID | MS_NODEV), "size=\(size)") == 0 ? size : nil
            }
            let owner = lane.uid.map { (uid: $0, gid: $0) }
            try lane.work.place(job.files, executables: job.executables, copyFrom: job.copyFrom, owner: owner)
            if let output = job.outputDirectory { try lane.work.ensureFolder(output, owner: owner) }
            var request = lane_request()
            request.kind = Int32(LANE_RUN)
            let environment = Self.environment(of: job)
            request.argc = Int32(job.command.count)
            request.envc = Int32(environment.count)
            withUnsafeMutableBytes(of: &request.limits) { raw in
                let slots = raw.bindMemory(to: lane_limit.self)
                for (index, limit) in rlimits.prefix(Int(LANE_MAX_LIMITS)).enumerated() {
                    slots[index] = lane_limit(resource: limit.resource, reserved: 0, soft: limit.soft, hard: limit.hard)
                }
            }
            request.limit_count = Int32(min(rlimits.count, Int(LANE_MAX_LIMITS)))
            var strings: [UInt8] = []
            for text in job.command + environment { strings += Array(text.utf8) + [0] }
            guard MemoryLayout<lane_request>.size + strings.count <= Int(LANE_MAX_REQUEST) else {
                throw SandboxError.invalidJob("the job's command and environment are longer than \(LANE_MAX_REQUEST / 1024) KB")
            }
            let stdin = try StdinFile.make(job.stdin)
            defer { close(stdin) }
            let pipes = try JobPipes.make()
            let started = ContinuousClock.now
            let sent = strings.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    cc_lane_send_run(lane.control, &request, $0.baseAddress, $0.count, stdin, pipes.stdoutWrite, pipes.stderrWrite)
                }
            }
            pipes.closeWriteEnds()
            close(pipes.statusRead)
            guard sent == 0 else {
                close(pipes.stdoutRead)
                close(pipes.stderrRead)
                throw SandboxError.hostFailure("the sandbox lane did not take its job")
            }
            lane.jobs += 1
            return Launch(pid: lane.pid, stdout: pipes.stdoutRead, stderr: pipes.stderrRead, status: -1, started: started, lane: lane)
        } catch {
            lane.broken = true
            throw error
        }
    }

    /// What a sandbox of its own would give the job (bwrap's --setenv), with the job's own variables over it.
    static func environment(of job: SandboxJob) -> [String] {
        BwrapArguments.environment(home: job.workPath).merging(job.environment, uniquingKeysWith: { _, job in job })
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// After the job (its result delivered): empty the lane's folders and keep it for the next job, or throw it away.
    func finish(_ lane: Lane) {
        var reusable = !lane.broken && lane.jobs < Self.jobsPerLane && lane.isAlive
        if reusable {
            let owner = lane.uid ?? getuid()
            for name in Lane.writableFolders where cc_wipe_folder(lane.folder.path + "/" + name, owner, owner, 0o755) != 0 {
                reusable = false
            }
        }
        let kept: Bool = condition.withLock {
            if lane.finishing { finishing -= 1 }
            lane.finishing = false
            defer { condition.broadcast() }
            guard reusable, !stopped, idle.count < keep else { return false }
            idle.append(lane)
            return true
        }
        if !kept { destroy(lane) }
    }

    func shutdown() {
        let lanes: [Lane] = condition.withLock {
            stopped = true
            defer { idle.removeAll() }
            return idle
        }
        lanes.forEach(destroy)
        maker.stop()
    }

    deinit { shutdown() }

    // MARK: - Making and ending lanes

    private func destroy(_ lane: Lane) {
        Launcher.reap(lane.pid)
        lane.cgroup?.killAll()
        close(lane.pidfd)
        close(lane.control)
        environment.release(Seat(uid: lane.uid, folder: lane.folder, cgroup: lane.cgroup))
    }

    private func make() throws -> Lane {
        let host = environment.host
        var undo = Cleanup()
        do {
            let seat = try environment.seat(named: "lane-\(id)-" + UUID().uuidString.lowercased(), undo: &undo)
            let folder = seat.folder
            chmod(folder.path, 0o711)  // bwrap, as the lane's uid, binds the folders inside
            for sub in Lane.writableFolders {
                let path = folder.path + "/" + sub
                guard mkdir(path, 0o755) == 0 else { throw SandboxError.hostFailure("cannot create \(path)") }
                if let owner = seat.owner { _ = chown(path, owner.uid, owner.gid) }
            }

            var sockets: [Int32] = [-1, -1]
            guard cc_lane_socketpair(&sockets) == 0 else { throw SandboxError.hostFailure("cannot create the lane's socket") }
            undo.add { close(sockets[0]) }
            let output = try StdinFile.make(nil)  // what bwrap or the lane say if they cannot start
            defer { close(output) }
            let template = SandboxJob(command: [BwrapArguments.LaneMounts.launcherPath], workPath: shape.workPath)
            let arguments = host.arguments.arguments(for: template, jobFolder: folder.path, view: shape.view,
                                                     lane: .init(folder: folder.path, launcher: launcher))
            let spec = shape.spec(host: host, arguments: arguments, uid: seat.uid)
            let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { close(devNull) }
            let pipes = JobPipes(stdoutRead: -1, stdoutWrite: output, stderrRead: -1, stderrWrite: output, statusRead: -1, statusWrite: sockets[1])
            let spawned = Launcher.spawn(spec, stdin: devNull, pipes: pipes, cgroupProcs: seat.cgroup?.procsFiles ?? [])
            close(sockets[1])
            guard case .success(let pid) = spawned else {
                throw SandboxError.hostFailure("could not start a sandbox lane")
            }
            let pidfd = cc_pidfd_open(pid)
            let lane = Lane(pid: pid, pidfd: pidfd, control: sockets[0], uid: seat.uid, folder: folder, cgroup: seat.cgroup)
            started.increment()
            guard Self.waitForHello(lane) else {
                Launcher.reap(pid)
                close(pidfd)
                lseek(output, 0, SEEK_SET)
                var said = [UInt8](repeating: 0, count: 2048)
                let count = max(0, read(output, &said, said.count))
                let text = String(decoding: said[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                throw SandboxError.hostFailure("a sandbox lane did not start" + (text.isEmpty ? "" : ": " + text))
            }
            return lane
        } catch {
            undo.run()
            throw error
        }
    }

    /// Waits (up to 10 s) for the lane's first report, which says it is up and speaks our protocol.
    private static func waitForHello(_ lane: Lane) -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            var fds = [pollfd(fd: lane.control, events: Int16(POLLIN), revents: 0), pollfd(fd: lane.pidfd, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, 200)
            if ready < 0 && errno != EINTR { return false }
            if fds[0].revents != 0 {
                var report = lane_report()
                return cc_lane_receive(lane.control, &report) == 1 && report.kind == LANE_HELLO && report.version == LANE_PROTOCOL_VERSION
            }
            if fds[1].revents != 0 { return false }
        }
        return false
    }
}

final class LaneCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// A thread that runs work handed to it, one piece at a time, until stopped; the parent thread of whatever it spawns.
final class LongLivedThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [() -> Void] = []
    private var stopped = false
    private var thread: Thread?
    private let name: String

    init(name: String) { self.name = name }

    /// Runs `body` on the thread and waits for its result.
    func perform<T>(_ body: @escaping () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, Error> = .failure(SandboxError.hostFailure("the sandbox was shut down"))
        condition.lock()
        guard !stopped else {
            condition.unlock()
            throw SandboxError.hostFailure("the sandbox was shut down")
        }
        queue.append {
            result = Result { try body() }
            done.signal()
        }
        if thread == nil {
            let thread = Thread { [weak self] in self?.loop() }
            thread.name = name
            thread.stackSize = 512 << 10
            self.thread = thread
            thread.start()
        }
        condition.signal()
        condition.unlock()
        done.wait()
        return try result.get()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while true {
            if let work = queue.first {
                queue.removeFirst()
                condition.unlock()
                work()
                condition.lock()
            } else if stopped {
                break
            } else {
                condition.wait()
            }
        }
        condition.unlock()
    }
}
