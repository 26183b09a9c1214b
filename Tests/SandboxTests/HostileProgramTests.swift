// Real hostile programs, run for real. Each test checks that the job was contained AND that the host is unaffected.
// Serialized: the host-side checks (process scans, listeners) must see only this suite's jobs.
import Testing
import Foundation
import Glibc
@testable import Sandbox

@Suite(.serialized) struct HostileProgramTests {
    /// Every attack runs through each way a job can start: set up on demand, through a warm launcher, in a
    /// sandbox set up ahead of need, and in a lane (a sandbox kept for many jobs).
    static let paths: [Sandbox.LaunchPath] = getuid() == 0 ? [.cold, .warm, .ready, .lane] : [.cold, .ready, .lane]  // warm launchers need cgroups

    @Test(arguments: paths)
    func forkBombIsCappedAndLeavesNoProcess(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let marker = Fixtures.marker()
        var limits = SandboxLimits(wallSeconds: 20)  // it takes well under a second; the margin is for a loaded runner
        limits.pids = 32
        let result = try await Fixtures.runHostile(sandbox, "fork_bomb.py", [marker], limits: limits, path: path)
        #expect(result.stdout.contains("fork refused"), "the process cap did not stop the bomb: \(result)")
        #expect(result.status == .ok)
        #expect(result.exitCode == 3)
        #expect(Fixtures.processes(containing: marker).isEmpty)
    }

    @Test(arguments: paths)
    func memoryBombIsStoppedAtTheMemoryLimit(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let limits = SandboxLimits(wallSeconds: 20, memoryMB: 128)
        let result = try await Fixtures.runHostile(sandbox, "memory_bomb.py", limits: limits, path: path)
        #expect(result.status == .memoryLimit)
        #expect(result.maxRssKb <= 128 * 1024 + 1024)
        #expect(result.wallMs < 20_000)
    }

    @Test(arguments: paths)
    func infiniteLoopHitsTheWallClock(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let result = try await Fixtures.runHostile(sandbox, "infinite_loop.py", limits: SandboxLimits(wallSeconds: 1.5, cpuSeconds: 30), path: path)
        #expect(result.status == .timeout)
        #expect(result.wallMs >= 1_500 && result.wallMs < 10_000)
        // It really reached its loop and its CPU was counted. How much CPU a 1.5 s loop gets depends on the load: the
        // whole suite runs in parallel on two cores and CI once measured 56 ms, so only "some" is asserted here.
        #expect(result.stdout.contains("spinning"), "the loop never started: \(result)")
        #expect(result.cpuMs > 0)
    }

    @Test(arguments: paths)
    func infiniteLoopHitsTheCPULimit(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let result = try await Fixtures.runHostile(sandbox, "infinite_loop.py", limits: SandboxLimits(wallSeconds: 30, cpuSeconds: 1), path: path)
        #expect(result.status == .timeout)
        #expect(result.wallMs < 10_000)
    }

    @Test(arguments: paths)
    func doubleForkedDaemonDiesWithTheJob(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let marker = Fixtures.marker()
        let result = try await Fixtures.runHostile(sandbox, "double_fork_daemon.py", [marker, "."], path: path)
        #expect(result.status == .ok)
        #expect(result.stdout.contains("daemon detached"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(Fixtures.processes(containing: marker).isEmpty, "a daemon of the job survived it")
    }

    @Test(arguments: paths)
    func gigabyteOfStdoutIsCutAtTheCap(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        var limits = SandboxLimits(wallSeconds: 30)
        limits.outputKB = 256
        let result = try await Fixtures.runHostile(sandbox, "stdout_flood.py", limits: limits, path: path)
        #expect(result.status == .outputLimit)
        #expect(result.truncated)
        #expect(result.stdout.utf8.count == 256 * 1024)
        #expect(result.wallMs < 10_000)
    }

    @Test(.enabled(if: getuid() == 0, "the disk cap is a tmpfs, which needs root"), arguments: paths)
    func fillingTheDiskStopsAtTheJobsQuota(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        var before = statvfs()
        statvfs(sandbox.configuration.jobsRoot, &before)
        var limits = SandboxLimits(wallSeconds: 30)
        limits.diskMB = 24
        let result = try await Fixtures.runHostile(sandbox, "fill_disk.py", limits: limits, path: path)
        var after = statvfs()
        statvfs(sandbox.configuration.jobsRoot, &after)
        #expect(result.status == .ok)
        #expect(result.stdout.contains(".: stopped after"))
        let inFolder = Int(result.stdout.split(separator: "\n").first { $0.hasPrefix(".:") }?.split(separator: " ")[3] ?? "") ?? -1
        #expect(inFolder >= 0 && inFolder <= 24, "the job wrote \(inFolder) MB into a 24 MB folder")
        #expect(result.stdout.contains("/tmp: stopped after"))
        let lostMB = (Int(before.f_bavail) - Int(after.f_bavail)) * Int(before.f_frsize) >> 20
        #expect(lostMB < 64, "the host lost \(lostMB) MB of disk")
    }

