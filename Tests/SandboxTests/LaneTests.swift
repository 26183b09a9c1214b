// Lanes (sandboxes kept for many jobs): the next job of a lane meets nothing of the job before it, a job cannot take
// over the lane's first process, a job stopped by a limit takes its lane down, and each job has its own limits.
// The hostile programs themselves also run in lanes in HostileProgramTests.
import Foundation
import Glibc
import Testing
@testable import Sandbox

@Suite(.serialized) struct LaneTests {
    static func run(_ sandbox: Sandbox, _ script: String, limits: SandboxLimits = SandboxLimits()) async throws -> SandboxResult {
        try await sandbox.run(SandboxJob(command: ["/bin/sh", "-c", script], limits: limits))
    }

    /// A host folder holding a file ("keep") that planted symlinks point at; the caller removes it.
    static func hostFolder() -> String {
        let folder = Fixtures.temporaryFolder("precious")
        chmod(folder, 0o755)
        Fixtures.createFile(atPath: folder + "/precious", contents: Data("keep".utf8), attributes: [.posixPermissions: 0o666])
        return folder
    }

    @Test func theNextJobOfALaneFindsNothingOfTheLast() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_600...61_619, path: .lane)
        defer { Fixtures.finish(sandbox) }
        let marker = Fixtures.marker()
        let hostFolder = Self.hostFolder()
        defer { try? FileManager.default.removeItem(atPath: hostFolder) }

        let planted = try await Fixtures.runHostile(sandbox, "lane_leftovers.py", ["plant", marker, hostFolder], path: .lane)
        #expect(planted.status == .ok, "\(planted)")
        #expect(planted.stdout.contains("PLANTED"), "\(planted.stdout)\n\(planted.stderr)")
        // What it tried and what it could do.
        #expect(planted.stdout.contains("SYSV") && planted.stdout.contains("objects 3"), "no SysV objects made, so the check would prove nothing: \(planted.stdout)")
        #expect(planted.stdout.contains("DEV-READONLY"))
        #expect(planted.stdout.contains("MQUEUE refused"))
        #expect(planted.stdout.contains("PTRACE refused"))
        for path in ["/proc/1/mem", "/proc/1/environ", "/proc/1/fd"] { #expect(planted.stdout.contains("CLOSED \(path)"), "\(path) was open to the job") }
        #expect(!planted.stdout.contains("PID 1\n"), "the job ran as the lane's first process")

        let check = try await Fixtures.runHostile(sandbox, "lane_leftovers.py", ["check", marker], path: .lane)
        #expect(check.status == .ok)
        #expect(check.stdout.contains("CLEAN"), "the next job found: \(check.stdout)\n\(check.stderr)")
        #expect(sandbox.laneStarts == 1, "the second job did not run in the first job's lane (or the lane was replaced), so nothing was shown")
        #expect(sandbox.launchCount(.lane) == 2)
        // The wipe between them never followed the job's links to the host.
        #expect(FileManager.default.contents(atPath: hostFolder + "/precious") == Data("keep".utf8))
        #expect(Fixtures.processes(containing: marker).isEmpty, "the planted daemon survived")
    }

    @Test func aJobCanNeitherPlantKeysNorLockTheKeyringsOfItsLane() async throws {
        // The system-call filter answers every keyring call with ENOSYS (as a kernel without keyrings would), so a
        // job can neither leave a key for the next nor narrow the rights the lane's wipe needs; the lane stays usable.
        let sandbox = Fixtures.sandbox(uids: 61_620...61_639, path: .lane)
        defer { Fixtures.finish(sandbox) }
        let marker = Fixtures.marker()
        let hostFolder = Self.hostFolder()
        defer { try? FileManager.default.removeItem(atPath: hostFolder) }
        let planted = try await Fixtures.runHostile(sandbox, "lane_leftovers.py", ["plant", marker, hostFolder, "lock-keys"], path: .lane)
        #expect(planted.stdout.contains("KEYS -1 -1 -1") && planted.stdout.contains("KEYRING-LOCKED -1"), "\(planted.stdout)")
        let check = try await Fixtures.runHostile(sandbox, "lane_leftovers.py", ["check", marker], path: .lane)
        #expect(check.stdout.contains("CLEAN"), "the next job found: \(check.stdout)\n\(check.stderr)")
        #expect(sandbox.laneStarts == 1, "the lane was replaced although the job could not touch its keyrings")
    }

    @Test func aJobStoppedByALimitTakesItsLaneDown() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_640...61_659, path: .lane)
        defer { Fixtures.finish(sandbox) }
        let marker = Fixtures.marker()
        let sleeper = "python3 -c 'import time; time.sleep(30)' \(marker)"
        let first = try await Self.run(sandbox, "echo \(marker) > left; echo \(marker) > /tmp/left; \(sleeper) & exec \(sleeper)",
                                       limits: SandboxLimits(wallSeconds: 1))
        #expect(first.status == .timeout)
        let second = try await Self.run(sandbox, "ls -A; ls -A /tmp")
        #expect(second.status == .ok)
        #expect(second.stdout.isEmpty, "the next job found: \(second.stdout)")
        #expect(sandbox.laneStarts == 2, "a stopped job's lane was used again")
        try await Task.sleep(for: .milliseconds(200))
        #expect(Fixtures.processes(containing: marker).isEmpty, "the stopped job's processes survived")
    }

    @Test func eachJobOfALaneHasItsOwnLimitsAndUsage() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_660...61_679, path: .lane)
        defer { Fixtures.finish(sandbox) }
        // A busy first job: its CPU time is not charged to the next one.
        var busy = SandboxLimits(wallSeconds: 20)
        busy.memoryMB = 64
        let spin = try await Self.run(sandbox, "python3 -c 'import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass'", limits: busy)
        #expect(spin.status == .ok)
        #expect(spin.cpuMs >= 900, "\(spin)")
        // More memory than the first job had, then less.
        var roomy = SandboxLimits(wallSeconds: 20)
        roomy.memoryMB = 512
        let big = try await Self.run(sandbox, "python3 -c 'b = bytearray(200 << 20); print(len(b))'", limits: roomy)
        #expect(big.status == .ok, "\(big)")
        #expect(big.cpuMs < 900, "the first job's CPU time was counted again: \(big.cpuMs) ms")
        let small = try await Self.run(sandbox, "python3 -c 'b = bytearray(200 << 20); print(len(b))'", limits: busy)
        #expect(small.status == .memoryLimit, "\(small)")
        // Rlimits too: a job may not open more files than its own limit.
        var few = SandboxLimits(wallSeconds: 20)
        few.openFiles = 20
        let files = try await Self.run(sandbox, "ulimit -n", limits: few)
        #expect(files.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "20")
        let again = try await Self.run(sandbox, "ulimit -n")
        #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(SandboxLimits().openFiles))
        #expect(sandbox.launchCount(.lane) == 5)
    }

    @Test func aLaneThatCannotStartIsNotTriedForEveryJob() async throws {
        var configuration = Sandbox.Configuration(jobsRoot: Fixtures.temporaryFolder("jobs") + "/jobs")
        configuration.uidRange = 61_700...61_719
        configuration.laneLauncher = "/bin/true"  // exits at once: never says hello
        let sandbox = Sandbox(configuration: configuration)
        defer { Fixtures.finish(sandbox) }
        for _ in 0..<3 {
            let result = try await Self.run(sandbox, "echo fine")
            #expect(result.stdout == "fine\n", "\(result)")
        }
        #expect(sandbox.launchCount(.lane) == 0)
        #expect(sandbox.laneStarts == 1, "a lane that failed to start was tried again for the next jobs")
    }

    @Test func withoutTheLaneProgramEveryJobHasASandboxOfItsOwn() async throws {
        var configuration = Sandbox.Configuration(jobsRoot: Fixtures.temporaryFolder("jobs") + "/jobs")
        configuration.uidRange = 61_680...61_699
        configuration.laneLauncher = "/nonexistent/campuscloud-lane"
        let sandbox = Sandbox(configuration: configuration)
        defer { Fixtures.finish(sandbox) }
        let result = try await Self.run(sandbox, "echo fine")
        #expect(result.stdout == "fine\n")
        #expect(sandbox.launchCount(.lane) == 0)
        #expect(try sandbox.describeHost().contains("no lanes"))
    }
}
