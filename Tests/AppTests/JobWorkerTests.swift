// The platform's job worker with stand-ins (issue 19): a handler of a test kind shows the worker's contract (each kind
// to its handler, retries, giving up, an unknown kind failed, a lost lease recording nothing), and a stand-in sandbox
// grades a hand-in through the real queue, ledger and grading code in milliseconds, without bwrap. The real sandbox
// keeps its own tests (GradingFlowTests, SandboxTests).
import Testing
import Foundation
import Fluent
import Ledger
import NIOConcurrencyHelpers
import Sandbox
import Vapor
import VaporTesting
@testable import App

/// Records what the worker asked of it; fails the first `failures` runs.
actor HandlerLog {
    var runs = 0
    var gaveUp: [String] = []
    func ran() -> Int { runs += 1; return runs }
    func gave(_ reason: String) { gaveUp.append(reason) }
}

struct FlakyHandler: JobHandler {
    let kind = "test-flaky"
    let failures: Int
    let log: HandlerLog
    struct Boom: Error, CustomStringConvertible { var description: String { "the stand-in failed on purpose" } }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        if await log.ran() <= failures { throw Boom() }
        try await worker.complete(claimed.job, result: "done") { _ in }
        return nil
    }

    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws { await log.gave(reason) }
}

@Suite struct JobWorkerTests {
    @Test func eachKindGoesToItsHandlerFailuresAreRetriedThenGivenUpAndAnUnknownKindFails() async throws {
        try await withTestApp { app in
            let log = HandlerLog()
            app.jobHandlers = JobHandlers([FlakyHandler(failures: 1, log: log)])
            let worker = JobWorker(app: app, name: "w", lease: 30, kinds: ["test-flaky", "nobody-handles-this"])
            // Fails once, then succeeds on its second attempt.
            let retried = try await JobQueue.enqueue("test-flaky", payload: "{}", maxAttempts: 2, on: app.db)
            #expect(try await worker.runOnce())
            let waiting = try #require(try await QueuedJob.find(retried.requireID(), on: app.db))
            #expect(waiting.status == .queued && waiting.runAfter > Date())  // tried again after a pause
            waiting.runAfter = Date()
            try await waiting.save(on: app.db)
            #expect(try await worker.runOnce())
            #expect(try await QueuedJob.find(retried.requireID(), on: app.db)?.status == .done)
            #expect(await log.gaveUp.isEmpty)
            // One attempt only, and it fails: the handler is told, with the reason.
            app.jobHandlers = JobHandlers([FlakyHandler(failures: 10, log: log)])
            let doomed = try await JobQueue.enqueue("test-flaky", payload: "{}", maxAttempts: 1, on: app.db)
            #expect(try await worker.runOnce())
            #expect(try await QueuedJob.find(doomed.requireID(), on: app.db)?.status == .failed)
            #expect(await log.gaveUp == ["the stand-in failed on purpose"])
            // A kind no handler is registered for fails for good, saying so.
            let orphan = try await JobQueue.enqueue("nobody-handles-this", payload: "{}", maxAttempts: 3, on: app.db)
            #expect(try await worker.runOnce())
            let failed = try #require(try await QueuedJob.find(orphan.requireID(), on: app.db))
            #expect(failed.status == .failed && failed.error?.contains("No worker handles jobs of kind nobody-handles-this") == true)
            #expect(try await worker.runOnce() == false)
        }
    }

    /// A hand-in graded through the queue, the grading handler and the ledger, with the sandbox a stand-in that answers
    /// each Classroom test's run as a correct program would, using 700 ms of CPU per run: the grade and the charge
    /// come from those answers.
    @Test func aHandInIsGradedAndChargedWithAStandInSandbox() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let asked = NIOLockedValueBox<[String]>([])
            app.sandbox = SandboxService(sandbox: app.sandbox.sandbox, metrics: nil) { job, _ in
                let command = job.command.joined(separator: " ")
                asked.withLockedValue { $0.append(command) }
                let stdout = command.contains("add.py") ? "5\n" : "Hello, world\n"
                return SandboxResult(status: .ok, exitCode: 0, signal: nil, cpuMs: 700, wallMs: 900, maxRssKb: 1000, stdout: stdout, stderr: "",
                                     truncated: false, outputFiles: [], skippedOutputs: [])
            }
            let assignmentID = try await GradingFlowTests.createAssignment(app, [
                "title": "Stand-in lab", "kind": "classroom", "requiredFiles": "hello.py\nadd.py", "classroomTests": GradingFlowTests.classroomTests,
            ])
            let handed = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello, "add.py": GradingFlowTests.add],
                                              as: try await app.bearer("student1@demo.test"))
            #expect(handed.status == .created, "\(handed.body.string)")
            let id = try handed.content.decode(SubmissionDTO.self).id
            try await app.drainGradingQueue()
            #expect(asked.withLockedValue { $0.count } == 3)  // one run per test
            let graded = try await GradingFlowTests.submission(app, id, as: "student1@demo.test")
            #expect(graded.status == "graded" && graded.autograderScore == 6 && graded.maxScore == 6)
            // Charged by what the stand-in reported (3 × 700 ms CPU, 3 × 900 ms wall) at the price list.
            let submission = try #require(try await Submission.find(id, on: app.db))
            #expect(submission.cpuMs == 2100 && submission.wallMs == 2700)
            let prices = try await Prices.list(on: app.db)
            let expected = try prices.cost(of: [.sandboxCPUSecond: 2100, .sandboxWallSecond: 2700], at: submission.submittedAt)
            #expect(submission.charged == expected.micro)
            #expect(try await LedgerHold.find(try #require(submission.holdID), on: app.db)?.status == .settled)
            try await LedgerStoreTests.expectConserved(app)
        }
    }
}
