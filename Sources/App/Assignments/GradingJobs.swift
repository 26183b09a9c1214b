// Grading on the durable queue: a hand-in's run (`GradeRunHandler`: its rows loaded with the claim, the sandbox run,
// then its credits settled by what it used and its result recorded with the job's completion in one transaction) and
// an autograder's set-up (`AutograderSetupHandler`: setup.sh run once into an environment layer). The workers that
// run them are the platform's (`Jobs/JobWorker.swift`).
import Fluent
import Foundation
import Grading
import Ledger
import NIOConcurrencyHelpers
import SQLKit
import Vapor

enum GradingJobs {
    static let grade = "grade"
    static let setup = "autograder-setup"

    struct GradePayload: Codable { var submission: UUID; var run: Int }
    struct SetupPayload: Codable { var assignment: UUID; var version: Int }

    static func enqueueGrade(_ submissionID: UUID, run: Int, at now: Date, on db: any Database) async throws -> QueuedJob {
        try await JobQueue.enqueue(grade, payload: try JobQueue.encode(GradePayload(submission: submissionID, run: run)), maxAttempts: 3, at: now, on: db)
    }

    static func enqueueSetup(of assignment: Assignment, at now: Date, on db: any Database) async throws {
        let payload = SetupPayload(assignment: try assignment.requireID(), version: assignment.autograderVersion)
        try await JobQueue.enqueue(setup, payload: try JobQueue.encode(payload), maxAttempts: 2, at: now, on: db)
    }
}

/// A hand-in's grading run.
struct GradeRunHandler: JobHandler {
    /// A worker claims its next job while the current one runs only when the current run may take at most this long.
    static let workAheadSeconds = 120
    var kind: String { GradingJobs.grade }

    /// What a grading run needs, loaded right after the claim on the same connection (see `load`).
    struct GradeInput: Sendable {
        let submissionID: UUID
        /// The credits held for the run, settled when it is recorded.
        let holdID: UUID?
        let assignment: GradingAssignment
        let files: [String: Data]
        /// Gradescope's submission_metadata.json: the submission, its assignment, its author and earlier attempts.
        let metadata: SubmissionMetadata
    }

    func load(_ job: QueuedJob, on db: any Database) async throws -> JobLoad {
        let payload = try JobQueue.decode(GradingJobs.GradePayload.self, job.payload)
        guard let input = try await Self.load(payload.submission, on: db) else { return .gone(result: "the submission no longer exists") }
        return .ready(input)
    }

