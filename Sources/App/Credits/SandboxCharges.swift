// What a sandbox run (or a Slurm job) costs: the most it may cost (reserved before it starts: its time limit as CPU and wall
// seconds at today's prices) and what it did cost (settled after: measured CPU and wall time at the prices when
// the hold was made, never more than the hold). Grading runs and research jobs are charged the same way.
import Fluent
import Foundation
import Ledger
import SQLKit
import Vapor

enum SandboxCharges {
    /// The most a run of `seconds` may cost; zero when those meters have no price.
    static func estimate(seconds: Int, on db: any Database, at time: Date) async throws -> Credits {
        let prices = try await Prices.list(on: db)
        var usage: [Meter: Int64] = [:]
        for meter in [Meter.sandboxCPUSecond, .sandboxWallSecond] where prices.price(of: meter, at: time) != nil { usage[meter] = Int64(seconds) * 1000 }
        return try prices.cost(of: usage, at: time)
    }

    /// Charges what the run used: from its hold, and what the hold cannot cover (it was closed before — expired, or
    /// voided — or was smaller) from the free credits, then as debt with an alert (`LedgerStore.settleUse`). Returns
    /// the micro-credits charged in all. `ledger` is on the transaction that records the run
    /// (`Application.ledger(inWrite:)`), so the charge and the result commit together.
    static func settle(_ holdID: UUID?, cpuMs: Int, wallMs: Int, what: String, ledger: LedgerStore, logger: Logger) async throws -> Int64 {
        try await settle(holdID, usage: [.sandboxCPUSecond: Int64(cpuMs), .sandboxWallSecond: Int64(wallMs)], what: what, ledger: ledger, logger: logger)
    }

    /// The same for any meters' usage (a Slurm job's core-, memory- and GPU-seconds), priced as when the hold was made.
    static func settle(_ holdID: UUID?, usage: [Meter: Int64], what: String, ledger: LedgerStore, logger: Logger) async throws -> Int64 {
        guard let holdID, let hold = try await LedgerHold.find(holdID, on: ledger.db) else { return 0 }
        let createdAt = hold.createdAt
        do {
            // Meters without a price when the hold was made cost nothing (the hold's estimate left them out too):
            // one missing price does not make the whole use free.
            let prices = try await Prices.list(on: ledger.db), time = createdAt ?? Date()
            let cost = try prices.cost(of: usage.filter { prices.price(of: $0.key, at: time) != nil }, at: time)
            let charge = try await ledger.settleUse(hold, usage: cost.micro, memo: what)
            if charge.holdWasClosed || charge.debt > 0 {
                logger.warning("Hold \(holdID) could not cover \(what): \(Credits(micro: charge.charged)) charged from free credits, \(Credits(micro: charge.debt)) owed")
            }
            return charge.total
        } catch let pricing as PricingError {
            logger.warning("Hold \(holdID) was voided: \(pricing.description)")
            // Already closed: nothing to free (a database error still undoes the whole record).
            do { _ = try await ledger.void(holdID, memo: "no price for the run's usage") } catch where error is any AbortError {}
            return 0
        }
    }
}