    @Test(arguments: paths)
    func hostSecretsAreOutOfReach(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        // A stand-in for the platform's data folder: database and secret, readable by root only, as deployed.
        let data = Fixtures.temporaryFolder("data")
        Fixtures.createFile(atPath: data + "/campuscloud.sqlite", contents: Data("SQLite format 3".utf8), attributes: [.posixPermissions: 0o600])
        Fixtures.createFile(atPath: data + "/secret", contents: Data("top-secret".utf8), attributes: [.posixPermissions: 0o600])
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        let targets = ["/etc/shadow", "/etc/gshadow", home + "/.bashrc", data + "/campuscloud.sqlite", data + "/secret", "/proc/\(getpid())/environ"]
        let result = try await Fixtures.runHostile(sandbox, "read_host_files.py", targets, path: path)
        #expect(result.status == .ok)
        #expect(!result.stdout.contains("READ"), "a host file was readable: \(result.stdout)")
        #expect(result.stdout.components(separatedBy: "DENIED").count - 1 == targets.count)
    }

    @Test(arguments: paths)
    func writesOutsideTheJobFolderFailAndTheHostIsUnchanged(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let hostFolder = Fixtures.temporaryFolder("host")
        chmod(hostFolder, 0o777)  // even a world-writable host folder must not be reachable
        let name = "pwned-\(UUID().uuidString.prefix(8))"
        let targets = ["/usr/\(name)", "/etc/\(name)", "/\(name)", hostFolder + "/\(name)", "/proc/\(name)", sandbox.configuration.jobsRoot + "/\(name)"]
        let result = try await Fixtures.runHostile(sandbox, "write_outside.py", targets, path: path)
        #expect(!result.stdout.contains("WROTE"), "the job wrote outside its folder: \(result.stdout)")
        for target in targets { #expect(!FileManager.default.fileExists(atPath: target), "\(target) appeared on the host") }
    }

    @Test(arguments: paths)
    func networkIsOffLoopbackAndHostSocketsUnreachable(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let tcp = try Listener()
        let unixPath = "/tmp/cc-sock-\(UUID().uuidString.prefix(8))"
        let unix = try Listener(unix: unixPath, abstract: false)
        let abstractName = "cc-abstract-\(UUID().uuidString.prefix(8))"
        let abstract = try Listener(unix: abstractName, abstract: true)
        let result = try await Fixtures.runHostile(sandbox, "network_escape.py", [String(tcp.port), unixPath, abstractName], path: path)
        #expect(result.status == .ok)
        #expect(!result.stdout.contains("CONNECTED"), "the job reached something: \(result.stdout)")
        #expect(result.stdout.contains("REFUSED public-route"))
        #expect(result.stdout.contains("interfaces lo\n"))
        #expect(tcp.connections() == 0)
        #expect(unix.connections() == 0)
        #expect(abstract.connections() == 0)
    }

    @Test(arguments: paths)
    func theSystemCallsAJobNeverNeedsAreRefused(path: Sandbox.LaunchPath) async throws {
        // io_uring, keyrings, userfaultfd, perf, bpf, kexec, every mount call, namespaces (unshare, setns, clone with
        // CLONE_NEWUSER; clone3), TIOCSTI and TIOCLINUX on a terminal of its own, and the same through the i386 and
        // x32 entries: each called for real, each refused (EPERM; ENOSYS for keyrings and clone3).
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let result = try await Fixtures.runHostile(sandbox, "denied_syscalls.py", path: path)
        #expect(result.status == .ok, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("ALLOWED") || $0.hasPrefix("OTHER") }, "\(result.stdout)")
        #expect(lines.filter { $0.hasPrefix("DENIED") }.count == 30, "\(result.stdout)")
    }

    @Test(arguments: paths)
    func terminalInjectionHasNoTerminal(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let result = try await Fixtures.runHostile(sandbox, "tiocsti.py", path: path)
        #expect(result.status == .ok)
        #expect(!result.stdout.contains("INJECTED"), "TIOCSTI worked: \(result.stdout)")
        #expect(result.stdout.contains("NO-TTY dev-tty"))
    }

    @Test(arguments: paths)
    func symlinkedResultsAreNeitherFollowedNorOverwritten(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let hostFolder = Fixtures.temporaryFolder("victim")
        let hostFile = hostFolder + "/grades.json"
        let original = Data(#"{"score": 100}"#.utf8)
        Fixtures.createFile(atPath: hostFile, contents: original)
        let result = try await Fixtures.runHostile(sandbox, "symlink_results.py", [hostFile], outputDirectory: "results", path: path)
        #expect(result.status == .ok)
        #expect(result.outputFiles.map(\.path) == ["real/score.txt"])
        #expect(result.outputFiles.first?.contents == Data("42\n".utf8))
        #expect(result.skippedOutputs.contains { $0.hasPrefix("results.json") && $0.contains("symlink") })
        #expect(result.skippedOutputs.contains { $0.hasPrefix("passwd") })
        #expect(FileManager.default.contents(atPath: hostFile) == original)
    }

    @Test(arguments: paths)
    func raisingItsOwnLimitsDoesNotHelp(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let result = try await Fixtures.runHostile(sandbox, "raise_limits.sh", limits: SandboxLimits(wallSeconds: 20, cpuSeconds: 1), path: path)
        #expect(!result.stdout.contains("RAISED"), "a limit was raised: \(result.stdout)")
        #expect(result.status == .timeout)
        #expect(result.wallMs < 10_000)
    }

    @Test(arguments: paths)
    func ptraceAndSignalsCannotReachHostProcesses(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let victim = Process()
        victim.executableURL = URL(fileURLWithPath: "/bin/sleep")
        victim.arguments = ["60"]
        victim.standardOutput = FileHandle.nullDevice
        victim.standardError = FileHandle.nullDevice
        try Sandbox.startingProcess { try victim.run() }
        defer { kill(victim.processIdentifier, SIGKILL); victim.waitUntilExit() }  // SIGTERM may be blocked in the runner
        let result = try await Fixtures.runHostile(sandbox, "ptrace_host.py", [String(victim.processIdentifier)], path: path)
        #expect(!result.stdout.contains("ATTACHED"))
        #expect(!result.stdout.contains("SIGNALLED"))
        #expect(victim.isRunning)
        let status = try String(contentsOfFile: "/proc/\(victim.processIdentifier)/status", encoding: .utf8)
        #expect(status.contains("TracerPid:\t0"))
        // Inside its pid namespace the job sees only itself and the sandbox's init.
        let visible = Int(result.stdout.split(separator: "\n").first { $0.hasPrefix("VISIBLE-PIDS") }?.split(separator: " ").last ?? "") ?? 99
        #expect(visible <= 3)
    }

    @Test(arguments: paths)
    func aJobCannotSeeAnotherRunningJob(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let victimJob = SandboxJob(command: ["python3", "-c", "open('secret.txt','w').write('s3cret'); import time; time.sleep(4)", "victim"],
                                   limits: SandboxLimits(wallSeconds: 10))
        async let victim = sandbox.run(victimJob)
        // Its folder appears before it starts (then it runs four more seconds): wait for it, however loaded the machine.
        var running: [String] = []
        for _ in 0..<100 where running.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            running = (try? FileManager.default.contentsOfDirectory(atPath: sandbox.configuration.jobsRoot))?.filter { !$0.hasPrefix(".") } ?? []
        }
        #expect(!running.isEmpty)
        let spy = try await Fixtures.runHostile(sandbox, "spy_on_jobs.py", [sandbox.configuration.jobsRoot] + running, path: path)
        #expect(!spy.stdout.contains("STOLE"), "a job read another job's file: \(spy.stdout)")
        #expect(!spy.stdout.contains("LISTED"))
        #expect(spy.stdout.contains("SAW-NOTHING"))
        #expect(try await victim.status == .ok)
    }

    @Test(arguments: paths)
    func platformDescriptorsDoNotLeakIntoJobs(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let data = Fixtures.temporaryFolder("fd")
        let database = data + "/campuscloud.sqlite"
        Fixtures.createFile(atPath: database, contents: Data("SQLite format 3".utf8))
        let fd = open(database, O_RDONLY)  // deliberately without O_CLOEXEC, as a careless library might
        defer { close(fd) }
        let result = try await Fixtures.runHostile(sandbox, "inherited_fds.py", path: path)
        #expect(result.status == .ok)
        #expect(!result.stdout.contains("campuscloud.sqlite"), "a platform descriptor leaked: \(result.stdout)")
        let descriptors = result.stdout.split(separator: "\n").filter { $0.hasPrefix("FD ") }
        #expect(descriptors.count <= 5, "unexpected descriptors: \(descriptors)")
    }

    @Test(arguments: paths)
    func theExitCodeCannotBeForged(path: Sandbox.LaunchPath) async throws {
        let sandbox = Fixtures.sandbox(path: path)
        defer { Fixtures.finish(sandbox) }
        let result = try await Fixtures.runHostile(sandbox, "forge_status.py", path: path)
        #expect(result.status == .ok)
        #expect(result.exitCode == 5)
        #expect(!result.stdout.contains("WROTE"), "the job could write to: \(result.stdout)")
    }
}
