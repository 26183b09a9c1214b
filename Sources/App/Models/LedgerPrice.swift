// One version of one meter's price; the price list is all of them (see Ledger.PriceList).
import Fluent
import Foundation

final class LedgerPrice: Model, @unchecked Sendable {
    static let schema = "ledger_prices"
    @ID(key: .id) var id: UUID?
    @Field(key: "meter") var meter: String
    /// Micro-credits per priced unit (per CPU-second, per million tokens, per hour).
    @Field(key: "price") var price: Int64
    @Field(key: "effective_from") var effectiveFrom: Date
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(meter: String, price: Int64, effectiveFrom: Date) {
        self.meter = meter
        self.price = price
        self.effectiveFrom = effectiveFrom
    }
}
