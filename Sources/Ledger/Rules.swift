// The ledger's rules, stated once. The allocation tree: a partner's grant goes to the programme pool, the pool
// allocates to courses and projects, a course or project gives each member an allowance. Credits only move along
// an edge of that tree (down to allocate, up to return), a parent never gives more than it holds, only the
// partner's external account goes below zero (it is where grants come from), and spending is two-phase: a hold
// takes credits out of an account's free balance, settling moves the used part to spent and the rest back.
import Foundation

public enum AccountKind: String, CaseIterable, Codable, Sendable {
    case partner, pool, course, project, allowance

    /// The kinds an account of this kind gives credits to.
    public var childKinds: Set<AccountKind> {
        switch self {
        case .partner: [.pool]
        case .pool: [.course, .project]
        case .course, .project: [.allowance]
        case .allowance: []
        }
    }

    /// Only the partner's external account may go below zero: its balance is minus what it has granted.
    public var mayGoNegative: Bool { self == .partner }
}

public enum HoldStatus: String, Codable, Sendable, CaseIterable { case open, settled, voided }

/// Who opened a hold, and so who may close it. A person's holds (`POST /credits/holds`) are theirs to settle or void;
/// the platform's (hand-ins, regrades, research jobs, AI leases, every metered use it starts) are closed only by the
/// platform's own code, which knows what the use cost.
public enum HoldOrigin: String, Codable, Sendable, CaseIterable { case person, platform }

/// Why the ledger refused: a sentence a person can act on, naming the level that is short.
public enum LedgerRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case notPositive
    case notEnough(account: String, available: Credits, needed: Credits)
    case expired(account: String)
    case notAnEdge(from: AccountKind, to: AccountKind)
    case holdClosed(HoldStatus)
    case settleAboveHold(held: Credits, actual: Credits)
    case spendingFromPartner
    case tooLarge
    /// The amount fits, but the account's balance (or, for a partner, what it has granted) would pass the ledger's
    /// bound with it: a refusal by the ledger's state, not by the request.
    case accountFull(account: String)
    /// An idempotency key sent again with different values: the first use stands, this one is refused.
    case keyReused(String)

    public var description: String {
        switch self {
        case .notPositive: "The amount must be more than zero."
        case .notEnough(let account, let available, let needed):
            "\(account.prefix(1).uppercased() + account.dropFirst()) has \(available) credits free; this needs \(needed)."
        case .expired(let account): "\(account.prefix(1).uppercased() + account.dropFirst()) has expired."
        case .notAnEdge(let from, let to): "Credits move only along the allocation tree; a \(from.rawValue) account does not give to a \(to.rawValue) account."
        case .holdClosed(let status): "That hold is already \(status.rawValue)."
        case .settleAboveHold(let held, let actual): "The actual amount (\(actual)) is more than was held (\(held))."
        case .spendingFromPartner: "The partner's account is where grants come from; nothing is spent from it."
        case .tooLarge: "That is more than the ledger keeps in one amount or one account (\(Credits.maximum) credits)."
        case .accountFull(let account): "With this, \(account) would pass what the ledger keeps in one account (\(Credits.maximum) credits)."
        case .keyReused(let key): "The idempotency key \(key) was already used with different values; use a new key for a new operation."
        }
    }
}

/// A reference ledger in memory: the rules above, with nothing else. The platform's database ledger does the same
/// steps as single conditional SQL statements; tests run both on the same operations and compare.
public struct Book: Sendable {
    public struct Account: Sendable, Equatable {
        public var kind: AccountKind
        public var parent: Int?
        public var label: String
        public var balance = Credits.zero
        public var held = Credits.zero
        public var spent = Credits.zero
        public var expiresAt: Date?
    }

    public struct Hold: Sendable, Equatable {
        public var account: Int
        public var amount: Credits
        public var status = HoldStatus.open
        public var settled: Credits?
        public var expiresAt: Date
    }

    public private(set) var accounts: [Account] = []
    public private(set) var holds: [Hold] = []
    private var keys: [String: Int] = [:]

    public init() {}

    public mutating func open(_ kind: AccountKind, parent: Int?, label: String, expiresAt: Date? = nil) -> Int {
        accounts.append(Account(kind: kind, parent: parent, label: label, expiresAt: expiresAt))
        return accounts.count - 1
    }

