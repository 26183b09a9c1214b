// The durable queue on SQLite and PostgreSQL: concurrent workers never take the same job, a job enqueued in a
// rolled-back transaction never exists, a dead worker's job is taken again after its lease and ends with exactly
// one result, and a job that kills its worker every time ends failed with the reason.
import Testing
import Foundation
import Fluent
import Vapor
@testable import App

@Suite struct JobQueueTests {
    @Test func concurrentWorkersTakeEachJobExactlyOnce() async throws {
        try await withTestApp { app in
            for index in 0..<60 { try await JobQueue.enqueue("grade", payload: #"{"n": \#(index)}"#, on: app.db) }
            try await JobQueue.enqueue("other-kind", payload: "{}", on: app.db)
            let queue = JobQueue(db: app.db)
            let taken = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var mine: [String] = []
                        while let job = try await queue.claim(worker: "w\(worker)", kinds: ["grade"], lease: 30) {
                            mine.append(job.payload)
                            let recorded = try await queue.complete(job.requireID(), worker: "w\(worker)", result: "ok w\(worker)")
                            #expect(recorded)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(taken.count == 60)
            #expect(Set(taken).count == 60)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$status == .done).count() == 60)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == "other-kind").first()?.status == .queued)
        }
    }

    @Test func theOldestClaimableJobOfTheWorkersKindsIsTakenFirst() async throws {
        try await withTestApp { app in
            let start = Date()
            @Sendable func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }
            // Queued at these times: a of kind x (to be taken and its lease to run out), b of y, c of x, a job of a
            // kind this worker does not do, one not due yet, and one whose attempts are used up.
            let a = try await JobQueue.enqueue("x", payload: "a", at: at(0), on: app.db)
            let b = try await JobQueue.enqueue("y", payload: "b", at: at(1), on: app.db)
            let c = try await JobQueue.enqueue("x", payload: "c", at: at(2), on: app.db)
            _ = try await JobQueue.enqueue("z", payload: "other kind", at: at(0.5), on: app.db)
            _ = try await JobQueue.enqueue("y", payload: "later", runAfter: at(100), at: at(0.2), on: app.db)
            let spent = try await JobQueue.enqueue("x", payload: "spent", maxAttempts: 1, at: at(0.1), on: app.db)
            var queue = JobQueue(db: app.db)
            queue.clock = { at(5) }
            #expect(try await queue.claim(worker: "w", kinds: ["x"], lease: 10)?.id == a.id)
            #expect(try await queue.claim(worker: "w", kinds: ["x"], lease: 10)?.id == spent.id)
            // At 20 s both leases have run out: a (queued first) is taken again before b and c; the spent job is not.
            queue.clock = { at(20) }
            var order: [String] = []
            while let job = try await queue.claim(worker: "v", kinds: ["y", "x"], lease: 600) { order.append(job.payload) }
            #expect(order == ["a", "b", "c"])
            #expect(try await QueuedJob.find(b.id, on: app.db)?.leaseOwner == "v")
            #expect(try await QueuedJob.find(c.id, on: app.db)?.status == .running)
            // When it is due, the later job is taken; the other kind's waits for its own workers.
            queue.clock = { at(101) }
            #expect(try await queue.claim(worker: "v", kinds: ["x", "y"], lease: 60)?.payload == "later")
            #expect(try await queue.claim(worker: "v", kinds: ["x", "y"], lease: 60) == nil)
            #expect(try await queue.claim(worker: "v", kinds: ["z"], lease: 60)?.payload == "other kind")
        }
    }

    @Test func aJobEnqueuedInARolledBackTransactionNeverExists() async throws {
        try await withTestApp { app in
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await app.db.transaction { tx in
                    try await JobQueue.enqueue("grade", payload: "{}", on: tx)
                    throw Refused()
                }
            }
            let jobs = try await QueuedJob.query(on: app.db).count()
            #expect(jobs == 0)
        }
    }

    @Test func aDeadWorkersJobIsTakenAgainAndEndsWithOneResult() async throws {
        try await withTestApp { app in
            let job = try await JobQueue.enqueue("grade", payload: "{}", on: app.db)
            let id = try job.requireID()
            var queue = JobQueue(db: app.db)
            let start = Date()
            queue.clock = { start }
            #expect(try await queue.claim(worker: "a", kinds: ["grade"], lease: 30)?.id == id)
            #expect(try await queue.claim(worker: "b", kinds: ["grade"], lease: 30) == nil)  // a holds the lease
            #expect(try await queue.renew(id, worker: "a", lease: 30))
            // Worker a dies; a minute later its lease has run out and b takes the job.
            queue.clock = { start.addingTimeInterval(61) }
            let again = try #require(try await queue.claim(worker: "b", kinds: ["grade"], lease: 30))
            #expect(again.id == id && again.attempts == 2)
            // a comes back to life: it can neither renew nor record a result; b's result is the one.
            #expect(!(try await queue.renew(id, worker: "a", lease: 30)))
            #expect(!(try await queue.complete(id, worker: "a", result: "from a")))
            #expect(try await queue.complete(id, worker: "b", result: "from b"))
            #expect(!(try await queue.complete(id, worker: "b", result: "twice")))
            let stored = try #require(try await QueuedJob.find(id, on: app.db))
            #expect(stored.status == .done && stored.result == "from b")
        }
    }

    @Test func retriesStopAtTheMaximumAndAbandonedJobsFail() async throws {
        try await withTestApp { app in
            let flaky = try await JobQueue.enqueue("grade", payload: "flaky", maxAttempts: 2, on: app.db)
            var queue = JobQueue(db: app.db)
            let start = Date()
            queue.clock = { start }
            _ = try #require(try await queue.claim(worker: "w", kinds: ["grade"], lease: 30))
            #expect(try await queue.fail(flaky.requireID(), worker: "w", error: "the sandbox was busy", retry: true, after: 10))
            #expect(try await queue.claim(worker: "w", kinds: ["grade"], lease: 30) == nil)  // not before run_after
            queue.clock = { start.addingTimeInterval(11) }
            _ = try #require(try await queue.claim(worker: "w", kinds: ["grade"], lease: 30))
            #expect(try await queue.fail(flaky.requireID(), worker: "w", error: "still busy", retry: true))
            let failed = try #require(try await QueuedJob.find(flaky.requireID(), on: app.db))
            #expect(failed.status == .failed && failed.error == "still busy" && failed.attempts == 2)
            // A job whose worker dies on its only attempt is failed by the sweep, with the reason.
            let deadly = try await JobQueue.enqueue("grade", payload: "deadly", maxAttempts: 1, on: app.db)
            _ = try #require(try await queue.claim(worker: "w", kinds: ["grade"], lease: 30))
            queue.clock = { start.addingTimeInterval(100) }
            #expect(try await queue.claim(worker: "w2", kinds: ["grade"], lease: 30) == nil)
            #expect(try await queue.failAbandoned() == 1)
            let abandoned = try #require(try await QueuedJob.find(deadly.requireID(), on: app.db))
            #expect(abandoned.status == .failed && abandoned.error?.contains("on every attempt") == true)
        }
    }
}
