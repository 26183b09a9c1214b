// The grading workers: they take jobs from the durable queue (grading runs, autograder set-ups), renew their lease
// while working, settle the run's credits by what it used, and record the result together with the job's
// completion in one transaction — only the lease holder can complete, so a submission gets exactly one result
// even when a worker is killed mid-run and another takes the job over. They run inside `campuscloud serve`
// (CAMPUSCLOUD_GRADING_WORKERS) and as `campuscloud worker --concurrency N` on any machine that reaches the same
// PostgreSQL.
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
    static let kinds = [grade, setup]

    struct GradePayload: Codable { var submission: UUID; var run: Int }
    struct SetupPayload: Codable { var assignment: UUID; var version: Int }

    static func enqueueGrade(_ submissionID: UUID, run: Int, on db: any Database) async throws -> QueuedJob {
        try await JobQueue.enqueue(grade, payload: try encode(GradePayload(submission: submissionID, run: run)), maxAttempts: 3, on: db)
    }

    static func enqueueSetup(of assignment: Assignment, on db: any Database) async throws {
        let payload = SetupPayload(assignment: try assignment.requireID(), version: assignment.autograderVersion)
        try await JobQueue.enqueue(setup, payload: try encode(payload), maxAttempts: 2, on: db)
    }

    static func encode<T: Encodable>(_ value: T) throws -> String { String(decoding: try JSONEncoder().encode(value), as: UTF8.self) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try JSONDecoder().decode(type, from: Data(text.utf8)) }

    /// Grading jobs that failed for good (every worker died, or every attempt failed) leave their submission
    /// failed with the reason and its credits freed, so nothing stays "queued" or held forever.
    /// (The platform's periodic sweep also erases AI prompts past their course's retention.)
    static func sweep(_ app: Application) async throws {
        try await AIUsageReports.erasePrompts(on: app.db)
        try await JobQueue(db: app.db).failAbandoned()
        try await ResearchJobs.sweep(app)
        let waiting = try await Submission.query(on: app.db).filter(\.$status ~~ [.queued, .running]).all()
        let reasons = try await JobQueue(db: app.db).failures(among: waiting.compactMap(\.jobID))
        for submission in waiting {
            guard let id = submission.jobID, let reason = reasons[id] else { continue }
            try await GradingWorker.markFailed(submission, reason: reason, app: app)
        }
    }
}

struct GradingWorker: Sendable {
    let app: Application
    let name: String
    var lease: TimeInterval = 60
    /// Grading, autograder set-ups and research projects' batch jobs.
    var kinds = GradingJobs.kinds + [ResearchJobs.kind]

    /// A result arrived after the lease had gone to another worker: that worker's result is the one kept.
    struct LeaseLost: Error {}

    /// A claimed job, its lease kept alive until it is recorded, and for a grading run everything its sandbox run
    /// needs (loaded while another run was in the sandbox, when the worker works ahead).
    struct Claimed: Sendable {
        let job: QueuedJob
        let renewal: Task<Void, Never>
        /// The grading run's rows (nil for other kinds, or when there is nothing left to grade).
        var grade: GradeInput?
    }

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

    /// Claims one job and finishes it; false when there was nothing to do.
    func runOnce() async throws -> Bool {
        guard let claimed = try await claim() else { return false }
        if let record = await run(claimed) { await record() }
        return true
    }

