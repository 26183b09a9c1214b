// The platform's workers: they take jobs from the durable queue, renew their lease while working, and record each
// result together with the job's completion in one transaction — only the lease holder can complete, so a job gets
// exactly one result even when a worker is killed mid-run and another takes it over. What a job of each kind does
// is its `JobHandler`'s (grading runs and autograder set-ups in Assignments/, research jobs in Research/), registered
// in `configure`: this file knows no kind. Workers run inside `campuscloud serve` (CAMPUSCLOUD_GRADING_WORKERS) and as
// `campuscloud worker --concurrency N` on any machine that reaches the same PostgreSQL.
import Fluent
import Foundation
import NIOConcurrencyHelpers
import Vapor

/// What one kind of queued job does.
protocol JobHandler: Sendable {
    /// The queue's name for the kind (`QueuedJob.kind`).
    var kind: String { get }
    /// Right after the claim, on the claim's connection and in this process's turn to write: reads what the run
    /// needs (and may mark its subject started). It runs on the worker's event loop whatever the kind: database
    /// statements only, never anything that blocks the thread. The default loads nothing.
    func load(_ job: QueuedJob, on db: any Database) async throws -> JobLoad
    /// Runs the job. What records a result that should not wait (the worker may start its next job first) comes
    /// back; nil when the handler recorded it already (through `worker.complete`).
    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording?
    /// The job failed for the last time: its subject says so (and frees what it held).
    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws
    /// Periodic: subjects whose jobs failed for good without a worker to say so. The default does nothing.
    func sweep(_ app: Application) async throws
    /// Whether the worker may claim its next job while this one runs (short runs only). The default: no.
    func worksAhead(_ claimed: ClaimedJob) -> Bool
    /// A job claimed ahead was put back unstarted (the worker is stopping). The default does nothing.
    func released(_ claimed: ClaimedJob, app: Application) async
    /// Whether its run and its recording may stay on the worker's event loop: only for work that never blocks the
    /// thread (that loop serves connections too); what its database answers then resumes it without a hop. The
    /// default: no, they run on the concurrency pool.
    var runsOnEventLoop: Bool { get }
}

extension JobHandler {
    func load(_ job: QueuedJob, on db: any Database) async throws -> JobLoad { .ready(nil) }
    func sweep(_ app: Application) async throws {}
    func worksAhead(_ claimed: ClaimedJob) -> Bool { false }
    func released(_ claimed: ClaimedJob, app: Application) async {}
    var runsOnEventLoop: Bool { false }
}

/// What `JobHandler.load` found.
enum JobLoad: Sendable {
    /// Run it, with what was loaded (the handler's own type, or nil).
    case ready((any Sendable)?)
    /// Its subject is gone: the job is completed with this result and not run.
    case gone(result: String)
}

/// A run that should be tried again after `delay` (the service it calls asked to wait, or is down for a while).
struct RetryLater: Error, CustomStringConvertible {
    var delay: TimeInterval
    var reason: String
    var description: String { reason }
}

/// Records a run's result (called by the worker, which then stops renewing the lease).
typealias JobRecording = @Sendable () async throws -> Void

/// A claimed job, its lease kept alive until it is recorded, with what its handler loaded.
struct ClaimedJob: Sendable {
    let job: QueuedJob
    let renewal: Task<Void, Never>
    let loaded: (any Sendable)?
    /// Completed or failed while loading: there is nothing to run.
    var settled = false
}

/// The kinds this platform runs and its periodic tasks, set once in `configure`.
struct JobHandlers: Sendable {
    private let byKind: [String: any JobHandler]
    /// Other periodic work of the platform (e.g. erasing AI prompts past their retention), run with the sweep.
    let sweeps: [@Sendable (Application) async throws -> Void]

    init(_ handlers: [any JobHandler], sweeps: [@Sendable (Application) async throws -> Void] = []) {
        byKind = Dictionary(uniqueKeysWithValues: handlers.map { ($0.kind, $0) })
        self.sweeps = sweeps
    }

    var kinds: [String] { byKind.keys.sorted() }

    /// The same without some kinds (a process that cannot do them leaves them to one that can).
    func excluding(_ kinds: Set<String>) -> JobHandlers {
        JobHandlers(byKind.values.filter { !kinds.contains($0.kind) }, sweeps: sweeps)
    }
    subscript(kind: String) -> (any JobHandler)? { byKind[kind] }
    var all: [any JobHandler] { kinds.compactMap { byKind[$0] } }
}

