// Group commit for the ledger's two hot statements on PostgreSQL. Holds and closes that arrive while a batch is being
// written wait, and go together in the next: one statement writes all the waiting holds (`LedgerPrepared.ReserveBatch`)
// and one all the waiting closes (`CloseBatch`). Each row of a batch is still checked on its own, by the same
// conditional writes as the single statements: a hold is taken only if its own account has it free (the UPDATE
// locks the account and re-checks), a hold is closed only if it is still open and covers the amount. A batch only
// ever does what succeeds; whatever it did not do (a refusal, a key seen before, a hold already closed, or the
// whole batch failing on a concurrent duplicate key or a deadlock with another process) comes back `.alone`, and its
// caller runs it alone with the single statement, which decides exactly as before and gives the reason. So
// correctness rests on the single statements; batches save PostgreSQL a transaction, and the platform a round trip
// and a pool lease, per operation.
//
// Lanes: accounts are split between `laneCount` lanes (by their id), and a lane has one batch in flight; so two
// batches of this process never touch the same account and cannot deadlock, while the lanes keep as many database
// connections busy. A close goes to its account's lane, known for the holds this process opened (`opened`); a close
// of a hold opened elsewhere (another process, before a restart) runs alone.
//
// Who writes, per lane: the first caller to find no batch in flight leads. It takes what waits (at most one hold per
// account: one UPDATE changes a row once), writes, answers the callers, and hands the lead to the next waiting
// caller, which writes what gathered meanwhile. A lone operation is written by its leader the same way. Waiting
// operations are written on the leader's database handle (the one PostgreSQL pool).
//
// Lock order: a batch takes its accounts' row locks in id order (each batch statement locks them first, sorted by
// id, before it changes any), as transfers do (`LedgerStore.transfer` locks both accounts in id order first); every other
// ledger statement locks one account. A deadlock with another process's writes is broken by PostgreSQL: a batch
// that loses runs its operations alone.
import Fluent
import Foundation
import NIOConcurrencyHelpers
import PostgresKit

final class LedgerBatches: Sendable {
    /// The most holds, and the most closes, one batch carries.
    static let largest = 128
    /// Holds remembered with their account, for their closes to find their lane; forgotten when closed, and all at
    /// once past this many (their closes then run alone).
    static let remembered = 100_000

    enum Operation: Sendable {
        case reserve(LedgerPrepared.Reserve)
        case close(LedgerPrepared.Close)
    }

    enum Outcome: Sendable {
        /// The batch took the hold.
        case reserved
        /// The batch closed the hold: its row as `LedgerPrepared.Close` returns it.
        case closed(LedgerPrepared.ClosedHold)
        /// Not done in a batch: run it alone with the single statement, which decides and says why.
        case alone
        /// This caller writes the next batch.
        case lead
    }

    /// Since start (for tests and the bench).
    struct Counts: Sendable, Equatable {
        /// Batches of two operations or more written.
        var batches = 0
        /// The operations those batches did (not those that then ran alone).
        var done = 0
        /// Batch statements that failed (their operations then ran alone).
        var failed = 0

        static func + (a: Counts, b: Counts) -> Counts {
            Counts(batches: a.batches + b.batches, done: a.done + b.done, failed: a.failed + b.failed)
        }
    }

    private struct Waiting {
        var operation: Operation
        var continuation: CheckedContinuation<Outcome, Never>
    }

    private struct Lane {
        var queue: [Waiting] = []
        var leading = false
        var counts = Counts()
    }

    private let lanes: [NIOLockedValueBox<Lane>]
    private let opened = NIOLockedValueBox<[UUID: UUID]>([:])

    init(lanes: Int = 4) {
        self.lanes = (0..<max(1, lanes)).map { _ in NIOLockedValueBox(Lane()) }
    }

    var laneCount: Int { lanes.count }

    /// The lane of an account's operations.
    func lane(of account: UUID) -> Int { Int(account.uuid.15) % laneCount }

    var counts: Counts { lanes.reduce(Counts()) { $0 + $1.withLockedValue { $0.counts } } }

    /// Operations waiting for a batch.
    var waiting: Int { lanes.reduce(0) { $0 + $1.withLockedValue { $0.queue.count } } }

    /// A hold this process opened, so that its close goes to its account's lane.
    func opened(_ hold: UUID, account: UUID) {
        opened.withLockedValue { holds in
            if holds.count >= Self.remembered { holds.removeAll(keepingCapacity: true) }
            holds[hold] = account
        }
    }

    /// A hold closed (or found closed): forgotten.
    func closed(_ hold: UUID) {
        _ = opened.withLockedValue { $0.removeValue(forKey: hold) }
    }

    /// For tests, while no batch is in flight: until `resume`, every operation waits (as if a batch were in flight),
    /// so the next batches are known.
    func pause() {
        for lane in lanes { lane.withLockedValue { $0.leading = true } }
    }

    /// Ends `pause`: each lane's first waiting operation writes a batch of what waits there.
    func resume() {
        for index in lanes.indices { handOff(index) }
    }

