// Credits for AI requests without a database write per request. A lease is a real hold in the ledger on a
// person's allowance, for a chunk of credits (many requests' worth when the allowance has it, one request's
// otherwise); requests draw their maximum cost from it in memory and give back what they did not use. A lease
// stops taking draws when it is exhausted or after `retireAfter`, and once its last request has finished its hold
// is settled with the sum actually used. Caps stay exact across processes: what is not in a lease is in the
// ledger, and a lease never hands out more than its hold. A process that dies loses the charges of its open leases
// (their holds expire unspent, so nobody is over-charged); leases retire within seconds to keep that small.
import Fluent
import Foundation
import Ledger
import NIOConcurrencyHelpers
import Vapor

final class CreditLeases: Sendable {
    /// A lease holds this many requests' worth when the allowance has it; a person whose lease ran out before it
    /// retired gets one twice as large next time (up to `mostRequestsPerLease`), one who used under a quarter of it
    /// half as large: a busy script costs a ledger write per few hundred requests, a student's chat little held.
    static let requestsPerLease: Int64 = 20
    static let mostRequestsPerLease: Int64 = 640
    static let defaultRetireAfter: TimeInterval = 2
    /// How long a lease takes draws (2 s; tests that must see a lease open lengthen it).
    let retireAfter: TimeInterval

    final class Lease: @unchecked Sendable {
        let holdID: UUID
        let accountKey: String
        let amount: Int64
        let createdAt: Date
        // Guarded by CreditLeases.state's lock.
        var drawn: Int64 = 0
        var used: Int64 = 0
        /// What requests used beyond their draws (a model answering past its cap): charged when the lease closes.
        var beyond: Int64 = 0
        var inFlight = 0
        var retired = false

        init(holdID: UUID, accountKey: String, amount: Int64, createdAt: Date) {
            self.holdID = holdID
            self.accountKey = accountKey
            self.amount = amount
            self.createdAt = createdAt
        }
    }

    /// One request's draw on a lease.
    struct Ticket: Sendable {
        let lease: Lease
        let amount: Int64
        var createdAt: Date { lease.createdAt }
    }

    private let state = NIOLockedValueBox<[String: Lease]>([:])
    private let app: Application
    private let retirer = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(app: Application, retireAfter: TimeInterval = CreditLeases.defaultRetireAfter) {
        self.app = app
        self.retireAfter = retireAfter
    }

    /// Draws `amount` from the person's lease, making a new lease (a hold in the ledger) when there is none with room.
    /// Throws the ledger's refusal when the allowance cannot cover even this request.
    func draw(_ amount: Credits, account: LedgerAccount, key accountKey: String, reason: String, actor: UUID?) async throws -> Ticket {
        if let ticket = takeFromCurrent(accountKey, amount.micro) { return ticket }
        let ledger = app.ledger
        // Many requests' worth if the allowance has it; otherwise just this one's.
        var hold: LedgerHold
        // A grown lease holds at most a quarter of what the allowance had free when it was last read, so one long
        // request keeping a retired lease open cannot hold most of it.
        let grown = sizes.withLockedValue { $0[accountKey] } ?? Self.requestsPerLease
        let requests = max(Self.requestsPerLease, min(grown, account.balance / 4 / max(amount.micro, 1)))
        let (leased, overflow) = amount.micro.multipliedReportingOverflow(by: requests)
        do {
            guard !overflow else { throw LedgerRefusal.tooLarge }
            hold = try await ledger.reserve(account, amount: Credits(micro: leased), reason: reason,
                                            key: "ai-lease:\(UUID().uuidString.lowercased())", lifetime: AIGateway.holdLifetime, actor: actor)
        } catch is LedgerRefusal {
            // Not that much free: this request's worth only, and the next lease starts small again.
            sizes.withLockedValue { $0[accountKey] = nil }
            hold = try await ledger.reserve(account, amount: amount, reason: reason, key: "ai-lease:\(UUID().uuidString.lowercased())",
                                            lifetime: AIGateway.holdLifetime, actor: actor)
        }
        let lease = Lease(holdID: try hold.requireID(), accountKey: accountKey, amount: hold.amount, createdAt: hold.createdAt ?? app.clock.now())
        let ticket: Ticket = state.withLockedValue { leases in
            lease.drawn = amount.micro
            lease.inFlight = 1
            if let current = leases[accountKey], !current.retired { current.retired = true; finishIfDone(current) }
            leases[accountKey] = lease
            return Ticket(lease: lease, amount: amount.micro)
        }
        scheduleRetirement()
        return ticket
    }

