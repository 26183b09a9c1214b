// The durable job queue, in the platform's own database. A job is enqueued in the same transaction as what it
// is for (a submission and its grading job are written together or not at all). A worker claims the oldest
// claimable job with one statement — `FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers on many machines never
// wait for each other; on SQLite the single writer makes the same UPDATE atomic — and holds a lease it renews
// while it works. A job whose worker died (its lease ran out) is claimed again, up to its maximum attempts. Only
// the worker that holds the lease can record the result, so each job ends with exactly one.
import Fluent
import Foundation
import SQLKit
import Vapor

struct JobQueue: Sendable {
    let db: any Database
    var clock: @Sendable () -> Date = { Date() }

    /// A job's payload as the queue stores it (JSON text), and back.
    static func encode<T: Encodable>(_ value: T) throws -> String { String(decoding: try JSONEncoder().encode(value), as: UTF8.self) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try JSONDecoder().decode(type, from: Data(text.utf8)) }

    /// Adds a job; pass the transaction's database to enqueue atomically with what the job is for. `now` is the
    /// platform's time (`app.clock`): the job may run from then (or from `runAfter`), as `claim` reads it.
    @discardableResult
    static func enqueue(_ kind: String, payload: String, maxAttempts: Int = 3, runAfter: Date? = nil, at now: Date = Date(),
                        on db: any Database) async throws -> QueuedJob {
        let job = QueuedJob()
        job.kind = kind
        job.payload = payload
        job.status = .queued
        job.attempts = 0
        job.maxAttempts = max(1, maxAttempts)
        job.runAfter = runAfter ?? now
        job.createdAt = now
        guard let sql = db as? any SQLDatabase else {
            try await job.create(on: db)
            return job
        }
        // One plain INSERT: every hand-in enqueues, and a model's create costs more than the statement.
        let id = UUID()
        job.id = id
        try await sql.insert(into: QueuedJob.schema)
            .columns("id", "kind", "payload", "status", "attempts", "max_attempts", "run_after", "created_at")
            .values(SQLBind(id), SQLBind(kind), SQLBind(payload), SQLBind(QueuedJobStatus.queued.rawValue), SQLBind(0),
                    SQLBind(job.maxAttempts), SQLBind(job.runAfter), SQLBind(job.createdAt))
            .run()
        return job
    }

    /// Adds a job unless one of the same kind and payload is queued or running (one worker per subject, e.g. one poster
    /// per LMS).
    static func enqueueUnlessLive(_ kind: String, payload: String, maxAttempts: Int = 3, at now: Date, on db: any Database) async throws {
        let live = try await QueuedJob.query(on: db).filter(\.$kind == kind).filter(\.$payload == payload).filter(\.$status ~~ [.queued, .running]).count()
        guard live == 0 else { return }
        try await enqueue(kind, payload: payload, maxAttempts: maxAttempts, at: now, on: db)
    }

    /// Claims the oldest job of these kinds that is queued, or running with a lease that ran out and attempts
    /// left; nil when there is none.
    func claim(worker: String, kinds: [String], lease: TimeInterval) async throws -> QueuedJob? {
        guard let sql = db as? any SQLDatabase, !kinds.isEmpty else { return nil }
        let now = clock(), expires = now.addingTimeInterval(lease)
        let postgres = sql.dialect.name == "postgresql"
        let kindList = SQLList(kinds.map { SQLBind($0) })
        let oldest: SQLQueryString
        if postgres {
            oldest = """
                SELECT id FROM jobs
                WHERE kind IN (\(kindList)) AND attempts < max_attempts
                  AND ((status = 'queued' AND run_after <= \(bind: now)) OR (status = 'running' AND lease_expires_at < \(bind: now)))
                ORDER BY run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED
                """
        } else {
            // SQLite sorted every claimable job to find the oldest (2 ms a claim with 10,000 queued): the oldest queued
            // job of each kind is read down the index instead (status, kind, run_after), and the oldest of those and
            // of the jobs whose lease ran out is taken.
            let queued = kinds.map { kind -> SQLQueryString in
                """
                SELECT * FROM (SELECT id, run_after, created_at FROM jobs
                  WHERE status = 'queued' AND kind = \(bind: kind) AND run_after <= \(bind: now) AND attempts < max_attempts
                  ORDER BY run_after, created_at LIMIT 1)
                """
            }
            let expired: SQLQueryString = """
                SELECT * FROM (SELECT id, run_after, created_at FROM jobs
                  WHERE status = 'running' AND lease_expires_at < \(bind: now) AND kind IN (\(kindList)) AND attempts < max_attempts
                  ORDER BY run_after, created_at LIMIT 1)
                """
            oldest = "SELECT id FROM (\(SQLList(queued + [expired], separator: SQLRaw(" UNION ALL ")))) ORDER BY run_after, created_at LIMIT 1"
        }
        let row = try await sql.raw("""
            UPDATE jobs SET status = 'running', lease_owner = \(bind: worker), lease_expires_at = \(bind: expires),
              attempts = attempts + 1, started_at = coalesce(started_at, \(bind: now))
            WHERE id = (\(oldest))
            RETURNING id, kind, payload, attempts, max_attempts, run_after, created_at, started_at
            """).first()
        guard let row else { return nil }
        // Read column by column (every grading run is claimed here; a model's generic decoding costs more than the claim).
        let job = QueuedJob()
        job.id = try row.decode(column: "id", as: UUID.self)
        job.kind = try row.decode(column: "kind", as: String.self)
        job.payload = try row.decode(column: "payload", as: String.self)
        job.status = .running
        job.attempts = try row.decode(column: "attempts", as: Int.self)
        job.maxAttempts = try row.decode(column: "max_attempts", as: Int.self)
        job.runAfter = try row.decode(column: "run_after", as: Date.self)
        job.leaseOwner = worker
        job.leaseExpiresAt = expires
        job.createdAt = try row.decode(column: "created_at", as: Date.self)
        job.startedAt = try row.decode(column: "started_at", as: Date?.self)
        job.$id.exists = true
        return job
    }