    /// `operation` written with whatever else waits in its lane. `.reserved` or `.closed` when the batch did it;
    /// `.alone` when the caller must run it alone (and nothing of it was written).
    func run(_ operation: Operation, on db: any Database) async -> Outcome {
        let account: UUID
        switch operation {
        case .reserve(let reserve): account = reserve.accountID
        case .close(let close):
            guard let known = opened.withLockedValue({ $0[close.holdID] }) else { return .alone }
            account = known
        }
        let index = lane(of: account), lane = lanes[index]
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let leads = lane.withLockedValue { lane in
                if lane.leading {
                    lane.queue.append(Waiting(operation: operation, continuation: continuation))
                    return false
                }
                lane.leading = true
                return true
            }
            if leads { continuation.resume(returning: .lead) }
        }
        guard case .lead = turn else { return turn }
        return await lead(operation, lane: index, on: db)
    }

    /// Writes one batch (`own` and what waits in its lane), answers its callers, hands the lead on; returns `own`'s
    /// outcome.
    private func lead(_ own: Operation, lane index: Int, on db: any Database) async -> Outcome {
        let others = lanes[index].withLockedValue { Self.take(besides: own, from: &$0.queue) }
        let operations = [own] + others.map(\.operation)
        let outcomes = await write(operations, lane: index, on: db)
        if operations.count > 1 {
            lanes[index].withLockedValue { lane in
                lane.counts.batches += 1
                lane.counts.done += outcomes.count { if case .alone = $0 { false } else { true } }
            }
        }
        for (waiting, outcome) in zip(others, outcomes.dropFirst()) { waiting.continuation.resume(returning: outcome) }
        handOff(index)
        return outcomes[0]
    }

    /// The lane's lead to its first waiting operation, or given up when none waits.
    private func handOff(_ index: Int) {
        let next = lanes[index].withLockedValue { lane -> Waiting? in
            guard !lane.queue.isEmpty else {
                lane.leading = false
                return nil
            }
            return lane.queue.removeFirst()
        }
        next?.continuation.resume(returning: .lead)
    }

    /// What joins `own` in a batch: waiting operations in order, up to `largest` of each kind, at most one hold per
    /// account (the rest stay queued for the next batch).
    private static func take(besides own: Operation, from queue: inout [Waiting]) -> [Waiting] {
        var accounts = Set<UUID>(), reserves = 0, closes = 0
        switch own {
        case .reserve(let reserve): accounts.insert(reserve.accountID); reserves = 1
        case .close: closes = 1
        }
        var taken: [Waiting] = [], left: [Waiting] = []
        for waiting in queue {
            switch waiting.operation {
            case .reserve(let reserve) where reserves < largest && !accounts.contains(reserve.accountID):
                accounts.insert(reserve.accountID)
                reserves += 1
                taken.append(waiting)
            case .close where closes < largest:
                closes += 1
                taken.append(waiting)
            default:
                left.append(waiting)
            }
        }
        queue = left
        return taken
    }

    /// The batch's holds in one statement, then its closes in one (a lone one with the single statement); what either
    /// did not do (or all of it, when the statement failed) is `.alone`.
    private func write(_ operations: [Operation], lane: Int, on db: any Database) async -> [Outcome] {
        var outcomes = Array(repeating: Outcome.alone, count: operations.count)
        var reserves: [(index: Int, reserve: LedgerPrepared.Reserve)] = [], closes: [(index: Int, close: LedgerPrepared.Close)] = []
        for (index, operation) in operations.enumerated() {
            switch operation {
            case .reserve(let reserve): reserves.append((index, reserve))
            case .close(let close): closes.append((index, close))
            }
        }
        if reserves.count == 1, let taken = await attempt(reserves[0].reserve, lane: lane, on: db), taken.first == 1 {
            outcomes[reserves[0].index] = .reserved
        } else if reserves.count > 1, let taken = await attempt(LedgerPrepared.ReserveBatch(reserves: reserves.map(\.reserve)), lane: lane, on: db) {
            for ordinal in taken where ordinal >= 1 && ordinal <= reserves.count {
                outcomes[reserves[Int(ordinal) - 1].index] = .reserved
            }
        }
        if closes.count == 1, let closed = await attempt(closes[0].close, lane: lane, on: db), let hold = closed.first {
            outcomes[closes[0].index] = .closed(hold)
        } else if closes.count > 1, let closed = await attempt(LedgerPrepared.CloseBatch(closes: closes.map(\.close)), lane: lane, on: db) {
            for (ordinal, hold) in closed where ordinal >= 1 && ordinal <= closes.count {
                outcomes[closes[Int(ordinal) - 1].index] = .closed(hold)
            }
        }
        return outcomes
    }

    /// The statement's rows, or nil when it failed (nothing of it was written; its operations run alone).
    private func attempt<Statement: PostgresPreparedStatement>(_ statement: Statement, lane: Int, on db: any Database) async -> [Statement.Row]?
    where Statement.Row: Sendable {
        do {
            return try await LedgerPrepared.run(statement, on: db)
        } catch {
            lanes[lane].withLockedValue { $0.counts.failed += 1 }
            db.logger.notice("A batch of the ledger failed; its operations run alone. \(String(reflecting: error))")
            return nil
        }
    }
}
