// Amounts and prices: exact decimal text in and out, integer arithmetic, the price in force at the time.
import Testing
import Foundation
@testable import Ledger

@Suite struct CreditsTests {
    @Test(arguments: [("12", 12_000_000), ("12.5", 12_500_000), ("0.000001", 1), (" 3.25 ", 3_250_000), ("0", 0), ("-2.5", -2_500_000)] as [(String, Int64)])
    func decimalTextIsReadExactly(text: String, micro: Int64) {
        #expect(Credits.parse(text)?.micro == micro)
    }

    @Test(arguments: ["", "--1", "-", "1.", ".5", "1.0000001", "1e3", "12,5", "99999999999999999999", "9223372036854.775808"])
    func anythingElseIsRefused(text: String) {
        #expect(Credits.parse(text) == nil)
    }

    @Test func printingIsTheShortestExactDecimalAndReadsBack() {
        for micro: Int64 in [0, 1, 10, 1_000_000, 12_500_000, 123_456_789, -3_000_000] {
            let text = Credits(micro: micro).description
            #expect(Credits.parse(text)?.micro == micro, "\(text)")
        }
        #expect(Credits(micro: 12_500_000).description == "12.5")
        #expect(Credits(micro: -3_000_000).description == "-3")
    }

    @Test func jsonTakesWholeNumbersAndStringsButNotFloats() throws {
        struct Body: Codable { var amount: Credits }
        #expect(try JSONDecoder().decode(Body.self, from: Data(#"{"amount": 12}"#.utf8)).amount.micro == 12_000_000)
        #expect(try JSONDecoder().decode(Body.self, from: Data(#"{"amount": "0.25"}"#.utf8)).amount.micro == 250_000)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Body.self, from: Data(#"{"amount": 0.25}"#.utf8)) }
        #expect(try JSONDecoder().decode(Body.self, from: Data(#"{"amount": -4}"#.utf8)).amount.micro == -4_000_000)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Body.self, from: Data(#"{"amount": 9999999999999999}"#.utf8)) }
        #expect(String(decoding: try JSONEncoder().encode(Body(amount: Credits(micro: 1_500_000))), as: UTF8.self) == #"{"amount":"1.5"}"#)
    }
}

@Suite struct PriceListTests {
    let day: TimeInterval = 86_400
    var start: Date { Date(timeIntervalSince1970: 1_800_000_000) }

    @Test func usageIsPricedAtThePriceInForceAndRoundedUp() throws {
        let list = PriceList([
            PriceVersion(meter: .sandboxCPUSecond, price: Credits.parse("0.01")!, effectiveFrom: start),
            PriceVersion(meter: .sandboxCPUSecond, price: Credits.parse("0.02")!, effectiveFrom: start.addingTimeInterval(10 * day)),
            PriceVersion(meter: .modelOutput("tutor"), price: Credits.parse("2")!, effectiveFrom: start),
        ])
        // 1.5 CPU-seconds (1500 ms) at 0.01 per second, then at 0.02 after the change mid-period.
        #expect(try list.cost(of: .sandboxCPUSecond, quantity: 1500, at: start.addingTimeInterval(day)) == Credits.parse("0.015")!)
        #expect(try list.cost(of: .sandboxCPUSecond, quantity: 1500, at: start.addingTimeInterval(11 * day)) == Credits.parse("0.03")!)
        // 1 ms at 0.01 per second is 0.00001 credits = 10 micro-credits; 1 token at 2 per million rounds up to 2 micro.
        #expect(try list.cost(of: .sandboxCPUSecond, quantity: 1, at: start) == Credits(micro: 10))
        #expect(try list.cost(of: .modelOutput("tutor"), quantity: 1, at: start) == Credits(micro: 2))
        #expect(try list.cost(of: [.sandboxCPUSecond: 1000, .modelOutput("tutor"): 500_000], at: start) == Credits.parse("1.01")!)
        #expect(throws: PricingError.noPrice(.sandboxCPUSecond, start.addingTimeInterval(-1))) {
            try list.cost(of: .sandboxCPUSecond, quantity: 1, at: start.addingTimeInterval(-1))
        }
        #expect(throws: PricingError.tooLarge) { try list.cost(of: .modelOutput("tutor"), quantity: .max, at: start.addingTimeInterval(day)) == .zero }
    }
}
