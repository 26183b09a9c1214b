// Group commit on PostgreSQL (`LedgerBatches`): holds and closes that wait together go in one statement each, and
// each is still checked on its own; whatever a batch does not do runs alone and is decided as before. The batches
// here are formed for certain: the test holds the lead until every operation waits, then lets one batch go.
import Testing
import Foundation
import Fluent
import Ledger
import PostgresNIO
import SQLKit
import Vapor
@testable import App

@Suite(.enabled(if: TestDatabase.isPostgres, "batches are PostgreSQL's (SQLite has one writer)"))
struct LedgerBatchTests {
    /// `count` new students in CS101, each with an allowance of `credits`.
    static func allowances(_ app: Application, _ credits: [Credits]) async throws -> [LedgerAccount] {
        let (_, course, ledger) = try await LedgerStoreTests.fundedCourse(app, granted: 10_000, allocated: 5_000)
        var accounts: [LedgerAccount] = []
        for (index, amount) in credits.enumerated() {
            let user = User(email: "batch\(index)@demo.test", displayName: "Batch \(index)", passwordHash: nil)
            try await user.create(on: app.db)
            try await CourseMember(courseID: course.requireID(), userID: user.requireID(), role: .student).create(on: app.db)
            accounts.append(try await ledger.setAllowance(of: user, in: .course(course), to: amount, actor: nil))
        }
        return accounts
    }

    static func account(_ app: Application, _ account: LedgerAccount) async throws -> [Int64] {
        let stored = try #require(try await LedgerAccount.find(account.requireID(), on: app.db))
        return [stored.balance, stored.held, stored.spent]
    }

