// The database ledger (on SQLite and PostgreSQL): caps exact under concurrency, idempotency under concurrent
// retries, hold expiry, allowances funded from their allocation, and random operation sequences that must leave
// the database exactly where the reference book (Ledger module) ends up.
import Testing
import Foundation
import Fluent
import Ledger
import PropertyBased
import SQLKit
import Vapor
@testable import App

@Suite struct LedgerStoreTests {
    /// The demo programme with `granted` credits in its pool and `allocated` of them in CS101's allocation.
    static func fundedCourse(_ app: Application, granted: Int64 = 1000, allocated: Int64 = 500) async throws -> (Programme, Course, LedgerStore) {
        try await app.loadDemoData()
        let programme = try #require(try await Programme.query(on: app.db).first())
        let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first())
        let ledger = app.ledger
        let partner = try await ledger.partnerAccount(of: programme), pool = try await ledger.pool(of: programme)
        try await ledger.transfer(.grant, from: partner, to: pool, amount: Credits(whole: granted), memo: "grant")
        try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                  amount: Credits(whole: allocated), memo: "CS101")
        return (programme, course, ledger)
    }

    static func user(_ app: Application, _ email: String) async throws -> User {
        try #require(try await User.query(on: app.db).filter(\.$email == email).first())
    }

    @Test func sixtyFourConcurrentSpendersTakeExactlyTheAllowanceAndNoMore() async throws {
        try await withTestApp { app in
            let (_, course, ledger) = try await Self.fundedCourse(app)
            let student = try await Self.user(app, "student1@demo.test")
            let allowance = try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 10), actor: nil)
            // 64 clients each try 3 holds of 0.25 credits (48 credits asked for, 10 available), settling in full.
            let outcomes = try await withThrowingTaskGroup(of: (settled: Int, refused: Int).self) { group in
                for client in 0..<64 {
                    group.addTask {
                        var settled = 0, refused = 0
                        for round in 0..<3 {
                            do {
                                let hold = try await ledger.reserve(allowance, amount: Credits.parse("0.25")!, reason: "run", key: "c\(client)-r\(round)")
                                _ = try await ledger.settle(hold.requireID(), actual: Credits.parse("0.25")!)
                                settled += 1
                            } catch let refusal as LedgerRefusal {
                                guard case .notEnough = refusal else { throw refusal }
                                refused += 1
                            }
                        }
                        return (settled, refused)
                    }
                }
                return try await group.reduce(into: (0, 0)) { $0.0 += $1.settled; $0.1 += $1.refused }
            }
            #expect(outcomes.0 == 40)
            #expect(outcomes.1 == 64 * 3 - 40)
            let after = try #require(try await LedgerAccount.find(allowance.requireID(), on: app.db))
            #expect(after.spent == Credits(whole: 10).micro)
            #expect(after.balance == 0 && after.held == 0)
            #expect(try await LedgerHold.query(on: app.db).count() == 40)
            try await Self.expectConserved(app)
        }
    }

    /// PostgresNIO keeps a failed prepare for the statement's name on that connection: the ledger's statements then
    /// run unprepared there, so one failure (an aborted transaction, a cancelled query) does not stop its ledger.
    @Test(.enabled(if: TestDatabase.isPostgres, "prepared statements are PostgreSQL's"))
    func aConnectionWhosePreparingFailedStillHoldsAndSettles() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student3@demo.test").first())
            let account = try await app.ledger.allowance(of: student, in: .course(try await app.course("CS101")))
            try await app.db.withConnection { db in
                // The first hold on this connection is prepared where its tables cannot be found, and fails.
                try await db.sqlDatabase().raw("SET search_path TO nowhere").run()
                let unprepared = await #expect(throws: (any Error).self) {
                    _ = try await app.ledger(on: db).reserve(account, amount: Credits(whole: 1), reason: "t", key: "unprepared")
                }
                #expect(String(reflecting: unprepared ?? Abort(.ok)).contains("does not exist"))
                try await db.sqlDatabase().raw("SET search_path TO DEFAULT").run()
                // The same connection afterwards: held, then settled.
                let hold = try await app.ledger(on: db).reserve(account, amount: Credits(whole: 1), reason: "t", key: "after")
                let settled = try await app.ledger(on: db).settle(hold.requireID(), actual: Credits.parse("0.5")!)
                #expect(settled.status == .settled && settled.settledAmount == 500_000)
            }
            #expect(try await LedgerHold.query(on: app.db).filter(\.$idempotencyKey == "unprepared").count() == 0)
            try await Self.expectConserved(app)
        }
    }

    @Test func theSameKeyRetriedConcurrentlyHoldsOnce() async throws {
        try await withTestApp { app in
            let (_, course, ledger) = try await Self.fundedCourse(app)
            let allocation = try await ledger.allocation(of: .course(course))
            let holds = try await withThrowingTaskGroup(of: UUID.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await ledger.reserve(allocation, amount: Credits(whole: 7), reason: "grading", key: "submission-42").requireID() }
                }
                return try await group.reduce(into: Set<UUID>()) { $0.insert($1) }
            }
            #expect(holds.count == 1)
            let after = try #require(try await LedgerAccount.find(allocation.requireID(), on: app.db))
            #expect(after.held == Credits(whole: 7).micro)
            // Settling twice with the same amount is one settle; a different amount is refused.
            _ = try await ledger.settle(holds.first!, actual: Credits(whole: 2))
            _ = try await ledger.settle(holds.first!, actual: Credits(whole: 2))
            await #expect(throws: LedgerRefusal.holdClosed(.settled)) { _ = try await ledger.settle(holds.first!, actual: Credits(whole: 3)) }
            #expect(try await LedgerAccount.find(allocation.requireID(), on: app.db)?.spent == Credits(whole: 2).micro)
            // The same key for a different use is refused rather than silently answered with the old hold.
            await #expect(throws: LedgerRefusal.keyReused("submission-42")) {
                _ = try await ledger.reserve(allocation, amount: Credits(whole: 1), reason: "x", key: "submission-42")
            }
            // Concurrent grants with one key move credits once.
            let programme = try #require(try await Programme.query(on: app.db).first())
            let partner = try await ledger.partnerAccount(of: programme), pool = try await ledger.pool(of: programme)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { try await ledger.transfer(.grant, from: partner, to: pool, amount: Credits(whole: 100), memo: "q2", key: "grant-q2") } }
                try await group.waitForAll()
            }
            // The grant's key sent again with another amount is refused (409), not taken for the first grant.
            await #expect(throws: LedgerRefusal.keyReused("grant-q2")) {
                try await ledger.transfer(.grant, from: partner, to: pool, amount: Credits(whole: 101), memo: "q2", key: "grant-q2")
            }
            // Amounts past the ledger's bound are refused before anything is written.
            await #expect(throws: LedgerRefusal.tooLarge) {
                try await ledger.transfer(.grant, from: partner, to: pool, amount: Credits(micro: Credits.maximum.micro + 1), memo: "huge")
            }
            // An amount that fits, but that the partner (which has granted credits already) cannot give whole: refused by the ledger's
            // state (409), with nothing written.
            await #expect(throws: LedgerRefusal.accountFull(account: partner.label)) {
                try await ledger.transfer(.grant, from: partner, to: pool, amount: Credits.maximum, memo: "to the brim")
            }
            #expect(LedgerRefusal.accountFull(account: partner.label).status == .conflict)
            #expect(try await LedgerAccount.find(partner.requireID(), on: app.db)?.balance == -Credits(whole: 1100).micro)
            try await Self.expectConserved(app)
        }
    }

    @Test func refusalsNameTheLevelThatIsShortAndWriteNothing() async throws {
        try await withTestApp { app in
            let (programme, course, ledger) = try await Self.fundedCourse(app, granted: 100, allocated: 30)
            let allocation = try await ledger.setDefaultAllowance(in: .course(course), to: Credits(whole: 20), actor: nil)
            #expect(allocation.defaultAllowance == Credits(whole: 20).micro)
            let ada = try await Self.user(app, "student1@demo.test"), bo = try await Self.user(app, "student2@demo.test")
            let first = try await ledger.allowance(of: ada, in: .course(course))
            #expect(first.balance == Credits(whole: 20).micro)
            let entriesBefore = try await LedgerEntry.query(on: app.db).count()
            // Bo's default cannot be funded: the course allocation has 10 left.
            await #expect(throws: LedgerRefusal.notEnough(account: "the CS101 allocation", available: Credits(whole: 10), needed: Credits(whole: 20))) {
                _ = try await ledger.allowance(of: bo, in: .course(course))
            }
            await #expect(throws: LedgerRefusal.notEnough(account: "Student 1's allowance in CS101", available: Credits(whole: 20), needed: Credits(whole: 21))) {
                _ = try await ledger.reserve(first, amount: Credits(whole: 21), reason: "too much", key: "k1")
            }
            await #expect(throws: LedgerRefusal.notEnough(account: "the programme pool", available: Credits(whole: 70), needed: Credits(whole: 71))) {
                try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                          amount: Credits(whole: 71), memo: "too much")
            }
            #expect(try await LedgerEntry.query(on: app.db).count() == entriesBefore)
            #expect(try await LedgerHold.query(on: app.db).count() == 0)
            try await Self.expectConserved(app)
        }
    }

    @Test func expiredHoldsAreVoidedAndExpiredAllocationsReturnTheirRemainder() async throws {
        try await withTestApp { app in
            let (programme, course, ledger) = try await Self.fundedCourse(app, granted: 100, allocated: 40)
            let allocation = try await ledger.allocation(of: .course(course))
            let hold = try await ledger.reserve(allocation, amount: Credits(whole: 5), reason: "stuck job", key: "stuck", lifetime: 60)
            var later = ledger
            later.clock = { Date().addingTimeInterval(120) }
            let swept = try await later.expire()
            #expect(swept.holds == 1)
            #expect(try await LedgerHold.find(hold.requireID(), on: app.db)?.status == .voided)
            // The allocation expires: its free credits go back to the pool, and it takes no more.
            allocation.expiresAt = Date().addingTimeInterval(30)
            try await allocation.save(on: app.db)
            let student = try await Self.user(app, "student1@demo.test")
            _ = try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 4), actor: nil)
            _ = try await later.expire()
            #expect(try await LedgerAccount.find(allocation.requireID(), on: app.db)?.balance == 0)
            #expect(try await ledger.pool(of: programme).balance == Credits(whole: 96).micro)
            await #expect(throws: LedgerRefusal.expired(account: "the CS101 allocation")) {
                try await later.transfer(.allocate, from: try await ledger.pool(of: programme), to: allocation, amount: Credits(whole: 1), memo: "late")
            }
            try await Self.expectConserved(app)
        }
    }

    /// Random operations on the database and on the reference book, side by side: same refusals, same balances.
    @Test func theDatabaseLedgerFollowsTheReferenceBook() async throws {
        let operations = zip(Gen.int(in: 0...6), Gen.int(in: 0...6), Gen.int(in: 0...6), Gen.int64(in: 0...40))
            .map { Simulation.Operation(kind: $0, target: $1, other: $2, amount: $3 * 250_000) }
            .array(of: 1...60)
        await propertyCheck(count: 12, input: operations) { operations in
            do {
                try await withTestApp { app in
                    try await app.loadDemoData()
                    try await Self.compare(app, operations)
                }
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    static func compare(_ app: Application, _ operations: [Simulation.Operation]) async throws {
        let programme = try #require(try await Programme.query(on: app.db).first())
        let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first())
        let project = try #require(try await ResearchProject.query(on: app.db).first())
        let people = try await User.query(on: app.db).filter(\.$email ~~ ["student1@demo.test", "student2@demo.test", "student3@demo.test"]).sort(\.$email).all()
        var clock = Date()
        var ledger = app.ledger
        ledger.clock = { [clock] in clock }
        // The simulation's tree: partner, pool, course, project, two allowances in the course, one in the project.
        let accounts = [
            try await ledger.partnerAccount(of: programme), try await ledger.pool(of: programme),
            try await ledger.allocation(of: .course(course)), try await ledger.allocation(of: .project(project)),
            try await ledger.allowance(of: people[0], in: .course(course)), try await ledger.allowance(of: people[1], in: .course(course)),
            try await ledger.allowance(of: people[2], in: .project(project)),
        ]
        for (account, shape) in zip(accounts, Simulation.accounts) {
            account.expiresAt = shape.expiresIn.map { clock.addingTimeInterval($0) }
            try await account.save(on: app.db)
        }
        var book = Simulation.book()
        var bookClock = Simulation.start
        var holds: [UUID] = [], keys = 0
        for op in operations {
            var bookKeys = keys
            let bookRefusal = Simulation.apply(op, to: &book, clock: &bookClock, keys: &bookKeys)
            var refused = false
            do {
                switch op.kind {
                case 0: try await ledger.transfer(.grant, from: accounts[0], to: accounts[1], amount: op.credits, memo: "g")
                case 1: try await ledger.transfer(.allocate, from: accounts[op.target % 7], to: accounts[op.other % 7], amount: op.credits, memo: "t")
                case 2, 3:
                    let hold = try await ledger.reserve(accounts[op.target % 7], amount: op.credits, reason: "r", key: op.reserveKey(counter: bookKeys),
                                                        lifetime: op.holdLifetime)
                    if !holds.contains(try hold.requireID()) { holds.append(try hold.requireID()) }
                case 4: if !holds.isEmpty {
                    let hold = try #require(try await LedgerHold.find(holds[op.target % holds.count], on: app.db))
                    _ = try await ledger.settle(hold.requireID(), actual: op.settleAmount(held: Credits(micro: hold.amount)))
                }
                case 5: if !holds.isEmpty { _ = try await ledger.void(holds[op.target % holds.count]) }
                default:
                    clock = clock.addingTimeInterval(op.timePassing)
                    ledger.clock = { [clock] in clock }
                    try await ledger.expire()
                }
            } catch is LedgerRefusal {
                refused = true
            } catch let abort as Abort where abort.status == .unprocessableEntity {
                refused = true  // a key reused for a different hold: refused here, answered with the first hold by the book
            }
            keys = bookKeys
            if bookRefusal != nil { #expect(refused, "the book refused \(op) but the database did not, in \(operations)") }
            for (index, account) in accounts.enumerated() {
                let stored = try #require(try await LedgerAccount.find(account.requireID(), on: app.db))
                let expected = book.accounts[index]
                #expect([stored.balance, stored.held, stored.spent] == [expected.balance.micro, expected.held.micro, expected.spent.micro],
                        "account \(index) after \(op) in \(operations)")
            }
        }
        try await expectConserved(app)
    }

    /// The whole ledger sums to zero: every credit granted is somewhere, free, held or spent.
    /// Accounts and holds are read in one snapshot (PostgreSQL: REPEATABLE READ), so a write committed between the
    /// two reads (another process's, still running) cannot make them disagree.
    static func expectConserved(_ app: Application) async throws {
        let (accounts, open) = try await app.db.transaction { db in
            if let sql = db as? any SQLDatabase, sql.dialect.name == "postgresql" {
                try await sql.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").run()
            }
            return (try await LedgerAccount.query(on: db).all(), try await LedgerHold.query(on: db).filter(\.$status == .open).all())
        }
        #expect(accounts.reduce(Int64(0)) { $0 + $1.balance + $1.held + $1.spent } == 0)
        #expect(accounts.filter { $0.kind != .partner }.allSatisfy { $0.balance >= 0 && $0.held >= 0 && $0.spent >= 0 })
        for account in accounts {
            #expect(account.held == open.filter { $0.$account.id == account.id }.reduce(0) { $0 + $1.amount })
        }
        for hold in try await LedgerHold.query(on: app.db).filter(\.$status == .settled).all() {
            #expect((hold.settledAmount ?? 0) <= hold.amount)
        }
    }
}
