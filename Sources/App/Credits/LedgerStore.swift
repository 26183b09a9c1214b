// The credits ledger in the database. Every step that could overspend is a conditional write ("take N from this
// account if it has N free"), never a read-check-write in Swift, so caps hold under any number of concurrent
// requests. The hot path (a hold, and closing it) is ONE statement each: a data-modifying CTE on PostgreSQL, prepared
// once per connection (`LedgerPrepared`; the UPDATE locks the row and re-checks the condition), and what concurrent
// requests send together goes in one statement for many (`LedgerBatches`, group commit); an INSERT/UPDATE with
// triggers on SQLite (one writer at a time). Transfers along the tree are a few statements in one transaction; on SQLite those transactions are queued
// in-process by `LedgerWriteGate` so they wait rather than fail on a locked database. Idempotency keys are unique
// columns: a retry, even a concurrent one, finds the first and moves nothing. The rules are the Ledger module's;
// `LedgerStoreTests` runs the same random operations on the database and on its reference `Book` and compares.
import Fluent
import Foundation
import Ledger
import SQLKit
import Vapor

struct LedgerStore: Sendable {
    let db: any Database
    let gate: LedgerWriteGate?
    /// Group commit on PostgreSQL (`LedgerBatches`): holds and closes outside a transaction go in batches.
    var batches: LedgerBatches? = nil
    var metrics: PlatformMetrics?
    var clock: @Sendable () -> Date = { Date() }
    /// How long a hold lasts when its creator does not say.
    static let defaultHoldLifetime: TimeInterval = 3600

    // MARK: Transfers along the tree

    /// Moves `amount` from `from` to `to`, which must be parent and child (either way). Refused, with nothing
    /// written, when `from` lacks the credits or a child being given credits has expired. The same key twice moves
    /// credits once.
    func transfer(_ kind: LedgerEntryKind, from: LedgerAccount, to: LedgerAccount, amount: Credits, memo: String,
                  key: String? = nil, actor: UUID? = nil) async throws {
        guard amount > .zero else { throw LedgerRefusal.notPositive }
        guard amount <= .maximum else { throw LedgerRefusal.tooLarge }
        let fromID = try from.requireID(), toID = try to.requireID()
        let down = to.$parent.id == fromID
        guard down || from.$parent.id == toID else { throw LedgerRefusal.notAnEdge(from: from.kind, to: to.kind) }
        /// A key already used: the same transfer again moves nothing; different values are refused.
        @Sendable func sameAsBefore(_ key: String) async throws -> Bool {
            guard let first = try await LedgerEntry.query(on: db).filter(\.$idempotencyKey == key).first() else { return false }
            guard first.kind == kind, first.fromAccountID == fromID, first.toAccountID == toID, first.amount == amount.micro else {
                throw LedgerRefusal.keyReused(key)
            }
            return true
        }
        if let key, try await sameAsBefore(key) { return }
        let now = clock(), micro = amount.micro, most = Credits.maximum.micro, postgres = self.postgres
        do {
            try await write { tx, sql in
                if postgres {
                    // Both accounts locked in id order, as the group-committed holds and closes lock theirs, so that
                    // neither waits for the other while holding what it needs (a deadlock).
                    try await sql.raw("SELECT id FROM ledger_accounts WHERE id IN (\(bind: fromID), \(bind: toID)) ORDER BY id FOR UPDATE").run()
                }
                try await LedgerEntry(programmeID: from.$programme.id, kind: kind, from: fromID, to: toID, amount: micro,
                                      key: key, memo: memo, actorID: actor, at: now).create(on: tx)
                let taken = try await sql.raw("""
                    UPDATE ledger_accounts SET balance = balance - \(bind: micro)
                    WHERE id = \(bind: fromID) AND (kind = 'partner' AND balance >= \(bind: micro - most) OR balance >= \(bind: micro)) RETURNING id
                    """).all()
                guard !taken.isEmpty else {
                    if from.kind == .partner { throw LedgerRefusal.accountFull(account: from.label) }
                    throw try await Self.refusal(fromID, needs: amount, now: now, on: tx)
                }
                // Only a child being given credits must not have expired (returns flow up whatever the date).
                let given = try await sql.raw("""
                    UPDATE ledger_accounts SET balance = balance + \(bind: micro)
                    WHERE id = \(bind: toID) AND balance <= \(bind: most - micro)
                      AND (\(bind: !down) OR expires_at IS NULL OR expires_at > \(bind: now)) RETURNING id
                    """).all()
                guard !given.isEmpty else {
                    if down, let expiry = to.expiresAt, expiry <= now { throw LedgerRefusal.expired(account: to.label) }
                    throw LedgerRefusal.accountFull(account: to.label)
                }
            }
        } catch where Writes.isUniqueViolation(error) && key != nil {
            // A concurrent request with the same key got there first: its transfer is this one (if its values are).
            guard try await sameAsBefore(key!) else { throw error }
        }
    }