    /// The run in the sandbox; what records it (settles its credits and completes the job with the result, in one
    /// transaction) comes back, so the worker may start its next run first.
    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        guard let input = claimed.loaded as? GradeInput else { return nil }
        // The grader (an autograder's set-up, its files read or unzipped, the sandbox's first checks) on the pool.
        let outcome = try await withTaskExecutorPreference(globalConcurrentExecutor) { [app = worker.app] in
            try await Grader(app: app).grade(input.assignment, files: input.files, metadata: input.metadata)
        }
        return { try await Self.record(claimed.job, input, outcome, worker: worker) }
    }

    /// Its load and its record are database statements and a little arithmetic (the grader itself runs on the pool).
    var runsOnEventLoop: Bool { true }

    func worksAhead(_ claimed: ClaimedJob) -> Bool {
        ((claimed.loaded as? GradeInput)?.assignment.timeLimitSeconds ?? .max) <= Self.workAheadSeconds
    }

    /// A run claimed ahead and put back: its submission is waiting again.
    func released(_ claimed: ClaimedJob, app: Application) async {
        if let submission = (claimed.loaded as? GradeInput)?.submissionID { try? await Self.mark(submission, .queued, on: app.db) }
    }

    /// The run will not be tried again: the submission fails with the reason, its credits freed.
    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        let payload = try JobQueue.decode(GradingJobs.GradePayload.self, job.payload)
        if let submission = try await Submission.find(payload.submission, on: app.db) {
            try await Self.markFailed(submission, reason: reason, app: app)
        }
    }

    /// Runs that failed for good without a worker to say so (every worker died, or every attempt failed) leave their
    /// submission failed with the reason and its credits freed, so nothing stays "queued" or held forever.
    func sweep(_ app: Application) async throws {
        let waiting = try await Submission.query(on: app.db).filter(\.$status ~~ [.queued, .running]).all()
        for (submission, reason) in try await JobQueue(db: app.db).failedForGood(waiting, entry: \.jobID) {
            try await Self.markFailed(submission, reason: reason, app: app)
        }
    }

    // MARK: Grading a submission

    /// The submission's rows, with the submission marked running; nil when it no longer exists. Every hand-in is
    /// loaded here, so it takes few plain statements: the submission with its assignment, author and files (one
    /// join, only the columns a run needs), the mark, and its earlier attempts (none to read for a first attempt).
    private static func load(_ submissionID: UUID, on db: any Database) async throws -> GradeInput? {
        let sql = try db.sqlDatabase()
        // One row per file (a hand-in has at least one), each with the submission's, assignment's and author's columns.
        let rows = try await sql.raw("""
            SELECT s.attempt, s.submitted_at, s.hold_id, s.user_id, u.email, u.display_name, \(unsafeRaw: GradingAssignment.columns(of: "a")),
              f.path, f.contents
            FROM submissions s JOIN assignments a ON a.id = s.assignment_id JOIN users u ON u.id = s.user_id
              LEFT JOIN submission_files f ON f.submission_id = s.id
            WHERE s.id = \(bind: submissionID)
            """).all()
        guard let row = rows.first else { return nil }
        let assignment = try GradingAssignment(row: row)
        let attempt = try row.decode(column: "attempt", as: Int.self), userID = try row.decode(column: "user_id", as: UUID.self)
        var files: [String: Data] = [:]
        for file in rows {
            guard let path = try file.decode(column: "path", as: String?.self) else { continue }
            files[path] = try file.decode(column: "contents", as: Data.self)
        }
        try await mark(submissionID, .running, on: db)
        var previous: [SubmissionMetadata.Previous] = []
        if attempt > 1 {  // only what the metadata names (not each attempt's log and results)
            previous = try await sql.raw("""
                SELECT submitted_at, score FROM submissions
                WHERE assignment_id = \(bind: assignment.id) AND user_id = \(bind: userID) AND attempt < \(bind: attempt) ORDER BY attempt
                """).all().map { .init(submissionTime: try $0.decode(column: "submitted_at", as: Date.self), score: try $0.decode(column: "score", as: Double?.self)) }
        }
        let metadata = SubmissionMetadata(
            id: submissionID.uuidString.lowercased(), createdAt: try row.decode(column: "submitted_at", as: Date.self),
            assignment: .init(id: assignment.id.uuidString.lowercased(), title: assignment.title, dueDate: assignment.dueAt,
                              releaseDate: assignment.releaseAt, totalPoints: assignment.pointsPossible, courseID: assignment.courseID.uuidString.lowercased()),
            users: [.init(id: userID.uuidString.lowercased(), email: try row.decode(column: "email", as: String.self),
                          name: try row.decode(column: "display_name", as: String.self))],
            previousSubmissions: previous)
        return GradeInput(submissionID: submissionID, holdID: try row.decode(column: "hold_id", as: UUID?.self), assignment: assignment,
                          files: files, metadata: metadata)
    }

    /// Completes the job, settles the run's credits by what it used and records the result, in one transaction.
    private static func record(_ job: QueuedJob, _ input: GradeInput, _ outcome: GradingOutcome, worker: JobWorker) async throws {
        let app = worker.app
        try await worker.complete(job, result: "graded") { tx in
            let charged = try await SandboxCharges.settle(input.holdID, cpuMs: outcome.cpuMs, wallMs: outcome.wallMs,
                                                          what: "grading run of “\(input.assignment.title)”", ledger: app.ledger(inWrite: tx),
                                                          logger: app.logger)
            try await recordOutcome(input.submissionID, outcome, charged: charged, app: app, on: tx)
        }
        app.platformMetrics.recordGrading(input.assignment.kind.rawValue, problem: outcome.problem != nil)
    }

    /// A run's result on its submission, in the transaction that completes the run: the submission, its tests, the
    /// grade's listeners and its student's gradebook row.
    static func recordOutcome(_ submissionID: UUID, _ outcome: GradingOutcome, charged: Int64, app: Application, on tx: any Database) async throws {
        try await tx.sqlDatabase().raw("""
            UPDATE submissions SET status = \(bind: SubmissionStatus.graded.rawValue), graded_at = \(bind: app.clock.now()), score = \(bind: outcome.score),
              max_score = \(bind: outcome.maxScore), results = \(bind: outcome.results), problem = \(bind: outcome.problem), log = \(bind: outcome.log),
              cpu_ms = \(bind: outcome.cpuMs), wall_ms = \(bind: outcome.wallMs), charged = charged + \(bind: charged)
            WHERE id = \(bind: submissionID)
            """).run()
        try await SubmissionTests.replace(for: submissionID, tests: outcome.tests, on: tx)
        try await app.gradeChanged(.submission(submissionID), on: tx)
        try await GradebookRows.changed(submission: submissionID, on: tx)
    }

    // MARK: Recording

    /// Sets a submission's status (waiting again, or running) while it is one of those (neither counts in the
    /// gradebook), never a finished one's.
    static func mark(_ submissionID: UUID, _ status: SubmissionStatus, on db: any Database) async throws {
        try await db.sqlDatabase().raw("""
            UPDATE submissions SET status = \(bind: status.rawValue) WHERE id = \(bind: submissionID) AND status IN ('queued', 'running')
            """).run()
    }

    static func markFailed(_ submission: Submission, reason: String, app: Application) async throws {
        submission.status = .failed
        submission.gradedAt = app.clock.now()
        submission.score = 0
        submission.problem = "It could not be graded: \(reason) Nothing was charged; the course staff can regrade it."
        let id = try submission.requireID()
        try await app.writeTransaction(on: app.db) { tx in
            try await submission.save(on: tx)
            try await GradebookRows.changed(submission: id, on: tx)
        }
        // Mirrors of the grade (the LMS) must not keep the failure from being recorded: their sweep catches up.
        do { try await app.gradeChanged(.submission(id), on: app.db) } catch {
            app.logger.error("A grade listener failed for submission \(submission.id?.uuidString ?? "?"): \(error)")
        }
        if let hold = submission.holdID { _ = try? await app.ledger.void(hold, memo: "grading failed") }
    }
}

