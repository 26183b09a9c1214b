// Starts the launcher through cc_spawn and watches it: reads stdout and stderr up to their caps (never buffering
// more), enforces the wall clock, and kills the whole job when a limit is hit. Runs on its own thread.
import Foundation
import Glibc
import CSandboxSpawn

enum StopReason: Sendable { case timeout, outputLimit, cancelled }

struct Outcome {
    var launchError: String?
    var stopReason: StopReason?
    /// bwrap's own exit status (the job's exit code, or 128+signal).
    var bwrapExitCode: Int32?
    /// From bwrap's JSON status: whether the job's process started, and its exit code.
    var childStarted = false
    var childExitCode: Int32?
    var stdout = Data()
    var stderr = Data()
    var truncated = false
    var wallMs = 0
    var cpuMs = 0
    var maxRssKb = 0
}

enum Supervisor {
    /// Watches a started launcher until it ends or a limit stops it.
    static func watch(_ launch: Launch, limits: SandboxLimits, cgroup: JobCgroup?, cancellation: SandboxCancellation? = nil,
                      onOutput: (@Sendable (SandboxStream, Data) -> Void)?) -> Outcome {
        var outcome = Outcome()
        let pid = launch.pid, started = launch.started, lane = launch.lane
        var outPipe = [launch.stdout], errPipe = [launch.stderr], statusPipe = [launch.status]
        defer { [outPipe[0], errPipe[0], statusPipe[0]].forEach { if $0 >= 0 { close($0) } } }

        // A lane outlives its job: its pidfd is the lane's, and its end is a report on the control socket.
        let ownPidfd = lane == nil ? cc_pidfd_open(pid) : -1
        let pidfd = lane?.pidfd ?? ownPidfd
        defer { if ownPidfd >= 0 { close(ownPidfd) } }
        for fd in [outPipe[0], errPipe[0], statusPipe[0]] where fd >= 0 { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }

        let cap = limits.outputKB * 1024
        let deadline = started + .milliseconds(Int(limits.wallSeconds * 1000))
        enum Source { case stream(SandboxStream), status }
        var open: [Int32: Source] = [outPipe[0]: .stream(.stdout), errPipe[0]: .stream(.stderr)]
        if statusPipe[0] >= 0 { open[statusPipe[0]] = .status }
        var status = Data()
        var report: lane_report?
        var exited = false
        var killedAt: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 65536)

        func stopJob(_ reason: StopReason) {
            if outcome.stopReason == nil { outcome.stopReason = reason }
            if killedAt == nil { killedAt = .now }
            if let lane {
                lane.stop()
            } else {
                kill(pid, SIGKILL)  // bwrap's --die-with-parent takes the job's pid namespace down with it
                cgroup?.killAll()
            }
        }

        /// Reads what is available on fd; false at end of file.
        func drain(_ fd: Int32) -> Bool {
            while true {
                let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if got == 0 { return false }
                if got < 0 { return errno == EAGAIN || errno == EINTR }
                let chunk = Data(buffer[0..<got])
                guard case .stream(let stream)? = open[fd] else { status.append(chunk); continue }
                let kept = stream == .stdout ? outcome.stdout.count : outcome.stderr.count
                let room = max(0, cap - kept)
                let part = chunk.prefix(room)
                if !part.isEmpty {
                    if stream == .stdout { outcome.stdout.append(part) } else { outcome.stderr.append(part) }
                    onOutput?(stream, part)
                }
                if chunk.count > room {
                    outcome.truncated = true
                    stopJob(.outputLimit)
                    return false  // stop reading this stream: never buffer past the cap
                }
            }
        }

