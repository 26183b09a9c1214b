// What a sandbox run costs: the most it may cost (reserved before it starts: its time limit as CPU and wall
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
        let prices = try await CreditsController.priceList(on: db)
        var usage: [Meter: Int64] = [:]
        for meter in [Meter.sandboxCPUSecond, .sandboxWallSecond] where prices.price(of: meter, at: time) != nil { usage[meter] = Int64(seconds) * 1000 }
        return try prices.cost(of: usage, at: time)
    }

    /// Spends what the run used (at most the hold); the rest goes back. Returns the micro-credits spent. A hold
    /// already closed (a previous worker of the same job settled it) is left as it is. `ledger` is on the
    /// transaction that records the run (`Application.ledger(inWrite:)`), so the charge and the result commit together.
    static func settle(_ holdID: UUID?, cpuMs: Int, wallMs: Int, ledger: LedgerStore, logger: Logger) async throws -> Int64 {
        guard let holdID,
              let hold = try await ledger.db.sqlDatabase().raw("SELECT amount, created_at FROM ledger_holds WHERE id = \(bind: holdID)").first() else { return 0 }
        let amount = try hold.decode(column: "amount", as: Int64.self), createdAt = try hold.decode(column: "created_at", as: Date?.self)
        do {
            let cost = try await CreditsController.priceList(on: ledger.db)
                .cost(of: [.sandboxCPUSecond: Int64(cpuMs), .sandboxWallSecond: Int64(wallMs)], at: createdAt ?? Date())
            let settled = try await ledger.settle(holdID, actual: Credits(micro: min(cost.micro, amount)))
            return settled.settledAmount ?? 0
        } catch let refusal as LedgerRefusal {
            logger.info("Hold \(holdID) was not settled: \(refusal.description)")
            return 0
        } catch let pricing as PricingError {
            logger.warning("Hold \(holdID) was voided: \(pricing.description)")
            // Already closed: nothing to free (a database error still undoes the whole record).
            do { _ = try await ledger.void(holdID, memo: "no price for the run's usage") } catch where error is any AbortError {}
            return 0
        }
    }
}