extension Application {
    private struct JobHandlersKey: StorageKey { typealias Value = JobHandlers }
    var jobHandlers: JobHandlers {
        get { storage[JobHandlersKey.self] ?? JobHandlers([]) }
        set { storage[JobHandlersKey.self] = newValue }
    }
}

struct JobWorker: Sendable {
    let app: Application
    let name: String
    var lease: TimeInterval = 60
    /// The kinds this worker claims: every registered kind unless narrowed.
    var kinds: [String]
    /// The event loop its claims (and the runs of handlers that may, `JobHandler.runsOnEventLoop`) run on: what the
    /// database answers on that loop resumes them with no hop between threads. nil: the concurrency pool.
    var executor: EventLoopTaskExecutor?

    init(app: Application, name: String, lease: TimeInterval = 60, kinds: [String]? = nil) {
        self.app = app
        self.name = name
        self.lease = lease
        self.kinds = kinds ?? app.jobHandlers.kinds
    }

    /// A result arrived after the lease had gone to another worker: that worker's result is the one kept.
    struct LeaseLost: Error {}

    /// Claims one job and finishes it; false when there was nothing to do.
    func runOnce() async throws -> Bool {
        guard let claimed = try await claim() else { return false }
        if let record = await run(claimed) { await record() }
        return true
    }