        while !open.isEmpty || !exited {
            var fds = open.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if !exited, pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            if let lane, !exited { fds.append(pollfd(fd: lane.control, events: Int16(POLLIN), revents: 0)) }
            let now = ContinuousClock.now
            var waitMs: Int
            if let killedAt {
                // After a kill, give the pipes a moment to close (a leftover holder cannot keep us waiting).
                waitMs = max(0, 2000 - Int((now - killedAt) / .milliseconds(1)))
                if waitMs == 0 { break }
            } else {
                waitMs = max(0, Int((deadline - now) / .milliseconds(1)))
                if waitMs == 0 { stopJob(.timeout); continue }
                if cancellation?.isCancelled == true { stopJob(.cancelled); continue }
            }
            if exited { waitMs = min(waitMs, 200) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(waitMs, cancellation == nil ? 1000 : 200)))
            if ready < 0 { if errno == EINTR { continue }; break }
            if ready == 0 {
                if exited { break }  // the launcher is gone and the pipes are quiet: a leftover holds them
                continue
            }
            if let lane, fds.contains(where: { $0.fd == lane.control && $0.revents != 0 }) {
                // The job is over and every process of it is gone (so are the pipes' writers): take what they wrote.
                var received = lane_report()
                if cc_lane_receive(lane.control, &received) == 1, received.kind == LANE_DONE { report = received }
                exited = true
                for fd in open.keys { _ = drain(fd) }
                break
            }
            for entry in fds where entry.revents != 0 && entry.fd != pidfd && entry.fd != lane?.control {
                if !drain(entry.fd) {
                    close(entry.fd)
                    open[entry.fd] = nil
                    if entry.fd == outPipe[0] { outPipe[0] = -1 }
                    if entry.fd == errPipe[0] { errPipe[0] = -1 }
                    if entry.fd == statusPipe[0] { statusPipe[0] = -1 }
                }
            }
            if fds.contains(where: { $0.fd == pidfd && $0.revents != 0 }) {
                // The launcher has exited, so the job's program has too, and everything it wrote is already in
                // the pipes: take what is buffered and stop. Waiting for end-of-file would only wait for the
                // kernel to tear the namespaces down (and for leftovers, which are killed next).
                exited = true
                for fd in open.keys { _ = drain(fd) }
                break
            }
        }
        if let lane {
            return laneOutcome(outcome, report: report, lane: lane, started: started)
        }
        if !exited { kill(pid, SIGKILL) }

        var waitStatus: Int32 = 0
        var usage = rusage()
        while wait4(pid, &waitStatus, 0, &usage) < 0 && errno == EINTR {}
        outcome.wallMs = wallMilliseconds(since: started)
        outcome.cpuMs = Int(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 + Int(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000
        outcome.maxRssKb = Int(usage.ru_maxrss)
        if (waitStatus & 0x7f) == 0 { outcome.bwrapExitCode = (waitStatus >> 8) & 0xff }
        if statusPipe[0] >= 0 { _ = drain(statusPipe[0]) }
        parseStatus(status, into: &outcome)
        return outcome
    }

    /// Whole milliseconds of wall time, rounded up: a job that ran took at least 1 ms (a lane starts a small job
    /// in well under one).
    static func wallMilliseconds(since started: ContinuousClock.Instant) -> Int {
        Int(((ContinuousClock.now - started) / .microseconds(1) / 1000).rounded(.up))
    }

    /// What a lane reported of its job (no report: the lane ended or was stopped, and is not used again).
    private static func laneOutcome(_ watched: Outcome, report: lane_report?, lane: Lane, started: ContinuousClock.Instant) -> Outcome {
        var outcome = watched
        outcome.wallMs = wallMilliseconds(since: started)
        guard let report else {
            lane.broken = true
            if outcome.stopReason == nil { outcome.launchError = "the sandbox lane ended before its job did" }
            return outcome
        }
        if report.clean == 0 { lane.broken = true }
        outcome.childStarted = report.started != 0
        let status = report.wait_status
        outcome.childExitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        outcome.cpuMs = Int(report.cpu_us / 1000)
        outcome.maxRssKb = Int(report.max_rss_kb)
        return outcome
    }

    /// bwrap writes JSON objects: {"child-pid": N, …} when the job starts and {"exit-code": N} when it ends.
    static func parseStatus(_ data: Data, into outcome: inout Outcome) {
        let text = String(decoding: data, as: UTF8.self)
        outcome.childStarted = text.contains("\"child-pid\"")
        if let range = text.range(of: "\"exit-code\":") {
            let digits = text[range.upperBound...].drop(while: { $0 == " " }).prefix(while: { $0.isNumber })
            outcome.childExitCode = Int32(digits)
        }
    }
}

/// Turns what happened into the result's status. Limits come first: a job stopped by one is reported as such
/// whatever its exit code.
enum Classifier {
    /// A stream as text a database can store: invalid UTF-8 and NUL (which PostgreSQL's text refuses, failing the
    /// transaction that would record and charge the run) become U+FFFD.
    static func text(_ bytes: Data) -> String {
        let decoded = String(decoding: bytes, as: UTF8.self)
        return decoded.contains("\u{0}") ? decoded.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : decoded
    }

    static func result(_ o: Outcome, limits: SandboxLimits, oomKilled: Bool, hasCgroups: Bool,
                       files: [SandboxOutputFile], skipped: [String]) -> SandboxResult {
        var exitCode = o.childExitCode ?? (o.childStarted ? 127 : o.bwrapExitCode)
        var signal: Int32?
        if let code = exitCode, code > 128, code <= 128 + 64 {
            signal = code - 128
            exitCode = nil
        }
        let stderrText = text(o.stderr)
        let status: SandboxStatus
        if o.launchError != nil || (!o.childStarted && o.stopReason == nil) {
            status = .sandboxError
        } else if o.stopReason == .outputLimit {
            status = .outputLimit
        } else if o.stopReason == .cancelled {
            status = .cancelled
        } else if o.stopReason == .timeout {
            status = .timeout
        } else if oomKilled {
            status = .memoryLimit
        } else if signal == SIGXCPU || (signal == SIGKILL && o.cpuMs >= limits.cpuSeconds * 1000) {
            status = .timeout
        } else if !hasCgroups && exitCode != 0 && ["MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory"].contains(where: stderrText.contains) {
            status = .memoryLimit  // without a memory cgroup the address-space rlimit makes allocations fail
        } else if signal != nil {
            status = .killed
        } else {
            status = .ok
        }
        var stderrOut = stderrText
        if let launchError = o.launchError { stderrOut = launchError }
        if status == .timeout && o.stopReason != nil { exitCode = nil; signal = signal ?? SIGKILL }
        return SandboxResult(status: status, exitCode: exitCode, signal: signal, cpuMs: o.cpuMs, wallMs: o.wallMs,
                             maxRssKb: o.maxRssKb, stdout: text(o.stdout), stderr: stderrOut,
                             truncated: o.truncated, outputFiles: files, skippedOutputs: skipped)
    }
}
