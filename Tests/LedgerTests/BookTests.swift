// The ledger's rules on the in-memory reference book: worked examples, then random sequences of every operation
// (property tests) checking that credits are conserved, no balance is negative, and nothing settles above its hold.
import Testing
import Foundation
import PropertyBased
@testable import Ledger

@Suite struct BookTests {
    static let now = Simulation.start

    /// partner → pool → {course, project}; course → two allowances; project → one (the simulation's tree).
    static func tree() -> (Book, partner: Int, pool: Int, course: Int, project: Int, allowances: [Int]) {
        (Simulation.book(), 0, 1, 2, 3, [4, 5, 6])
    }

    @Test func aChildNeverGetsMoreThanItsParentHoldsAndTheRefusalNamesTheLevel() throws {
        var (book, partner, pool, course, _, allowances) = Self.tree()
        try book.transfer(from: partner, to: pool, Credits(whole: 100))
        try book.transfer(from: pool, to: course, Credits(whole: 60))
        #expect(throws: LedgerRefusal.notEnough(account: "the programme pool", available: Credits(whole: 40), needed: Credits(whole: 50))) {
            try book.transfer(from: pool, to: course, Credits(whole: 50))
        }
        try book.transfer(from: course, to: allowances[0], Credits(whole: 10))
        #expect(throws: LedgerRefusal.notAnEdge(from: .pool, to: .allowance)) { try book.transfer(from: pool, to: allowances[0], Credits(whole: 1)) }
        let hold = try book.reserve(allowances[0], Credits(whole: 8), key: "job-1", expiresAt: Self.now.addingTimeInterval(60), now: Self.now)
        let refusal = LedgerRefusal.notEnough(account: "Ada's allowance in CS101", available: Credits(whole: 2), needed: Credits(whole: 3))
        #expect(throws: refusal) { try book.reserve(allowances[0], Credits(whole: 3), key: "job-2", expiresAt: Self.now, now: Self.now) }
        #expect(refusal.description == "Ada's allowance in CS101 has 2 credits free; this needs 3.")
        try book.settle(hold, actual: Credits(whole: 5))
        #expect(book.accounts[allowances[0]].balance == Credits(whole: 5))
        #expect(book.accounts[allowances[0]].spent == Credits(whole: 5))
        #expect(throws: LedgerRefusal.holdClosed(.settled)) { try book.void(hold) }
        #expect(book.total == .zero)
    }

    @Test func theSameKeyNeverMovesCreditsTwice() throws {
        var (book, partner, pool, course, _, allowances) = Self.tree()
        try book.transfer(from: partner, to: pool, Credits(whole: 10), key: "grant-1")
        try book.transfer(from: partner, to: pool, Credits(whole: 10), key: "grant-1")
        #expect(book.accounts[pool].balance == Credits(whole: 10))
        try book.transfer(from: pool, to: course, Credits(whole: 10))
        try book.transfer(from: course, to: allowances[0], Credits(whole: 10))
        let first = try book.reserve(allowances[0], Credits(whole: 4), key: "job", expiresAt: Self.now.addingTimeInterval(60), now: Self.now)
        let again = try book.reserve(allowances[0], Credits(whole: 4), key: "job", expiresAt: Self.now.addingTimeInterval(60), now: Self.now)
        #expect(first == again)
        #expect(book.accounts[allowances[0]].held == Credits(whole: 4))
    }

    @Test func expiryVoidsOldHoldsAndReturnsTheRemainderUpTheTree() throws {
        var (book, partner, pool, course, _, allowances) = Self.tree()
        try book.transfer(from: partner, to: pool, Credits(whole: 100))
        try book.transfer(from: pool, to: course, Credits(whole: 50))
        try book.transfer(from: course, to: allowances[1], Credits(whole: 20))
        _ = try book.reserve(allowances[1], Credits(whole: 5), key: "j", expiresAt: Self.now.addingTimeInterval(600), now: Self.now)
        book.expire(now: Self.now.addingTimeInterval(1900))  // the hold and Bo's allowance have expired, the course not yet
        #expect(book.holds[0].status == .voided)
        #expect(book.accounts[allowances[1]].balance == .zero)
        #expect(book.accounts[course].balance == Credits(whole: 50))
        #expect(throws: LedgerRefusal.expired(account: "Bo's allowance in CS101")) {
            try book.reserve(allowances[1], Credits(whole: 1), key: "k", expiresAt: Self.now.addingTimeInterval(7200), now: Self.now.addingTimeInterval(1900))
        }
        book.expire(now: Self.now.addingTimeInterval(3700))
        #expect(book.accounts[pool].balance == Credits(whole: 100))
        #expect(book.total == .zero)
    }

    static let operations = zip(Gen.int(in: 0...6), Gen.int(in: 0...6), Gen.int(in: 0...6), Gen.int64(in: 0...40))
        .map { Simulation.Operation(kind: $0, target: $1, other: $2, amount: $3 * 250_000) }
        .array(of: 1...80)

    @Test func randomSequencesConserveCreditsAndNeverGoNegative() async {
        await propertyCheck(count: 300, input: Self.operations) { operations in
            var book = Simulation.book()
            var clock = Simulation.start, keys = 0
            for op in operations {
                let before = book
                if Simulation.apply(op, to: &book, clock: &clock, keys: &keys) != nil {
                    #expect(book.accounts == before.accounts && book.holds == before.holds, "a refused \(op) changed the book")
                }
                #expect(book.total == .zero, "credits not conserved after \(op)")
                for account in book.accounts where account.kind != .partner {
                    #expect(account.balance >= .zero && account.held >= .zero, "\(account.label) negative after \(op)")
                }
                for hold in book.holds {
                    if let settled = hold.settled { #expect(settled <= hold.amount, "settled above its hold after \(op)") }
                }
                // What accounts hold for open holds is exactly the open holds' amounts.
                for (index, account) in book.accounts.enumerated() {
                    let open = book.holds.filter { $0.account == index && $0.status == .open }.reduce(Credits.zero) { $0 + $1.amount }
                    #expect(account.held == open)
                }
            }
        }
    }
}