    private func takeFromCurrent(_ accountKey: String, _ amount: Int64) -> Ticket? {
        state.withLockedValue { leases in
            guard let lease = leases[accountKey], !lease.retired else { return nil }
            let expired = app.clock.now().timeIntervalSince(lease.createdAt) > retireAfter
            if expired || lease.amount - lease.drawn < amount {
                resize(lease, ranOutAt: expired ? nil : amount)
                lease.retired = true
                finishIfDone(lease)
                leases[accountKey] = nil
                return nil
            }
            lease.drawn += amount
            lease.inFlight += 1
            return Ticket(lease: lease, amount: amount)
        }
    }

    /// Called under the lock as a lease retires: the size of the person's next lease. `ranOutAt`: the request it
    /// could not cover (the next lease is twice as many requests like it), or nil when it retired by time.
    private func resize(_ lease: Lease, ranOutAt amount: Int64?) {
        sizes.withLockedValue { sizes in
            let current = sizes[lease.accountKey] ?? Self.requestsPerLease
            if let amount, amount > 0 {
                sizes[lease.accountKey] = min(Self.mostRequestsPerLease, max(current, max(1, lease.amount / amount)) * 2)
            } else if amount == nil, lease.drawn < lease.amount / 4 {
                let smaller = max(Self.requestsPerLease, current / 2)
                sizes[lease.accountKey] = smaller == Self.requestsPerLease ? nil : smaller
            }
        }
    }
    /// The next lease's size, in requests, of people whose leases ran out (taken inside `state`'s lock, never around it).
    private let sizes = NIOLockedValueBox<[String: Int64]>([:])

    /// The request is over: it used `actual`; what its draw does not cover is charged beyond the hold when the lease
    /// closes (never free); the rest of the draw goes back to the lease.
    func settle(_ ticket: Ticket, actual: Int64) {
        state.withLockedValue { _ in
            let lease = ticket.lease
            let spent = min(max(0, actual), ticket.amount)
            lease.used += spent
            lease.beyond += max(0, actual - ticket.amount)
            lease.drawn -= ticket.amount - spent
            lease.inFlight -= 1
            finishIfDone(lease)
        }
    }

    /// Called under the lock: a retired lease with nothing in flight settles its hold (in the background).
    private func finishIfDone(_ lease: Lease) {
        guard lease.retired, lease.inFlight == 0 else { return }
        lease.inFlight = -1  // settled once
        let used = lease.used + lease.beyond, holdID = lease.holdID, app = self.app
        pending.withLockedValue { $0 += 1 }
        Task { [pending] in
            do {
                if used > 0 {
                    // The platform's settle: a hold that expired meanwhile, or usage beyond it, is still charged.
                    _ = try await app.ledger.settleUse(holdID, usage: used, memo: "AI requests")
                } else {
                    _ = try await app.ledger.void(holdID, memo: "AI lease unused")
                }
            } catch {
                app.logger.error("AI credit lease \(holdID) could not be closed: \(String(describing: error)); it expires")
            }
            pending.withLockedValue { $0 -= 1 }
        }
    }
    private let pending = NIOLockedValueBox(0)

    /// Retires leases past their time every second while any exist.
    private func scheduleRetirement() {
        retirer.withLockedValue { task in
            guard task == nil else { return }
            task = Task { [weak self] in
                while let self, !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    let left = self.state.withLockedValue { leases -> Int in
                        for (key, lease) in leases where self.app.clock.now().timeIntervalSince(lease.createdAt) > self.retireAfter {
                            self.resize(lease, ranOutAt: nil)
                            lease.retired = true
                            self.finishIfDone(lease)
                            leases[key] = nil
                        }
                        return leases.count
                    }
                    if left == 0 {
                        self.retirer.withLockedValue { $0 = nil }
                        return
                    }
                }
            }
        }
    }

    /// Retires every lease now and waits until their holds are settled (shutdown, tests).
    func retireAll() async {
        state.withLockedValue { leases in
            for lease in leases.values {
                lease.retired = true
                finishIfDone(lease)
            }
            leases.removeAll()
        }
        while pending.withLockedValue({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(5)) }
    }
}

extension Application {
    private struct CreditLeasesKey: StorageKey { typealias Value = CreditLeases }
    /// Set once in `configure`.
    var creditLeases: CreditLeases {
        get { storage[CreditLeasesKey.self]! }
        set { storage[CreditLeasesKey.self] = newValue }
    }
}