    /// Moves credits along one edge of the tree: down (grant, allocate) or up (return). Refused when `from`
    /// does not hold enough, when either account has expired (except returns), or off the tree.
    public mutating func transfer(from: Int, to: Int, _ amount: Credits, key: String? = nil, now: Date = Date()) throws {
        if let key, keys[key] != nil { return }
        guard amount > .zero else { throw LedgerRefusal.notPositive }
        let source = accounts[from], target = accounts[to]
        let down = target.parent == from, up = source.parent == to
        guard down || up else { throw LedgerRefusal.notAnEdge(from: source.kind, to: target.kind) }
        if down, let expiry = target.expiresAt, expiry <= now { throw LedgerRefusal.expired(account: target.label) }
        guard source.kind.mayGoNegative || source.balance >= amount else {
            throw LedgerRefusal.notEnough(account: source.label, available: source.balance, needed: amount)
        }
        accounts[from].balance -= amount
        accounts[to].balance += amount
        if let key { keys[key] = -1 }
    }

    /// Holds `amount` of the account's free credits until settled, voided or `expiresAt`.
    public mutating func reserve(_ account: Int, _ amount: Credits, key: String, expiresAt: Date, now: Date = Date()) throws -> Int {
        if let existing = keys[key], existing >= 0 { return existing }
        guard amount > .zero else { throw LedgerRefusal.notPositive }
        let source = accounts[account]
        guard !source.kind.mayGoNegative else { throw LedgerRefusal.spendingFromPartner }
        if let expiry = source.expiresAt, expiry <= now { throw LedgerRefusal.expired(account: source.label) }
        guard source.balance >= amount else { throw LedgerRefusal.notEnough(account: source.label, available: source.balance, needed: amount) }
        accounts[account].balance -= amount
        accounts[account].held += amount
        holds.append(Hold(account: account, amount: amount, expiresAt: expiresAt))
        keys[key] = holds.count - 1
        return holds.count - 1
    }

    /// Spends `actual` (at most what was held) and frees the rest.
    public mutating func settle(_ hold: Int, actual: Credits) throws {
        let h = holds[hold]
        guard h.status == .open else {
            if h.status == .settled && h.settled == actual { return }  // the same settle again: no effect
            throw LedgerRefusal.holdClosed(h.status)
        }
        guard actual >= .zero else { throw LedgerRefusal.notPositive }
        guard actual <= h.amount else { throw LedgerRefusal.settleAboveHold(held: h.amount, actual: actual) }
        accounts[h.account].held -= h.amount
        accounts[h.account].spent += actual
        accounts[h.account].balance += h.amount - actual
        holds[hold].status = .settled
        holds[hold].settled = actual
    }

    public mutating func void(_ hold: Int) throws {
        let h = holds[hold]
        guard h.status == .open else {
            if h.status == .voided { return }
            throw LedgerRefusal.holdClosed(h.status)
        }
        accounts[h.account].held -= h.amount
        accounts[h.account].balance += h.amount
        holds[hold].status = .voided
    }

    /// Voids holds past their expiry, then returns each expired account's free credits to its parent (deepest
    /// first, so an expired course also collects its expired allowances before returning everything to the pool).
    public mutating func expire(now: Date) {
        for index in holds.indices where holds[index].status == .open && holds[index].expiresAt <= now {
            try? void(index)
        }
        let depth = accounts.indices.map { index -> Int in
            var d = 0, cursor = accounts[index].parent
            while let c = cursor { d += 1; cursor = accounts[c].parent }
            return d
        }
        for index in accounts.indices.sorted(by: { depth[$0] > depth[$1] }) {
            guard let expiry = accounts[index].expiresAt, expiry <= now, let parent = accounts[index].parent,
                  accounts[index].balance > .zero else { continue }
            accounts[parent].balance += accounts[index].balance
            accounts[index].balance = .zero
        }
    }

    /// The sum of every account's free, held and spent credits. Grants move credits out of the partner's account
    /// (below zero), so this is zero from the first entry to the last.
    public var total: Credits {
        accounts.reduce(.zero) { $0 + $1.balance + $1.held + $1.spent }
    }
}
