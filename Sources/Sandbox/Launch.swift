// Starting the launcher (bwrap) for a job, in one of two ways: a plain spawn, or by handing the job to a warm
// launcher that already sits in the job's cgroups (see WarmPool). Either way the result is a running process and
// the read ends of its stdout, stderr and bwrap's status pipe.
import Foundation
import Glibc
import CSandboxSpawn

struct Launch {
    var pid: pid_t
    var stdout: Int32
    var stderr: Int32
    /// bwrap's JSON status pipe (-1 for a lane, which reports on its control socket).
    var status: Int32
    var started: ContinuousClock.Instant
    /// The lane running the job, when it runs in one (see LanePool).
    var lane: Lane? = nil
}

/// Everything that describes the program to exec, as C values valid for the duration of `body`.
struct ExecSpec {
    var launcher: String
    var arguments: [String]
    var rlimits: [cc_rlimit]
    var uid: UInt32?
    /// A layer's overlays, mounted by the spawn helper in the job's own user and mount namespace before exec.
    var overlays: [LayerMounts.Overlay] = []
    /// The network namespace the child joins before it drops privileges (a job's own network, see JobNetwork), or -1.
    var netns: Int32 = -1

    static let environment = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]

    func withRequest<R>(cgroupProcs: [String] = [], _ body: (inout cc_spawn_request) -> R) -> R {
        CStrings.with([launcher] + arguments) { argv in
            CStrings.with(Self.environment) { envp in
                CStrings.with(cgroupProcs + overlays.flatMap { [$0.options, $0.target] }) { strings in
                    let cgroups = strings
                    var request = cc_spawn_request.closed()
                    request.path = UnsafePointer(argv[0])
                    let filter = SystemCallFilter.descriptor()  // closed once the child has its copy
                    defer { if filter >= 0 { close(filter) } }
                    request.seccomp_fd = filter
                    request.netns_fd = netns
                    request.argv = UnsafePointer(argv)
                    request.envp = UnsafePointer(envp)
                    request.setCgroups(cgroups, count: cgroupProcs.count)
                    withUnsafeMutableBytes(of: &request.limits) { raw in
                        let slots = raw.bindMemory(to: cc_rlimit.self)
                        for (index, limit) in rlimits.prefix(Int(CC_SPAWN_MAX_LIMITS)).enumerated() { slots[index] = limit }
                    }
                    request.limit_count = Int32(min(rlimits.count, Int(CC_SPAWN_MAX_LIMITS)))
                    request.drop_privileges = uid == nil ? 0 : 1
                    request.uid = uid ?? 0
                    request.gid = uid ?? 0
                    let first = cgroupProcs.count, count = min(overlays.count, Int(CC_SPAWN_MAX_OVERLAYS))
                    withUnsafeMutableBytes(of: &request.overlay_options) { options in
                        withUnsafeMutableBytes(of: &request.overlay_targets) { targets in
                            let optionSlots = options.bindMemory(to: UnsafePointer<CChar>?.self), targetSlots = targets.bindMemory(to: UnsafePointer<CChar>?.self)
                            for index in 0..<count {
                                optionSlots[index] = UnsafePointer(strings[first + 2 * index])
                                targetSlots[index] = UnsafePointer(strings[first + 2 * index + 1])
                            }
                        }
                    }
                    request.overlay_count = Int32(count)
                    return body(&request)
                }
            }
        }
    }
}

extension cc_spawn_request {
    /// A request that gives the child no descriptors (0 would mean "the parent's stdin").
    static func closed() -> cc_spawn_request {
        var request = cc_spawn_request()
        request.stdin_fd = -1
        request.stdout_fd = -1
        request.stderr_fd = -1
        request.extra_fd = -1
        request.extra_fd2 = -1
        request.seccomp_fd = -1
        request.netns_fd = -1
        return request
    }

    /// Points the request at the cgroup.procs files the child joins (at most CC_SPAWN_MAX_CGROUPS).
    mutating func setCgroups(_ paths: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, count: Int) {
        withUnsafeMutableBytes(of: &cgroup_procs) { raw in
            let slots = raw.bindMemory(to: UnsafePointer<CChar>?.self)
            for index in 0..<min(count, Int(CC_SPAWN_MAX_CGROUPS)) { slots[index] = UnsafePointer(paths[index]) }
        }
    }
}

enum CStrings {
    /// A NULL-terminated C array of C strings, valid for the duration of `body`.
    static func with<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}

