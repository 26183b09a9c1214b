// A small standard scenario for checking any implementation of the rules against the reference book: a tree of
// seven accounts and operations drawn from a few integers (so property tests can generate and shrink them).
import Foundation

public enum Simulation {
    public static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// The accounts, in this order: partner, pool, course (expires in an hour), project, two allowances in the
    /// course (the second expires in half an hour), one allowance in the project.
    public static let accounts: [(kind: AccountKind, parent: Int?, label: String, expiresIn: TimeInterval?)] = [
        (.partner, nil, "the partner", nil),
        (.pool, 0, "the programme pool", nil),
        (.course, 1, "the CS101 allocation", 3600),
        (.project, 1, "the project allocation", nil),
        (.allowance, 2, "Ada's allowance in CS101", nil),
        (.allowance, 2, "Bo's allowance in CS101", 1800),
        (.allowance, 3, "Cy's allowance in the project", nil),
    ]

    public static func book() -> Book {
        var book = Book()
        for account in accounts {
            _ = book.open(account.kind, parent: account.parent, label: account.label, expiresAt: account.expiresIn.map { start.addingTimeInterval($0) })
        }
        return book
    }

    /// One operation: `kind` 0 grant, 1 transfer between accounts `target` and `other`, 2–3 reserve on `target`
    /// (key reused when `other` is 0, lifetime `other` × 5 minutes), 4 settle hold `target` (sometimes above it),
    /// 5 void hold `target`, 6 time passes (`amount` decides how long) and expiry runs.
    public struct Operation: Sendable, Equatable, CustomStringConvertible {
        public var kind: Int, target: Int, other: Int, amount: Int64
        public init(kind: Int, target: Int, other: Int, amount: Int64) {
            self.kind = kind
            self.target = target
            self.other = other
            self.amount = amount
        }
        public var description: String { "op\(kind)(\(target),\(other),\(amount))" }

        public var credits: Credits { Credits(micro: amount) }
        public var holdLifetime: TimeInterval { Double(other) * 300 }
        public var timePassing: TimeInterval { Double(amount) / 250_000 * 120 }
        public func reserveKey(counter: Int) -> String { "k\(other == 0 ? 0 : counter)" }
        /// The amount to settle hold `held` with: usually the operation's amount, sometimes just above the hold.
        public func settleAmount(held: Credits) -> Credits { Credits(micro: min(amount, held.micro + Int64(other - 3))) }
    }

    /// Applies one operation as a client would; a refusal leaves the book as it was and is returned.
    @discardableResult
    public static func apply(_ op: Operation, to book: inout Book, clock: inout Date, keys: inout Int) -> LedgerRefusal? {
        let before = book
        do {
            switch op.kind {
            case 0: try book.transfer(from: 0, to: 1, op.credits, now: clock)
            case 1: try book.transfer(from: op.target % 7, to: op.other % 7, op.credits, now: clock)
            case 2, 3:
                keys += 1
                _ = try book.reserve(op.target % 7, op.credits, key: op.reserveKey(counter: keys), expiresAt: clock.addingTimeInterval(op.holdLifetime), now: clock)
            case 4: if !book.holds.isEmpty {
                let index = op.target % book.holds.count
                try book.settle(index, actual: op.settleAmount(held: book.holds[index].amount))
            }
            case 5: if !book.holds.isEmpty { try book.void(op.target % book.holds.count) }
            default:
                clock = clock.addingTimeInterval(op.timePassing)
                book.expire(now: clock)
            }
            return nil
        } catch {
            book = before
            return error as? LedgerRefusal
        }
    }
}