/// An autograder's set-up: its setup.sh run once, with network, into an environment layer on this machine.
struct AutograderSetupHandler: JobHandler {
    var kind: String { GradingJobs.setup }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        let job = claimed.job, app = worker.app
        let payload = try JobQueue.decode(GradingJobs.SetupPayload.self, job.payload)
        let sql = try app.db.sqlDatabase()
        guard let row = try await sql.raw("SELECT \(unsafeRaw: GradingAssignment.columns(of: "a")) FROM assignments a WHERE a.id = \(bind: payload.assignment)").first(),
              case let assignment = try GradingAssignment(row: row), assignment.autograderVersion == payload.version else {
            try await worker.complete(job, result: "superseded by a newer autograder") { _ in }
            return nil
        }
        let built: EnvironmentLayers.Outcome
        do {
            built = try await app.environmentLayers.ensure(assignment)
        } catch let problem as ResultsProblem {
            built = .failed(log: "The autograder zip cannot be read: \(problem.message)")
        }
        try await worker.complete(job, result: "set up") { tx in
            let (status, log): (SetupStatus, String) = switch built {
            case .ready(_, let log): (.ready, log)
            case .failed(let log): (.failed, log)
            }
            // Only this version's set-up: a newer autograder uploaded meanwhile has its own.
            try await tx.sqlDatabase().raw("""
                UPDATE assignments SET setup_status = \(bind: status.rawValue), setup_log = \(bind: log)
                WHERE id = \(bind: payload.assignment) AND autograder_version = \(bind: payload.version)
                """).run()
        }
        return nil
    }

    /// The set-up will not be tried again: the assignment says so, if this is still its autograder.
    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        let payload = try JobQueue.decode(GradingJobs.SetupPayload.self, job.payload)
        if let assignment = try await Assignment.find(payload.assignment, on: app.db), assignment.autograderVersion == payload.version {
            assignment.setupStatus = .failed
            assignment.setupLog = "The set-up could not run: \(reason)"
            try await assignment.save(on: app.db)
        }
    }
}
