// The readers against a real cluster: scripts/slurm-cluster starts a single-node Slurm (munge, slurmctld, slurmd from
// Debian; scripts/install-deps --slurm) in a folder of the test's own, jobs are submitted with sbatch, and what the
// scheduler then records is read back: a completed job's allocation × elapsed time, a job cancelled while queued
// (nothing used), a job past its time limit (ended as TIMEOUT after the limit). Needs root, as slurmd does.
import Foundation
import Glibc
import Testing
@testable import Slurm

@Suite(.serialized) struct SlurmClusterTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs a command to its end (posix_spawn, then waitpid for that child: Foundation's Process never saw the
    /// cluster script end, its child left unreaped); its standard output, or a thrown error with its output.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("cc-slurm-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process's: the daemons the script starts live on, and must not keep another
        // test's descriptors open (a socket whose peer waits for its end, as in WarmPoolTests). Foundation's
        // Process closes them too.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw ClusterFailure("this C library cannot close a spawned child's descriptors (glibc 2.34 or later needed)")
        }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)  // not in Swift's Glibc module: looked up
        let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + env).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, env)
        guard spawned == 0 else { throw ClusterFailure("\(arguments.first ?? "") could not start: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = ((try? String(contentsOf: output, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0 else { throw ClusterFailure("\(arguments.joined(separator: " ")) ended with status \(status): \(text)") }
        return text
    }

    struct ClusterFailure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// A cluster in a fresh folder for `body`, stopped after it whatever happens.
    static func withCluster(_ body: (_ folder: URL, _ environment: [String: String]) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cc-slurm-\(UUID().uuidString.prefix(8))")
        let script = root.appendingPathComponent("scripts/slurm-cluster").path
        defer {
            _ = try? run([script, "stop", folder.path])
            try? FileManager.default.removeItem(at: folder)
        }
        let started = try run([script, "start", folder.path])
        let conf = try #require(started.split(separator: "\n").last.flatMap { $0.hasPrefix("export SLURM_CONF=") ? String($0.dropFirst(18)) : nil })
        let jobs = folder.appendingPathComponent("jobs")
        try FileManager.default.createDirectory(at: jobs, withIntermediateDirectories: true)
        try await body(folder, ["SLURM_CONF": conf])
    }

    /// The completion log's record of `job`, once the job has ended (within `seconds`).
    static func record(_ job: Int, in folder: URL, within seconds: Double) async throws -> SlurmJobRecord? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let text = (try? String(contentsOf: folder.appendingPathComponent("jobcomp.log"), encoding: .utf8)) ?? ""
            if let found = SlurmJobCompletionLog.records(in: text, timeZone: .current).first(where: { $0.jobID == job }) { return found }
            try await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    @Test func jobsSubmittedToARealClusterAreReadBackWithWhatTheyUsed() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld"), "run scripts/install-deps --slurm (as root) first")
        try await Self.withCluster { folder, environment in
            let jobs = folder.appendingPathComponent("jobs").path
            func submit(_ options: [String], _ command: String) throws -> Int {
                let id = try Self.run(["sbatch", "--parsable", "--chdir", jobs, "--output", "/dev/null"] + options + ["--wrap", command], environment: environment)
                return try #require(Int(id.split(separator: ";").first ?? ""), "sbatch said \(id)")
            }
            // Both of the node's CPUs first; the job that will run past its limit waits for one.
            let completed = try submit(["--job-name", "cc-done", "--cpus-per-task", "2", "--mem", "100M", "--time", "5"], "sleep 2")
            let timedOut = try submit(["--job-name", "cc-timeout", "--cpus-per-task", "1", "--mem", "50M", "--time", "1"], "sleep 300")
            let later = try submit(["--job-name", "cc-later", "--cpus-per-task", "1", "--mem", "50M", "--time", "5", "--begin", "now+3600"], "true")

            // While queued: the scheduler's reason.
            let queue = try SlurmQueue.jobs(json: Data(try Self.run(["squeue", "--json"], environment: environment).utf8))
            let waiting = try #require(queue.first { $0.jobID == later })
            #expect(waiting.state == .pending && waiting.reason == "BeginTime" && waiting.start == nil)
            try Self.run(["scancel", String(later)], environment: environment)

            let done = try #require(try await Self.record(completed, in: folder, within: 60), "the 2-second job never ended")
            #expect(done.state == .completed && done.exitCode == 0 && done.name == "cc-done")
            #expect(done.allocated == SlurmResources(cpus: 2, memoryMB: 100))
            #expect((2...15).contains(done.elapsedSeconds), "\(done.elapsedSeconds) s")
            #expect(done.usage == SlurmUsage(SlurmResources(cpus: 2, memoryMB: 100), seconds: done.elapsedSeconds))

            let cancelled = try #require(try await Self.record(later, in: folder, within: 30))
            #expect(cancelled.state == .cancelled && cancelled.usage == SlurmUsage(coreSeconds: 0, memoryMBSeconds: 0, gpuSeconds: 0))

            // Past its one minute: ended by the scheduler as TIMEOUT at its next look at limits (up to half a minute
            // late, then KillWait), and billed its limit, not the scheduler's delay.
            let ended = try #require(try await Self.record(timedOut, in: folder, within: 180), "the job past its limit was never ended")
            #expect(ended.state == .timeout && ended.timeLimitMinutes == 1)
            #expect((60...120).contains(ended.elapsedSeconds), "\(ended.elapsedSeconds) s")
            #expect(ended.usage == SlurmUsage(coreSeconds: 60, memoryMBSeconds: 50 * 60, gpuSeconds: 0))
        }
    }
}