    /// Extends the lease; false when the worker no longer holds it (it ran out and another worker took the job).
    func renew(_ jobID: UUID, worker: String, lease: TimeInterval) async throws -> Bool {
        try await holds(jobID, worker: worker, set: "lease_expires_at = \(bind: clock().addingTimeInterval(lease))")
    }

    /// Records the result; false (and nothing recorded) when the worker no longer holds the lease.
    func complete(_ jobID: UUID, worker: String, result: String) async throws -> Bool {
        try await holds(jobID, worker: worker, set: "status = 'done', result = \(bind: result), finished_at = \(bind: clock()), lease_owner = NULL")
    }

    /// Records a failure: the job is tried again later while attempts remain (`retry`), else it fails for good.
    func fail(_ jobID: UUID, worker: String, error: String, retry: Bool, after delay: TimeInterval = 5) async throws -> Bool {
        let now = clock()
        if retry {
            return try await holds(jobID, worker: worker, set: """
                status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, error = \(bind: error),
                run_after = \(bind: now.addingTimeInterval(delay)), lease_owner = NULL, lease_expires_at = NULL,
                finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE \(bind: now) END
                """)
        }
        return try await holds(jobID, worker: worker, set: "status = 'failed', error = \(bind: error), finished_at = \(bind: now), lease_owner = NULL")
    }

    /// Puts a claimed job back in the queue as if it had not been claimed (its attempt not counted); false when the
    /// worker no longer holds it.
    func release(_ jobID: UUID, worker: String) async throws -> Bool {
        try await holds(jobID, worker: worker, set: "status = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL")
    }

    /// Jobs whose workers died on every attempt: marked failed with the reason, so none stays "running" forever.
    @discardableResult
    func failAbandoned() async throws -> Int {
        guard let sql = db as? any SQLDatabase else { return 0 }
        let now = clock()
        return try await sql.raw("""
            UPDATE jobs SET status = 'failed', finished_at = \(bind: now), lease_owner = NULL,
              error = 'The worker stopped before finishing, on every attempt.'
            WHERE status = 'running' AND lease_expires_at < \(bind: now) AND attempts >= max_attempts
            RETURNING id
            """).all().count
    }

    /// Takes a job off the queue if no worker has claimed it yet (it fails with `reason`); false when one has.
    func cancelIfQueued(_ jobID: UUID, reason: String) async throws -> Bool {
        guard let sql = db as? any SQLDatabase else { return false }
        return try await !sql.raw("""
            UPDATE jobs SET status = 'failed', error = \(bind: reason), finished_at = \(bind: clock()), lease_owner = NULL
            WHERE id = \(bind: jobID) AND status = 'queued' RETURNING id
            """).all().isEmpty
    }

    /// Of these subjects (submissions, research jobs, checks: `entry` is their queue entry), those whose entry failed for
    /// good, with the reason: what a handler's periodic sweep marks failed.
    func failedForGood<Subject>(_ subjects: [Subject], entry: (Subject) -> UUID?) async throws -> [(Subject, String)] {
        let reasons = try await failures(among: subjects.compactMap(entry))
        return subjects.compactMap { subject in entry(subject).flatMap { reasons[$0] }.map { (subject, $0) } }
    }

    /// Of these jobs, those that failed for good, with the reason each failed.
    func failures(among jobIDs: [UUID]) async throws -> [UUID: String] {
        guard !jobIDs.isEmpty else { return [:] }
        let failed = try await QueuedJob.query(on: db).filter(\.$id ~~ jobIDs).filter(\.$status == .failed).all()
        return Dictionary(uniqueKeysWithValues: failed.map { ($0.id!, $0.error ?? "it failed") })
    }

    private func holds(_ jobID: UUID, worker: String, set assignments: SQLQueryString) async throws -> Bool {
        guard let sql = db as? any SQLDatabase else { return false }
        let updated = try await sql.raw("""
            UPDATE jobs SET \(assignments) WHERE id = \(bind: jobID) AND status = 'running' AND lease_owner = \(bind: worker) RETURNING id
            """).all()
        return !updated.isEmpty
    }
}