    /// Claims the oldest job of this worker's kinds, starts renewing its lease, and lets its handler load what the
    /// run needs. nil when there is nothing to do.
    func claim() async throws -> ClaimedJob? {
        // The claim and the handler's loads on one leased connection: a statement through the pool costs several
        // times one on a connection already held. (Nothing in here asks the pool for another connection: on SQLite
        // an event loop has one. Completing or failing the job, which may, comes after.) The claim and a handler's
        // marks write, so it all happens in this process's turn to write (taken before the lease).
        let handlers = app.jobHandlers
        let (claimedJob, loaded): (QueuedJob?, Result<JobLoad, any Error>?) = try await app.writing { [app, name, kinds, lease] in
            try await app.db.withConnection { db in
                guard let job = try await JobQueue(db: db, clock: app.clock.now).claim(worker: name, kinds: kinds, lease: lease) else { return (nil, nil) }
                guard let handler = handlers[job.kind] else { return (job, nil) }
                do { return (job, .success(try await handler.load(job, on: db))) } catch { return (job, .failure(error)) }
            }
        }
        guard let job = claimedJob, let jobID = job.id else { return nil }
        let queue = JobQueue(db: app.db, clock: app.clock.now)
        let renewal = Task { [name, lease] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(0.2, lease / 3)))
                if Task.isCancelled { break }
                _ = try? await queue.renew(jobID, worker: name, lease: lease)
            }
        }
        switch loaded {
        case .success(.ready(let value)):
            return ClaimedJob(job: job, renewal: renewal, loaded: value)
        case .success(.gone(let result)):
            do { try await complete(job, result: result) { _ in } } catch { await failed(job, error) }
        case .failure(let error):
            await failed(job, error)
        case nil:
            return ClaimedJob(job: job, renewal: renewal, loaded: nil)  // no handler: `run` fails it, saying so
        }
        var settled = ClaimedJob(job: job, renewal: renewal, loaded: nil)
        settled.settled = true
        return settled
    }

    /// Runs a claimed job. What records a result that can wait comes back, so the worker may start its next run first.
    func run(_ claimed: ClaimedJob) async -> (@Sendable () async -> Void)? {
        let job = claimed.job
        guard !claimed.settled else { claimed.renewal.cancel(); return nil }
        do {
            guard let handler = app.jobHandlers[job.kind] else {
                _ = try await JobQueue(db: app.db, clock: app.clock.now).fail(try job.requireID(), worker: name, error: "No worker handles jobs of kind \(job.kind).", retry: false)
                claimed.renewal.cancel()
                return nil
            }
            if let recording = try await handler.run(claimed, worker: self) {
                return { [self] in
                    defer { claimed.renewal.cancel() }
                    do { try await recording() } catch { await self.failed(job, error) }
                }
            }
        } catch {
            await failed(job, error)
        }
        claimed.renewal.cancel()
        return nil
    }

    /// Works until its task is cancelled, working ahead: while a short run is in the sandbox, the next job is
    /// claimed and loaded, and a finished run is recorded while the next one runs. The sandbox runs one job at a time
    /// either way; the database work no longer waits in between. `sweeps`: this worker also runs the periodic sweep.
    func work(poll: Duration, sweeps: Bool) async {
        var lastSweep = ContinuousClock.now - .seconds(60)
        var ahead: Task<ClaimedJob?, any Error>?
        var recording: Task<Void, Never>?
        while !Task.isCancelled {
            do {
                if sweeps, ContinuousClock.now - lastSweep > .seconds(30) {
                    lastSweep = .now
                    try await withTaskExecutorPreference(globalConcurrentExecutor) { [app] in try await Self.sweep(app) }
                }
                let next = ahead
                ahead = nil
                guard let claimed = try await (next == nil ? claim() : next!.value) else {
                    if !Task.isCancelled { await app.jobBell.wait(upTo: poll) }
                    continue
                }
                if app.jobHandlers[claimed.job.kind]?.worksAhead(claimed) == true {
                    ahead = Task(executorPreference: executor) { try await claim() }
                }
                // Kinds whose work may block the thread run (and record) on the concurrency pool.
                let onLoop = executor != nil && app.jobHandlers[claimed.job.kind]?.runsOnEventLoop == true
                let place: any TaskExecutor = (onLoop ? executor : nil) ?? globalConcurrentExecutor
                let record = await withTaskExecutorPreference(place) { await run(claimed) }
                await recording?.value
                recording = record.map { record in Task(executorPreference: place) { await record() } }
            } catch {
                app.logger.warning("Job worker \(name): \(String(describing: error)); trying again shortly")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await recording?.value
        if let claimed = try? await ahead?.value { await release(claimed) }
    }

    /// The periodic sweep: jobs whose workers died fail (or go back to the queue), each kind's subjects that failed
    /// for good say so, and the platform's other periodic tasks run.
    static func sweep(_ app: Application) async throws {
        try await JobQueue(db: app.db, clock: app.clock.now).failAbandoned()
        for handler in app.jobHandlers.all { try await handler.sweep(app) }
        for task in app.jobHandlers.sweeps { try await task(app) }
    }

    /// Puts back a job claimed ahead but never started (the worker is stopping): it is queued again, its attempt
    /// not counted, and its handler told.
    func release(_ claimed: ClaimedJob) async {
        claimed.renewal.cancel()
        guard !claimed.settled, let jobID = claimed.job.id, (try? await JobQueue(db: app.db, clock: app.clock.now).release(jobID, worker: name)) == true else { return }
        await app.jobHandlers[claimed.job.kind]?.released(claimed, app: app)
    }

    /// A job that threw: tried again while attempts remain, else failed for good (its handler says why where it
    /// shows). A lost lease records nothing: another worker's result stands.
    private func failed(_ job: QueuedJob, _ error: any Error) async {
        guard let jobID = job.id else { return }
        if error is LeaseLost {
            app.logger.warning("Job \(jobID): the lease ran out before the result was recorded; another worker's result stands")
            return
        }
        let final = job.attempts >= job.maxAttempts
        app.logger.error("Job \(jobID) (\(job.kind)) failed (attempt \(job.attempts) of \(job.maxAttempts)): \(String(describing: error))")
        do {
            let delay = (error as? RetryLater)?.delay ?? 5
            guard try await JobQueue(db: app.db, clock: app.clock.now).fail(jobID, worker: name, error: String(describing: error), retry: !final, after: delay) else { return }
            if final { try await app.jobHandlers[job.kind]?.gaveUp(job, reason: String(describing: error), app: app) }
        } catch {
            app.logger.error("Job \(jobID): the failure could not be recorded (\(String(describing: error))); the sweep will")
        }
    }

    /// Completes the job and records its result in one transaction (in this process's turn to write); throws
    /// LeaseLost (recording nothing, settling nothing) when this worker no longer holds the job.
    func complete(_ job: QueuedJob, result: String, _ record: @escaping @Sendable (any Database) async throws -> Void) async throws {
        let jobID = try job.requireID(), name = self.name
        try await app.writeTransaction(on: app.db) { tx in
            guard try await JobQueue(db: tx, clock: app.clock.now).complete(jobID, worker: name, result: result) else { throw LeaseLost() }
            try await record(tx)
        }
    }
}

/// `count` workers in this process, polling the queue while it is empty; stopped with the application.
final class JobWorkers: LifecycleHandler, Sendable {
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
            var worker = JobWorker(app: application, name: "\(host):\(pid):\(index + 1)", lease: lease)
            worker.executor = EventLoopTaskExecutor.of(application.eventLoopGroup.next())
            return Task(executorPreference: worker.executor) { [poll, worker] in await worker.work(poll: poll, sweeps: index == 0) }
        }
        tasks.withLockedValue { $0 += started }
        bell.withLockedValue { $0 = application.jobBell }
        application.logger.info("Started \(count) job worker(s)")
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