    /// Claims the oldest job of this worker's kinds, starts renewing its lease, and loads a grading run's rows
    /// (marking the submission running). nil when there is nothing to do.
    func claim() async throws -> Claimed? {
        // The claim and a grading run's loads on one leased connection: a statement through the pool costs several
        // times one on a connection already held. (Nothing in here asks the pool for another connection: on SQLite
        // an event loop has one. Completing or failing the job, which may, comes after.) The claim and the
        // "running" mark write, so it all happens in this process's turn to write (taken before the lease).
        let (claimedJob, loaded): (QueuedJob?, Result<GradeInput?, any Error>?) = try await app.writing { [app, name, kinds, lease] in
            try await app.db.withConnection { db in
                guard let job = try await JobQueue(db: db).claim(worker: name, kinds: kinds, lease: lease) else { return (nil, nil) }
                guard job.kind == GradingJobs.grade else { return (job, nil) }
                do {
                    let payload = try GradingJobs.decode(GradingJobs.GradePayload.self, job.payload)
                    return (job, .success(try await Self.load(payload.submission, on: db)))
                } catch {
                    return (job, .failure(error))
                }
            }
        }
        guard let job = claimedJob, let jobID = job.id else { return nil }
        let queue = JobQueue(db: app.db)
        let renewal = Task { [name, lease] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(0.2, lease / 3)))
                if Task.isCancelled { break }
                _ = try? await queue.renew(jobID, worker: name, lease: lease)
            }
        }
        var claimed = Claimed(job: job, renewal: renewal)
        switch loaded {
        case .success(let input?): claimed.grade = input
        case .success(nil): try await complete(job, result: "the submission no longer exists") { _ in }
        case .failure(let error): await failed(job, error)
        case nil: break
        }
        return claimed
    }

    /// Runs a claimed job. A grading run's result is not recorded yet: what records it (settles its credits and
    /// completes the job with the result, in one transaction) comes back, so a worker may start its next run first.
    func run(_ claimed: Claimed) async -> (@Sendable () async -> Void)? {
        let job = claimed.job, queue = JobQueue(db: app.db)
        do {
            switch job.kind {
            case GradingJobs.grade:
                guard let input = claimed.grade else { break }  // nothing to grade (gone, or failed while loading)
                let outcome = try await Grader(app: app).grade(input.assignment, files: input.files, metadata: input.metadata)
                return { [self] in
                    defer { claimed.renewal.cancel() }
                    do { try await self.record(job, input, outcome) } catch { await self.failed(job, error) }
                }
            case GradingJobs.setup: try await setUp(job)
            case ResearchJobs.kind: try await ResearchJobs.run(job, worker: self)
            default: _ = try await queue.fail(try job.requireID(), worker: name, error: "No worker handles jobs of kind \(job.kind).", retry: false)
            }
        } catch {
            await failed(job, error)
        }
        claimed.renewal.cancel()
        return nil
    }

    /// Works until its task is cancelled, working ahead: while a grading run is in the sandbox, the next job is
    /// claimed and its rows loaded, and a finished run is recorded while the next one runs. The sandbox runs one job
    /// at a time either way; the database work no longer waits in between. Only a short run is followed by a claim
    /// ahead, so no job waits long behind another. `sweeps`: this worker also runs the periodic sweep.
    func work(poll: Duration, sweeps: Bool) async {
        var lastSweep = ContinuousClock.now - .seconds(60)
        var ahead: Task<Claimed?, any Error>?
        var recording: Task<Void, Never>?
        while !Task.isCancelled {
            do {
                if sweeps, ContinuousClock.now - lastSweep > .seconds(30) {
                    lastSweep = .now
                    try await GradingJobs.sweep(app)
                }
                let next = ahead
                ahead = nil
                guard let claimed = try await (next == nil ? claim() : next!.value) else {
                    if !Task.isCancelled { await app.jobBell.wait(upTo: poll) }
                    continue
                }
                if let input = claimed.grade, input.assignment.timeLimitSeconds <= GradingWorkers.workAheadSeconds {
                    ahead = Task { try await claim() }
                }
                let record = await run(claimed)
                await recording?.value
                recording = record.map { record in Task { await record() } }
            } catch {
                app.logger.warning("Grading worker \(name): \(String(describing: error)); trying again shortly")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await recording?.value
        if let claimed = try? await ahead?.value { await release(claimed) }
    }

    /// Puts back a job claimed ahead but never started (the worker is stopping): it is queued again, its attempt
    /// not counted, its submission waiting again.
    func release(_ claimed: Claimed) async {
        claimed.renewal.cancel()
        guard let jobID = claimed.job.id, (try? await JobQueue(db: app.db).release(jobID, worker: name)) == true else { return }
        if let submission = claimed.grade?.submissionID { try? await Self.mark(submission, .queued, on: app.db) }
    }

    /// A job that threw: tried again while attempts remain, else failed for good (its submission, set-up or research
    /// job says why). A lost lease records nothing: another worker's result stands.
    private func failed(_ job: QueuedJob, _ error: any Error) async {
        guard let jobID = job.id else { return }
        if error is LeaseLost {
            app.logger.warning("Grading job \(jobID): the lease ran out before the result was recorded; another worker's result stands")
            return
        }
        let final = job.attempts >= job.maxAttempts
        app.logger.error("Grading job \(jobID) failed (attempt \(job.attempts) of \(job.maxAttempts)): \(String(describing: error))")
        do {
            guard try await JobQueue(db: app.db).fail(jobID, worker: name, error: String(describing: error), retry: !final) else { return }
            if final { try await failedForGood(job, reason: String(describing: error)) }
        } catch {
            app.logger.error("Grading job \(jobID): the failure could not be recorded (\(String(describing: error))); the sweep will")
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
    private func record(_ job: QueuedJob, _ input: GradeInput, _ outcome: GradingOutcome) async throws {
        try await complete(job, result: "graded") { [app] tx in
            let charged = try await SandboxCharges.settle(input.holdID, cpuMs: outcome.cpuMs, wallMs: outcome.wallMs,
                                                          what: "grading run of “\(input.assignment.title)”", ledger: app.ledger(inWrite: tx),
                                                          logger: app.logger)
            try await tx.sqlDatabase().raw("""
                UPDATE submissions SET status = \(bind: SubmissionStatus.graded.rawValue), graded_at = \(bind: Date()), score = \(bind: outcome.score),
                  max_score = \(bind: outcome.maxScore), results = \(bind: outcome.results), problem = \(bind: outcome.problem), log = \(bind: outcome.log),
                  cpu_ms = \(bind: outcome.cpuMs), wall_ms = \(bind: outcome.wallMs), charged = charged + \(bind: charged)
                WHERE id = \(bind: input.submissionID)
                """).run()
        }
        app.platformMetrics.recordGrading(input.assignment.kind.rawValue, problem: outcome.problem != nil)
    }

    // MARK: Setting an autograder up

    private func setUp(_ job: QueuedJob) async throws {
        let payload = try GradingJobs.decode(GradingJobs.SetupPayload.self, job.payload)
        let sql = try app.db.sqlDatabase()
        guard let row = try await sql.raw("SELECT \(unsafeRaw: GradingAssignment.columns(of: "a")) FROM assignments a WHERE a.id = \(bind: payload.assignment)").first(),
              case let assignment = try GradingAssignment(row: row), assignment.autograderVersion == payload.version else {
            try await complete(job, result: "superseded by a newer autograder") { _ in }
            return
        }
        let built: EnvironmentLayers.Outcome
        do {
            built = try await app.environmentLayers.ensure(assignment)
        } catch let problem as ResultsProblem {
            built = .failed(log: "The autograder zip cannot be read: \(problem.message)")
        }
        try await complete(job, result: "set up") { tx in
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
    }

    // MARK: Recording

    /// Sets a submission's status (waiting again, or running).
    static func mark(_ submissionID: UUID, _ status: SubmissionStatus, on db: any Database) async throws {
        try await db.sqlDatabase().raw("UPDATE submissions SET status = \(bind: status.rawValue) WHERE id = \(bind: submissionID)").run()
    }

    /// Completes the job and records its result in one transaction (in this process's turn to write); throws
    /// LeaseLost (recording nothing, settling nothing) when this worker no longer holds the job.
    func complete(_ job: QueuedJob, result: String, _ record: @escaping @Sendable (any Database) async throws -> Void) async throws {
        let jobID = try job.requireID(), name = self.name
        try await app.writeTransaction(on: app.db) { tx in
            guard try await JobQueue(db: tx).complete(jobID, worker: name, result: result) else { throw LeaseLost() }
            try await record(tx)
        }
    }

    /// The job will not be tried again: its submission fails with the reason, or its autograder set-up, or its
    /// research job (credits freed).
    private func failedForGood(_ job: QueuedJob, reason: String) async throws {
        switch job.kind {
        case GradingJobs.grade:
            let payload = try GradingJobs.decode(GradingJobs.GradePayload.self, job.payload)
            if let submission = try await Submission.find(payload.submission, on: app.db) {
                try await Self.markFailed(submission, reason: reason, app: app)
            }
        case GradingJobs.setup:
            let payload = try GradingJobs.decode(GradingJobs.SetupPayload.self, job.payload)
            if let assignment = try await Assignment.find(payload.assignment, on: app.db), assignment.autograderVersion == payload.version {
                assignment.setupStatus = .failed
                assignment.setupLog = "The set-up could not run: \(reason)"
                try await assignment.save(on: app.db)
            }
        case ResearchJobs.kind:
            let payload = try GradingJobs.decode(ResearchJobs.Payload.self, job.payload)
            try await ResearchJobs.markFailed(payload.job, reason: reason, app: app)
        default: break
        }
    }

    static func markFailed(_ submission: Submission, reason: String, app: Application) async throws {
        submission.status = .failed
        submission.gradedAt = Date()
        submission.score = 0
        submission.problem = "It could not be graded: \(reason) Nothing was charged; the course staff can regrade it."
        try await submission.save(on: app.db)
        if let hold = submission.holdID { _ = try? await app.ledger.void(hold, memo: "grading failed") }
    }
}

/// `count` workers in this process, polling the queue while it is empty; stopped with the application.
final class GradingWorkers: LifecycleHandler, Sendable {
    /// A worker claims its next job while the current one runs only when the current run may take at most this long.
    static let workAheadSeconds = 120
    let count: Int
    let lease: TimeInterval
    let poll: Duration
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    /// The application's job bell, rung on stop so a worker waiting for work stops at once.
    private let bell = NIOLockedValueBox<JobBell?>(nil)

    init(count: Int, lease: TimeInterval = 60, poll: Duration = .milliseconds(100)) {
        self.count = count
        self.lease = lease
        self.poll = poll
    }

    func didBootAsync(_ application: Application) async throws { start(application) }

    func start(_ application: Application) {
        guard count > 0 else { return }
        let host = ProcessInfo.processInfo.hostName, pid = ProcessInfo.processInfo.processIdentifier
        let started = (0..<count).map { index in
            let worker = GradingWorker(app: application, name: "\(host):\(pid):\(index + 1)", lease: lease)
            return Task { [poll] in await worker.work(poll: poll, sweeps: index == 0) }
        }
        tasks.withLockedValue { $0 += started }
        bell.withLockedValue { $0 = application.jobBell }
        application.logger.info("Started \(count) grading worker(s)")
    }

    func shutdownAsync(_ application: Application) async { await stop() }

    /// Stops claiming: each worker finishes and records the run in progress and puts back the job it claimed ahead.
    /// (A worker process killed outright leaves its job to the lease: another worker takes it when the lease runs out.)
    func stop() async {
        let running = tasks.withLockedValue { current in
            defer { current = [] }
            return current
        }
        for task in running { task.cancel() }
        bell.withLockedValue { $0 }?.ring()  // a worker waiting for work stops now
        for task in running { await task.value }
    }
}