    // MARK: Two-phase spending

    /// Holds `amount` of the account's free credits until it is settled, voided or expires. The same key returns
    /// the same hold, however often and however concurrently it is sent. One statement: on PostgreSQL a
    /// data-modifying CTE (take the credits if they are free, insert the hold, journal it); on SQLite an INSERT
    /// whose triggers do the same (`CreateLedgerHoldTriggers`). A hold is the platform's unless `origin` says a
    /// person opened it (`POST /credits/holds`): only a person's hold can be closed through the API.
    func reserve(_ account: LedgerAccount, amount: Credits, reason: String, key: String, lifetime: TimeInterval? = nil,
                 actor: UUID? = nil, origin: HoldOrigin = .platform) async throws -> LedgerHold {
        guard amount > .zero else { throw LedgerRefusal.notPositive }
        guard amount <= .maximum else { throw LedgerRefusal.tooLarge }
        guard account.kind != .partner else { throw LedgerRefusal.spendingFromPartner }
        let accountID = try account.requireID(), micro = amount.micro, now = clock()
        let holdID = UUID(), reason = String(reason.prefix(200)), expires = now.addingTimeInterval(lifetime ?? Self.defaultHoldLifetime)
        let taken: Bool
        do {
            taken = try await statement { sql, postgres in
                if postgres {
                    let reserve = LedgerPrepared.Reserve(amount: micro, accountID: accountID, now: now, key: key, holdID: holdID, reason: reason,
                                                         actor: actor, origin: origin.rawValue, expires: expires)
                    if let batches, !db.inTransaction, case .reserved = await batches.run(.reserve(reserve), on: db) { return true }
                    return try await LedgerPrepared.run(reserve, on: db).first == 1
                }
                try await sql.raw("""
                    INSERT INTO ledger_holds (id, account_id, amount, status, idempotency_key, reason, created_by, origin, expires_at, created_at)
                    VALUES (\(bind: holdID), \(bind: accountID), \(bind: micro), 'open', \(bind: key), \(bind: reason), \(bind: actor),
                            \(bind: origin.rawValue), \(bind: expires), \(bind: now))
                    """).run()
                return true
            }
        } catch where Writes.isUniqueViolation(error) {
            // A concurrent duplicate key (PostgreSQL's statement then fails whole, so nothing moved) or, on SQLite, a
            // duplicate key or the trigger's refusal.
            if let existing = try await existingHold(key, accountID: accountID, amount: micro) { return existing }
            guard postgres else { throw try await Self.refusal(accountID, needs: amount, now: now, on: db) }
            throw error
        }
        guard taken else {
            // A retry of a hold that exists (the statement took nothing), or a refusal.
            if let existing = try await existingHold(key, accountID: accountID, amount: micro) { return existing }
            throw try await Self.refusal(accountID, needs: amount, now: now, on: db)
        }
        metrics?.recordCredits("reserved", kind: account.kind.rawValue, micro: micro)
        batches?.opened(holdID, account: accountID)
        let hold = LedgerHold()
        hold.id = holdID
        hold.$account.id = accountID
        hold.amount = micro
        hold.status = .open
        hold.idempotencyKey = key
        hold.reason = reason
        hold.createdBy = actor
        hold.origin = origin
        hold.expiresAt = expires
        hold.createdAt = now
        return hold
    }