/// The pipes a job writes into; the parent keeps the read ends.
struct JobPipes {
    var stdoutRead: Int32, stdoutWrite: Int32
    var stderrRead: Int32, stderrWrite: Int32
    var statusRead: Int32, statusWrite: Int32

    static func make() throws -> JobPipes {
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1], status: [Int32] = [-1, -1]
        guard cc_pipe_cloexec(&out) == 0 else { throw SandboxError.hostFailure("cannot create pipes: \(String(cString: strerror(errno)))") }
        guard cc_pipe_cloexec(&err) == 0 else { close(out[0]); close(out[1]); throw SandboxError.hostFailure("cannot create pipes") }
        guard cc_pipe_cloexec(&status) == 0 else { [out[0], out[1], err[0], err[1]].forEach { close($0) }; throw SandboxError.hostFailure("cannot create pipes") }
        return JobPipes(stdoutRead: out[0], stdoutWrite: out[1], stderrRead: err[0], stderrWrite: err[1], statusRead: status[0], statusWrite: status[1])
    }

    func closeWriteEnds() { [stdoutWrite, stderrWrite, statusWrite].forEach { close($0) } }
    func closeReadEnds() { [stdoutRead, stderrRead, statusRead].forEach { close($0) } }
}

enum Launcher {
    /// Plain spawn: the child joins the cgroups itself (slow on cgroup v1, see WarmPool) and execs.
    static func spawn(_ spec: ExecSpec, stdin: Data?, cgroupProcs: [String]) throws -> Result<Launch, LaunchFailure> {
        let pipes = try JobPipes.make()
        let input = try StdinFile.make(stdin)
        defer { close(input) }
        let started = ContinuousClock.now
        let spawned = spawn(spec, stdin: input, pipes: pipes, cgroupProcs: cgroupProcs)
        pipes.closeWriteEnds()
        switch spawned {
        case .success(let pid):
            return .success(Launch(pid: pid, stdout: pipes.stdoutRead, stderr: pipes.stderrRead, status: pipes.statusRead, started: started))
        case .failure(let failure):
            pipes.closeReadEnds()
            return .failure(failure)
        }
    }

    /// Spawns with descriptors the caller prepared: fds 0–3 of the child are stdin and the pipes' write ends,
    /// fd 4 is `blockFD` (bwrap's --block-fd) when given. The caller closes its copies.
    static func spawn(_ spec: ExecSpec, stdin: Int32, pipes: JobPipes, blockFD: Int32 = -1, cgroupProcs: [String]) -> Result<pid_t, LaunchFailure> {
        var failedStep: UnsafePointer<CChar>?
        let pid = spec.withRequest(cgroupProcs: cgroupProcs) { request -> pid_t in
            request.stdin_fd = stdin
            request.stdout_fd = pipes.stdoutWrite
            request.stderr_fd = pipes.stderrWrite
            request.extra_fd = pipes.statusWrite
            request.extra_fd2 = blockFD
            return ForkLock.spawning { cc_spawn(&request, &failedStep) }
        }
        let spawnErrno = errno
        guard pid > 0 else { return .failure(LaunchFailure(step: failedStep.map { String(cString: $0) } ?? "spawn", errno: spawnErrno)) }
        return .success(pid)
    }
}

extension Launcher {
    /// Kills a started process (a prepared sandbox or a lane) and waits for it.
    static func reap(_ pid: pid_t) {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

struct LaunchFailure: Error {
    var step: String
    var errno: Int32
    var description: String { "could not start bwrap (\(step): \(String(cString: strerror(errno))))" }
}

/// Standard input: a memfd holding the bytes (no pipe to feed, no SIGPIPE), or an empty one.
enum StdinFile {
    static func make(_ data: Data?) throws -> Int32 {
        let fd = cc_memfd("stdin")
        guard fd >= 0 else { throw SandboxError.hostFailure("cannot create the job's input: \(String(cString: strerror(errno)))") }
        try fill(fd, with: data)
        return fd
    }

    static func fill(_ fd: Int32, with data: Data?) throws {
        guard let data, !data.isEmpty else { return }
        var offset = 0
        try data.withUnsafeBytes { raw in
            while offset < raw.count {
                let wrote = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                guard wrote > 0 else { throw SandboxError.hostFailure("cannot write the job's input") }
                offset += wrote
            }
        }
        lseek(fd, 0, SEEK_SET)
    }
}