    /// Runs `operations` concurrently while the lead is held, lets them go as one batch once all `count` wait, and
    /// returns their results in order. `queued`: each starts once the one before it waits, so that they are queued,
    /// and written, in the order given.
    static func inOneBatch<T: Sendable>(_ batches: LedgerBatches, count: Int, queued: Bool = false,
                                        _ operations: [@Sendable () async throws -> T]) async throws -> [Result<T, any Error>] {
        batches.pause()
        @Sendable func waiting(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while batches.waiting < count {
                guard ContinuousClock.now < deadline else {
                    Issue.record("\(batches.waiting) operations waited for a batch, not \(count)")
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        return try await withThrowingTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            for (index, operation) in operations.enumerated() {
                group.addTask {
                    do { return (index, .success(try await operation())) } catch { return (index, .failure(error)) }
                }
                if queued { try await waiting(index + 1) }
            }
            try await waiting(count)
            batches.resume()
            var results = [Result<T, any Error>?](repeating: nil, count: operations.count)
            for try await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    @Test func aBatchChecksEachHoldAndEachCloseOnItsOwn() async throws {
        try await withTestApp { app in
            let batches = try #require(app.ledgerBatches)
            let ledger = app.ledger
            let one = Credits(whole: 1)
            let accounts = try await Self.allowances(app, [Credits(whole: 10), Credits(whole: 10), one, Credits(whole: 10)])
            let (a, b, c, d) = (accounts[0], accounts[1], accounts[2], accounts[3])
            // Before the batch, alone: holds to close in it, one already settled.
            let a1 = try await ledger.reserve(a, amount: Credits(whole: 2), reason: "a1", key: "a1").requireID()
            let b1 = try await ledger.reserve(b, amount: Credits(whole: 3), reason: "b1", key: "b1").requireID()
            let b2 = try await ledger.reserve(b, amount: one, reason: "b2", key: "b2").requireID()
            let d1 = try await ledger.reserve(d, amount: Credits(whole: 4), reason: "d1", key: "d1").requireID()
            let d2 = try await ledger.reserve(d, amount: one, reason: "d2", key: "d2").requireID()
            _ = try await ledger.settle(d2, actual: one)
            let actor = try #require(try await User.query(on: app.db).filter(\.$email == "batch0@demo.test").first()).requireID()
            let before = batches.counts
            let operations: [@Sendable () async throws -> UUID] = [
                { try await ledger.reserve(a, amount: Credits(whole: 5), reason: "a2", key: "a2").requireID() },        // taken
                { try await ledger.reserve(c, amount: Credits(whole: 2), reason: "c1", key: "c1").requireID() },        // 1 free: refused
                { try await ledger.reserve(d, amount: Credits(whole: 4), reason: "d1", key: "d1").requireID() },        // the same key again: d1
                { try await ledger.settle(a1, actual: Credits(whole: 2)).requireID() },                                 // closed
                { try await ledger.settle(a1, actual: Credits(whole: 2)).requireID() },                                 // the same settle twice
                { try await ledger.settle(b1, actual: one).requireID() },                                               // two closes on b:
                { try await ledger.void(b2, memo: "not needed", actor: actor).requireID() },                                            // both given back
                { try await ledger.settle(d2, actual: one).requireID() },                                               // settled before: alone
                { try await ledger.settle(d1, actual: Credits(whole: 5)).requireID() },                                 // above the hold: refused
                { try await ledger.void(d1).requireID() },                                                              // closes d1
            ]
            // d2's settle runs alone without waiting: this process forgot d2 when it was settled.
            let results = try await Self.inOneBatch(batches, count: 9, operations)
            let lanes = Set([a, b, c, d].map { batches.lane(of: $0.id!) }).count
            #expect(batches.counts.batches <= before.batches + lanes)
            #expect(batches.counts.done == before.done + 5, "the batches took a2 and closed a1, b1, b2 and d1; the rest ran alone")
            let a2 = try results[0].get()
            #expect(throws: LedgerRefusal.self) { try results[1].get() }
            if case .failure(let refusal as LedgerRefusal) = results[1], case .notEnough = refusal {} else { Issue.record("c1: \(results[1])") }
            let answered = try [2, 3, 4, 5, 6, 7, 9].map { try results[$0].get() }
            #expect(answered == [d1, a1, a1, b1, b2, d2, d1])
            // d1's settle above its hold is not done in the batch; alone, after the batch voided d1, it is refused.
            if case .failure(let refusal as LedgerRefusal) = results[8] {
                #expect(refusal == .holdClosed(.voided))
            } else { Issue.record("d1's settle above its hold: \(results[8])") }

            let micro = { (whole: Int64) in Credits(whole: whole).micro }
            #expect(try await Self.account(app, a) == [micro(3), micro(5), micro(2)])
            #expect(try await Self.account(app, b) == [micro(9), 0, micro(1)], "both of b's closes given back")
            #expect(try await Self.account(app, c) == [micro(1), 0, 0])
            #expect(try await Self.account(app, d) == [micro(9), 0, micro(1)])
            let held = try #require(try await LedgerHold.find(a2, on: app.db))
            #expect(held.status == .open && held.amount == micro(5) && held.reason == "a2" && held.createdBy == nil && held.origin == .platform)
            let voided = try #require(try await LedgerHold.find(b2, on: app.db))
            #expect(voided.status == .voided && voided.closeMemo == "not needed" && voided.closedBy == actor && voided.settledAmount == nil)
            let settled = try #require(try await LedgerHold.find(b1, on: app.db))
            #expect(settled.status == .settled && settled.settledAmount == micro(1) && settled.closeMemo == nil && settled.closedBy == nil)
            // The journal: one entry per part, as the single statements write them.
            let entries = try await LedgerEntry.query(on: app.db).filter(\.$holdID ~~ [a1, a2, b1, b2, d1]).all()
            let parts = entries.map { "\($0.kind.rawValue) \($0.holdID == a1 ? "a1" : $0.holdID == a2 ? "a2" : $0.holdID == b1 ? "b1" : $0.holdID == b2 ? "b2" : "d1") \($0.amount / 1_000_000) \($0.memo)" }
            #expect(parts.sorted() == ["release b1 2 b1", "reserve a1 2 a1", "reserve a2 5 a2", "reserve b1 3 b1", "reserve b2 1 b2", "reserve d1 4 d1",
                                       "settle a1 2 a1", "settle b1 1 b1", "void b2 1 not needed", "void d1 4 d1"])
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    /// Two holds with one key in one batch: the second's insert breaks the whole statement, so none of the batch's
    /// holds is written, and each runs alone: the others as if nothing happened, the key once.
    @Test func aBatchThatFailsWritesNothingAndEachOfItsOperationsRunsAlone() async throws {
        try await withTestApp { app in
            let batches = try #require(app.ledgerBatches)
            let ledger = app.ledger
            // Four accounts of one lane (the fullest of 4 × lanes has at least 4), so that the holds go in one batch.
            let all = try await Self.allowances(app, Array(repeating: Credits(whole: 10), count: 4 * batches.laneCount))
            let lanes = Dictionary(grouping: all) { batches.lane(of: $0.id!) }
            let accounts = Array(lanes.values.max { $0.count < $1.count }!.prefix(4))
            try #require(accounts.count == 4)
            let open = try await ledger.reserve(accounts[3], amount: Credits(whole: 2), reason: "open", key: "open").requireID()
            let before = batches.counts
            let operations: [@Sendable () async throws -> UUID] = [
                { try await ledger.reserve(accounts[0], amount: Credits(whole: 1), reason: "x", key: "same").requireID() },
                { try await ledger.reserve(accounts[1], amount: Credits(whole: 1), reason: "x", key: "same").requireID() },
                { try await ledger.reserve(accounts[2], amount: Credits(whole: 3), reason: "y", key: "y").requireID() },
                { try await ledger.reserve(accounts[3], amount: Credits(whole: 3), reason: "z", key: "z").requireID() },
                { try await ledger.settle(open, actual: Credits(whole: 1)).requireID() },
            ]
            let results = try await Self.inOneBatch(batches, count: 5, operations)
            #expect(batches.counts == LedgerBatches.Counts(batches: before.batches + 1, done: before.done + 1, failed: before.failed + 1),
                    "the holds' statement failed whole; the close, in a statement of its own, was done")
            let same = results[0...1].filter { if case .success = $0 { true } else { false } }
            #expect(same.count == 1, "the key holds once")
            for result in results[0...1] {
                if case .failure(let error) = result { #expect(error as? LedgerRefusal == .keyReused("same")) }
            }
            for result in results[2...] { #expect(throws: Never.self) { try result.get() } }
            #expect(try await LedgerHold.query(on: app.db).filter(\.$idempotencyKey == "same").count() == 1)
            let micro = { (whole: Int64) in Credits(whole: whole).micro }
            let heldOnce = [try await Self.account(app, accounts[0]), try await Self.account(app, accounts[1])].sorted { $0[0] < $1[0] }
            #expect(heldOnce == [[micro(9), micro(1), 0], [micro(10), 0, 0]])
            #expect(try await Self.account(app, accounts[2]) == [micro(7), micro(3), 0])
            #expect(try await Self.account(app, accounts[3]) == [micro(6), micro(3), micro(1)])
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    /// A hold this process did not open (another process's, or one opened before a restart): its close runs alone,
    /// and is decided as any close.
    @Test func theCloseOfAHoldOpenedElsewhereRunsAlone() async throws {
        try await withTestApp { app in
            let batches = try #require(app.ledgerBatches)
            let accounts = try await Self.allowances(app, [Credits(whole: 10), Credits(whole: 10)])
            let elsewhere = LedgerStore(db: app.db, gate: nil)  // another process's ledger: its own batches, or none
            let first = try await elsewhere.reserve(accounts[0], amount: Credits(whole: 3), reason: "x", key: "x").requireID()
            let second = try await elsewhere.reserve(accounts[1], amount: Credits(whole: 2), reason: "y", key: "y").requireID()
            let before = batches.counts
            // With every lane held, a close that waited for a batch would wait until the watchdog lets it go.
            batches.pause()
            let watchdog = Task {
                try await Task.sleep(for: .seconds(10))
                Issue.record("a close of a hold opened elsewhere waited for a batch")
                batches.resume()
            }
            let settled = try await app.ledger.settle(first, actual: Credits(whole: 1))
            let voided = try await app.ledger.void(second)
            watchdog.cancel()
            batches.resume()
            #expect(settled.status == .settled && settled.settledAmount == Credits(whole: 1).micro && voided.status == .voided)
            #expect(batches.counts == before, "no batch")
            let micro = { (whole: Int64) in Credits(whole: whole).micro }
            #expect(try await Self.account(app, accounts[0]) == [micro(9), 0, micro(1)])
            #expect(try await Self.account(app, accounts[1]) == [micro(10), 0, 0])
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    /// The attack the lock order prevents: a batch and a transfer between the same two accounts, each holding one
    /// and waiting for the other. Stepped by hand: a third transaction holds one account, the batch (holds on both)
    /// queues for it, the transfer queues behind, and the third lets go. Both ways round: the third holds the lower
    /// account, then the higher; the batch is queued higher account first, and the transfer goes from the higher to
    /// the lower. A transfer that locked its accounts from → to, or a batch that locked them in the order its plan read
    /// them, would deadlock (PostgreSQL ends one after a second: the transfer answers an error, or the batch fails and
    /// its holds run alone); in id order each waits its turn. And while the batch waits for the higher account, it
    /// holds the lower one (the order it takes them in, seen from outside). The allowance is preferably the lower: it
    /// was made after the allocation, so the table's own order is then the reverse of id order too.
    @Test func aTransferAndABatchOnTheSameTwoAccountsDoNotDeadlock() async throws {
        try await withTestApp { app in
            let batches = try #require(app.ledgerBatches)
            let ledger = app.ledger
            let sql = try #require(app.db as? any SQLDatabase)
            let (_, course, _) = try await LedgerStoreTests.fundedCourse(app, granted: 10_000, allocated: 5_000)
            let allocation = try await ledger.allocation(of: .course(course))
            let courseID = try course.requireID(), allocationID = try allocation.requireID()
            // A student whose allowance shares the allocation's lane (holds on both go in one batch), preferably one
            // that sorts before it; 64 tries leave no lane match one time in ten million.
            var student: User?, allowance: LedgerAccount?
            for index in 0..<64 where allowance.map({ $0.id!.uuidString > allocationID.uuidString }) ?? true {
                let user = User(email: "lane\(index)@demo.test", displayName: "Lane \(index)", passwordHash: nil)
                try await user.create(on: app.db)
                try await CourseMember(courseID: courseID, userID: user.requireID(), role: .student).create(on: app.db)
                let account = try await ledger.setAllowance(of: user, in: .course(course), to: Credits(whole: 10), actor: nil)
                if batches.lane(of: try account.requireID()) == batches.lane(of: allocationID) { (student, allowance) = (user, account) }
            }
            let member = try #require(student), own = try #require(allowance), ownID = try own.requireID()
            let ownIsLower = ownID.uuidString < allocationID.uuidString
            let (lower, higher) = ownIsLower ? (ownID, allocationID) : (allocationID, ownID)
            // From the higher to the lower: raising the allowance when the allocation is the higher, lowering it otherwise.
            let targets = ownIsLower ? [Credits(whole: 15), Credits(whole: 20)] : [Credits(whole: 8), Credits(whole: 6)]
            @Sendable func waitingForLocks(_ count: Int) async throws {
                let deadline = ContinuousClock.now + .seconds(20)
                while true {
                    let row = try await sql.raw("""
                        SELECT count(*) AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                        """).first()
                    if try row?.decode(column: "waiting", as: Int.self) == count { return }
                    guard ContinuousClock.now < deadline else { Issue.record("\(count) statements never waited for a lock"); return }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            let micro = { (whole: Int64) in Credits(whole: whole).micro }
            for (round, (held, target)) in [(lower, targets[0]), (higher, targets[1])].enumerated() {
                let before = batches.counts
                let (released, release) = AsyncStream<Void>.makeStream()
                let (locked, lock) = AsyncStream<Void>.makeStream()
                let holder = Task {
                    try await app.db.transaction { tx in
                        try await (tx as! any SQLDatabase).raw("SELECT id FROM ledger_accounts WHERE id = \(bind: held) FOR NO KEY UPDATE").run()
                        lock.yield()
                        for await _ in released { break }
                    }
                }
                for await _ in locked { break }
                let holds: Task<[Result<UUID, any Error>], any Error> = Task {
                    let course: @Sendable () async throws -> UUID = {
                        try await ledger.reserve(allocation, amount: Credits(whole: 7), reason: "course", key: "course\(round)").requireID()
                    }
                    let mine: @Sendable () async throws -> UUID = {
                        try await ledger.reserve(own, amount: Credits(whole: 3), reason: "own", key: "own\(round)").requireID()
                    }
                    return try await Self.inOneBatch(batches, count: 2, queued: true, ownIsLower ? [course, mine] : [mine, course])
                }
                try await waitingForLocks(1)  // the batch, for the held account
                if held == higher {
                    // Waiting for the higher account, the batch has taken the lower one already: taking it without
                    // waiting fails with PostgreSQL's "lock not available" (55P03), and only that.
                    var refusal: String?
                    do {
                        try await app.db.transaction { tx in
                            try await (tx as! any SQLDatabase).raw("SELECT id FROM ledger_accounts WHERE id = \(bind: lower) FOR NO KEY UPDATE NOWAIT").run()
                        }
                    } catch let error as PSQLError { refusal = error.serverInfo?[.sqlState] }
                    #expect(refusal == "55P03", "the lower account is locked")
                }
                let transfer = Task { try await ledger.setAllowance(of: member, in: .course(course), to: target, actor: nil) }
                try await waitingForLocks(2)  // and the transfer
                release.yield()
                try await holder.value
                let given = try await transfer.value
                for result in try await holds.value { #expect(throws: Never.self) { try result.get() } }
                #expect(batches.counts == LedgerBatches.Counts(batches: before.batches + 1, done: before.done + 2, failed: before.failed),
                        "the holds went in one batch, which did not fail (round \(round + 1))")
                #expect(given.balance == target.micro - micro(3 * Int64(round + 1)) && given.held == micro(3 * Int64(round + 1)))
            }
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    /// Many clients, each spending from its own allowance: their holds and closes go in batches (no pausing here),
    /// and each is charged exactly, once.
    @Test func manyClientsAreBatchedAndEachChargedExactlyOnce() async throws {
        try await withTestApp { app in
            let batches = try #require(app.ledgerBatches)
            let ledger = app.ledger
            let clients = 32, rounds = 15, price = Credits.parse("0.01")!
            let accounts = try await Self.allowances(app, Array(repeating: Credits(whole: 1), count: clients))
            let before = batches.counts
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (client, account) in accounts.enumerated() {
                    group.addTask {
                        for round in 0..<rounds {
                            let hold = try await ledger.reserve(account, amount: price, reason: "pair", key: "pair:\(client):\(round)")
                            _ = try await ledger.settle(hold.requireID(), actual: price)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let after = batches.counts
            #expect(after.batches > before.batches && after.done - before.done > 2 * (after.batches - before.batches),
                    "operations went in batches: \(before) → \(after)")
            for account in accounts {
                #expect(try await Self.account(app, account) == [Credits.parse("0.85")!.micro, 0, Credits.parse("0.15")!.micro])
            }
            let ids = try accounts.map { try $0.requireID() }
            #expect(try await LedgerHold.query(on: app.db).filter(\.$account.$id ~~ ids).filter(\.$status == .settled).count() == clients * rounds)
            #expect(try await LedgerEntry.query(on: app.db).filter(\.$fromAccountID ~~ ids).filter(\.$kind == .settle).count() == clients * rounds)
            try await LedgerStoreTests.expectConserved(app)
        }
    }
}