    private func existingHold(_ key: String, accountID: UUID, amount: Int64) async throws -> LedgerHold? {
        guard let hold = try await LedgerHold.query(on: db).filter(\.$idempotencyKey == key).first() else { return nil }
        guard hold.$account.id == accountID, hold.amount == amount else { throw LedgerRefusal.keyReused(key) }
        return hold
    }

    /// Spends `actual` (at most the hold) and frees the rest. Settling again with the same amount changes nothing.
    func settle(_ holdID: UUID, actual: Credits, actor: UUID? = nil) async throws -> LedgerHold {
        guard actual >= .zero else { throw LedgerRefusal.notPositive }
        return try await close(holdID, as: .settled, actual: actual.micro, actor: actor)
    }

    /// Frees the whole hold. Voiding a voided hold changes nothing.
    func void(_ holdID: UUID, memo: String? = nil, actor: UUID? = nil) async throws -> LedgerHold {
        try await close(holdID, as: .voided, actual: 0, memo: memo, actor: actor)
    }

    /// What a metered use cost and how it was paid: from its hold, and beyond it from free credits, then as debt.
    struct UseCharge: Sendable, Equatable {
        /// Settled from the hold.
        var settled: Int64 = 0
        /// Charged from the account's free credits (the hold could not cover it).
        var charged: Int64 = 0
        /// Recorded as owed (the free credits could not cover it either).
        var debt: Int64 = 0
        /// Whether the hold had been closed before this settle (expired, or voided by anything but its use's settle).
        var holdWasClosed = false
        var total: Int64 { settled + charged + debt }
    }

    /// The platform's settle for a use it started (a grading run, a research job, an AI lease): spends `usage` from
    /// the hold, and charges what the hold cannot cover — more than was held, or everything when the hold was closed
    /// before (expired, or voided) — from the account's free credits, and records the rest as debt. A use that
    /// happened is never free. A hold that was already settled (this use's settle ran before) is left as it is.
    func settleUse(_ holdID: UUID, usage: Int64, memo: String) async throws -> UseCharge {
        guard let hold = try await LedgerHold.find(holdID, on: db) else { throw Abort(.notFound, reason: "No such hold.") }
        return try await settleUse(hold, usage: usage, memo: memo)
    }

    /// The same for a hold the caller has just read on this store's database (its status is checked again as it closes).
    func settleUse(_ hold: LedgerHold, usage: Int64, memo: String) async throws -> UseCharge {
        guard usage >= 0 else { throw LedgerRefusal.notPositive }
        let holdID = try hold.requireID()
        var result = UseCharge()
        switch hold.status {
        case .open:
            do {
                result.settled = try await close(holdID, as: .settled, actual: min(usage, hold.amount), actor: nil).settledAmount ?? 0
            } catch LedgerRefusal.holdClosed(let status) {
                guard status == .voided else { return result }  // settled meanwhile by this use's own settle
                result.holdWasClosed = true
            }
        case .settled:
            return UseCharge(settled: hold.settledAmount ?? 0)
        case .voided:
            result.holdWasClosed = true
        }
        let beyond = usage - result.settled
        guard beyond > 0 else { return result }
        let (charged, debt, fresh) = try await chargeBeyondHold(hold, amount: beyond,
                                                                memo: result.holdWasClosed ? "\(memo) (charged after its hold was closed)" : "\(memo) (beyond its hold)")
        result.charged = charged
        result.debt = debt
        guard fresh else { return result }  // charged before (this use's settle ran again): nothing new to tell
        metrics?.recordCredits("charged_beyond_hold", kind: "hold", micro: charged)
        metrics?.recordCredits("owed", kind: "hold", micro: debt)
        try await LedgerAlerts.useChargedBeyondHold(result, accountID: hold.$account.id, memo: memo, on: db, now: clock())
        return result
    }

