// The readers against a real cluster (TestSlurmCluster), without the platform: jobs are submitted with sbatch, and
// what the scheduler then records is read back: a completed job's allocation × elapsed time, a job's reason while it
// waits, a job cancelled while queued (nothing used). A job past its time limit is SlurmJobTests'. In SlurmJobTests'
// suite, so the two never start clusters at once. Needs root, as slurmd does.
import Foundation
import Testing
@testable import Slurm

extension SlurmJobTests {
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String]) throws -> String {
        try SlurmCommand.runBlocking(arguments, environment: environment)
    }

    @Test func jobsSubmittedToARealClusterAreReadBackWithWhatTheyUsed() async throws {
        try await TestSlurmCluster.with { folder, environment in
            let jobs = folder.appendingPathComponent("jobs").path
            func submit(_ options: [String], _ command: String) throws -> Int {
                let id = try Self.run(["sbatch", "--parsable", "--chdir", jobs, "--output", "/dev/null"] + options + ["--wrap", command], environment: environment)
                return try #require(Int(id.split(separator: ";").first ?? ""), "sbatch said \(id)")
            }
            let completed = try submit(["--job-name", "cc-done", "--cpus-per-task", "2", "--mem", "100M", "--time", "5"], "sleep 2")
            let later = try submit(["--job-name", "cc-later", "--cpus-per-task", "1", "--mem", "50M", "--time", "5", "--begin", "now+3600"], "true")

            // While queued: the scheduler's reason.
            let queue = try SlurmQueue.jobs(json: Data(try Self.run(["squeue", "--json"], environment: environment).utf8))
            let waiting = try #require(queue.first { $0.jobID == later })
            #expect(waiting.state == .pending && waiting.reason == "BeginTime" && waiting.start == nil)
            try Self.run(["scancel", String(later)], environment: environment)

            let done = try #require(try await TestSlurmCluster.record(completed, in: folder, within: 60), "the 2-second job never ended")
            #expect(done.state == .completed && done.exitCode == 0 && done.name == "cc-done")
            #expect(done.allocated == SlurmResources(cpus: 2, memoryMB: 100))
            #expect((2...15).contains(done.elapsedSeconds), "\(done.elapsedSeconds) s")
            #expect(done.usage == SlurmUsage(SlurmResources(cpus: 2, memoryMB: 100), seconds: done.elapsedSeconds))

            let cancelled = try #require(try await TestSlurmCluster.record(later, in: folder, within: 30))
            #expect(cancelled.state == .cancelled && cancelled.usage == SlurmUsage(coreSeconds: 0, memoryMBSeconds: 0, gpuSeconds: 0))
        }
    }
}
