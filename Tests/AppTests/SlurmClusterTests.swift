// The readers against a real cluster (TestSlurmCluster), without the platform: jobs are submitted with sbatch, and
// what the scheduler then records is read back: a completed job's allocation × elapsed time, a job's reason while it
// waits, a job cancelled while queued (nothing used). A job past its time limit is SlurmJobTests'. In SlurmJobTests'
// suite, so the two never start clusters at once. Needs root, as slurmd does.
import Foundation
import Testing
@testable import Slurm

extension SlurmJobTests {
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String]) async throws -> String {
        try await SlurmCommand.run(arguments, environment: environment)
    }

    @Test func jobsSubmittedToARealClusterAreReadBackWithWhatTheyUsed() async throws {
        try await TestSlurmCluster.with { folder, environment in
            let jobs = folder.appendingPathComponent("jobs").path
            func submit(_ options: [String], _ command: String) async throws -> Int {
                let id = try await Self.run(["sbatch", "--parsable", "--chdir", jobs, "--output", "/dev/null"] + options + ["--wrap", command], environment: environment)
                return try #require(Int(id.split(separator: ";").first ?? ""), "sbatch said \(id)")
            }
            let completed = try await submit(["--job-name", "cc-done", "--cpus-per-task", "2", "--mem", "100M", "--time", "5"], "sleep 2")
            let later = try await submit(["--job-name", "cc-later", "--cpus-per-task", "1", "--mem", "50M", "--time", "5", "--begin", "now+3600"], "true")

            // While queued: the scheduler's reason.
            let queue = try SlurmQueue.jobs(json: Data(try await Self.run(["squeue", "--json"], environment: environment).utf8))
            let waiting = try #require(queue.first { $0.jobID == later })
            #expect(waiting.state == .pending && waiting.reason == "BeginTime" && waiting.start == nil)
            try await Self.run(["scancel", String(later)], environment: environment)

            let done = try #require(try await TestSlurmCluster.record(completed, in: folder, within: 120),
                                "the 2-second job never ended\n\(TestSlurmCluster.state(folder, environment: environment))")
            #expect(done.state == .completed && done.exitCode == 0 && done.name == "cc-done")
            #expect(done.allocated == SlurmResources(cpus: 2, memoryMB: 100))
            #expect((2...15).contains(done.elapsedSeconds), "\(done.elapsedSeconds) s")
            #expect(done.usage == SlurmUsage(SlurmResources(cpus: 2, memoryMB: 100), seconds: done.elapsedSeconds))

            let cancelled = try #require(try await TestSlurmCluster.record(later, in: folder, within: 60),
                                     "the cancelled job was never recorded\n\(TestSlurmCluster.state(folder, environment: environment))")
            #expect(cancelled.state == .cancelled && cancelled.usage == SlurmUsage(coreSeconds: 0, memoryMBSeconds: 0, gpuSeconds: 0))
        }
    }
}