    /// Takes `amount` from the hold's account's free credits as far as they go (a `charge` entry) and records the
    /// rest as debt (a `debt` entry): a conditional write, tried again if the balance shrank meanwhile. Once per hold:
    /// the entries' keys (`beyond:<hold>`) are unique, and a hold already charged beyond is answered with what it was.
    private func chargeBeyondHold(_ hold: LedgerHold, amount: Int64, memo: String) async throws -> (charged: Int64, debt: Int64, fresh: Bool) {
        let accountID = hold.$account.id, holdID = try hold.requireID(), now = clock(), memo = String(memo.prefix(200))
        let keys = (charge: "beyond:\(holdID):charge", debt: "beyond:\(holdID):debt")
        return try await write { tx, sql in
            let earlier = try await LedgerEntry.query(on: tx).filter(\.$idempotencyKey ~~ [keys.charge, keys.debt]).all()
            if !earlier.isEmpty {
                return (earlier.filter { $0.kind == .charge }.reduce(0) { $0 + $1.amount }, earlier.filter { $0.kind == .debt }.reduce(0) { $0 + $1.amount }, false)
            }
            for _ in 0..<20 {
                guard let row = try await sql.raw("SELECT balance, programme_id FROM ledger_accounts WHERE id = \(bind: accountID)").first() else {
                    throw Abort(.notFound, reason: "No such account.")
                }
                let paid = min(max(0, try row.decode(column: "balance", as: Int64.self)), amount), owed = amount - paid
                let programmeID = try row.decode(column: "programme_id", as: UUID.self)
                let taken = try await sql.raw("""
                    UPDATE ledger_accounts SET balance = balance - \(bind: paid), spent = spent + \(bind: paid), debt = debt + \(bind: owed)
                    WHERE id = \(bind: accountID) AND balance >= \(bind: paid) RETURNING id
                    """).all()
                guard !taken.isEmpty else { continue }
                for (kind, part, key) in [(LedgerEntryKind.charge, paid, keys.charge), (.debt, owed, keys.debt)] where part > 0 {
                    try await LedgerEntry(programmeID: programmeID, kind: kind, from: accountID, to: nil, amount: part, holdID: holdID,
                                          key: key, memo: memo, actorID: nil, at: now).create(on: tx)
                }
                return (paid, owed, true)
            }
            throw Abort(.serviceUnavailable, reason: "The account's balance kept changing; the charge is tried again.")
        }
    }

    /// One statement: close the hold if it is open and the amount fits, move its credits, journal both parts.
    private func close(_ holdID: UUID, as status: HoldStatus, actual: Int64, memo: String? = nil, actor: UUID?) async throws -> LedgerHold {
        let now = clock(), settled: Int64? = status == .settled ? actual : nil
        let closed = try await statement { sql, postgres -> LedgerHold? in
            if postgres {
                let close = LedgerPrepared.Close(status: status.rawValue, settled: settled, now: now, actor: actor, memo: memo, holdID: holdID,
                                                 actual: actual, freedKind: status == .settled ? "release" : "void")
                if let batches, !db.inTransaction, case .closed(let row) = await batches.run(.close(close), on: db) { return try row.model() }
                return try await LedgerPrepared.run(close, on: db).first?.model()
            }
            return try await sql.raw("""
                UPDATE ledger_holds SET status = \(bind: status.rawValue), settled_amount = \(bind: settled), closed_at = \(bind: now),
                  closed_by = \(bind: actor), close_memo = \(bind: memo)
                WHERE id = \(bind: holdID) AND status = 'open' AND amount >= \(bind: actual)
                RETURNING *
                """).first()?.decode(fluentModel: LedgerHold.self)
        }
        if let hold = closed {
            batches?.closed(holdID)
            metrics?.recordCredits("settled", kind: "hold", micro: actual)
            metrics?.recordCredits("released", kind: "hold", micro: hold.amount - actual)
            return hold
        }
        guard let hold = try await LedgerHold.find(holdID, on: db) else { throw Abort(.notFound, reason: "No such hold.") }
        guard hold.status == .open else {
            batches?.closed(holdID)  // found closed (by this request before, or another): forgotten as well
            if hold.status == status && (status == .voided || hold.settledAmount == actual) { return hold }  // the same request again
            throw LedgerRefusal.holdClosed(hold.status)
        }
        throw LedgerRefusal.settleAboveHold(held: Credits(micro: hold.amount), actual: Credits(micro: actual))
    }

    // MARK: Expiry

    /// Voids open holds past their time, then returns every expired account's free credits to its parent
    /// (allowances first, so an expiring course collects them before returning everything to the pool).
    @discardableResult
    func expire() async throws -> (holds: Int, accounts: Int) {
        let now = clock()
        let stale = try await LedgerHold.query(on: db).filter(\.$status == .open).filter(\.$expiresAt <= now).all(\.$id)
        var voided = 0
        for id in stale {
            if (try? await void(id, memo: "expired before it was settled"))?.status == .voided { voided += 1 }
        }
        var swept = 0
        for kind in [AccountKind.allowance, .course, .project] {
            let expired = try await LedgerAccount.query(on: db).filter(\.$kind == kind).filter(\.$expiresAt <= now)
                .filter(\.$balance > 0).with(\.$parent).all()
            for account in expired {
                guard let parent = account.parent else { continue }
                do {
                    try await transfer(.expire, from: account, to: parent, amount: Credits(micro: account.balance), memo: "expired: the remainder returns")
                    swept += 1
                } catch is LedgerRefusal {
                    continue  // spent in the meantime; the next sweep takes what is left
                }
            }
        }
        return (voided, swept)
    }

    // MARK: Helpers

    /// Whether the database is PostgreSQL (else SQLite).
    var postgres: Bool { (db as? any SQLDatabase)?.dialect.name == "postgresql" }

    /// One statement outside an explicit transaction: it is atomic by itself, and SQLite's lock (with the driver's
    /// busy handler) orders it against other writers.
    private func statement<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase, Bool) async throws -> T) async throws -> T {
        let sql = try db.sqlDatabase()
        let postgres = self.postgres
        return try await body(sql, postgres)
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (any Database, any SQLDatabase) async throws -> T) async throws -> T {
        let db = self.db
        let work: @Sendable () async throws -> T = {
            try await db.transaction { tx in
                let sql = try tx.sqlDatabase()
                return try await body(tx, sql)
            }
        }
        if let gate { return try await gate.run(work) }
        return try await work()
    }

    /// Why taking `needs` from the account failed: it expired, or it has less free.
    static func refusal(_ accountID: UUID, needs: Credits, now: Date, on db: any Database) async throws -> LedgerRefusal {
        guard let account = try await LedgerAccount.find(accountID, on: db) else { return .notEnough(account: "the account", available: .zero, needed: needs) }
        if let expiry = account.expiresAt, expiry <= now { return .expired(account: account.label) }
        return .notEnough(account: account.label, available: Credits(micro: account.balance), needed: needs)
    }
}

extension Application {
    /// The ledger on this application's database (with the SQLite write queue when the database is SQLite).
    var ledger: LedgerStore { ledger(on: db) }

    /// The ledger on `db` (a request's database, a transaction's) with this application's write queue and metrics.
    func ledger(on db: any Database) -> LedgerStore {
        LedgerStore(db: db, gate: ledgerGate, batches: ledgerBatches, metrics: storage[PlatformMetricsKey.self], clock: clock.now)
    }

    /// The ledger inside a write that already holds the write queue (a `writeTransaction`'s transaction, or
    /// `writing`'s body): its own multi-statement writes then do not queue again.
    func ledger(inWrite db: any Database) -> LedgerStore {
        LedgerStore(db: db, gate: nil, batches: ledgerBatches, metrics: storage[PlatformMetricsKey.self], clock: clock.now)
    }

    private struct LedgerBatchesKey: StorageKey { typealias Value = LedgerBatches }

    /// Group commit of the ledger's holds and closes (set in `useDatabase` on PostgreSQL; nil on SQLite).
    var ledgerBatches: LedgerBatches? {
        get { storage[LedgerBatchesKey.self] }
        set { storage[LedgerBatchesKey.self] = newValue }
    }

}

extension Request {
    var ledger: LedgerStore { application.ledger(on: db) }
}

extension LedgerRefusal: AbortError {
    /// 409 when the state of the ledger refuses (not enough, expired, already closed); 422 when the request itself
    /// cannot be right.
    public var status: HTTPResponseStatus {
        switch self {
        case .notEnough, .expired, .holdClosed, .keyReused, .accountFull: .conflict
        case .notPositive, .notAnEdge, .settleAboveHold, .spendingFromPartner, .tooLarge: .unprocessableEntity
        }
    }
    public var reason: String { description }
}
