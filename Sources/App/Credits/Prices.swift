// The price list: every version of every meter's price, read whole (three columns, no model decoding) wherever use
// becomes credits — grading and research runs, the AI gateway, estimates.
import Fluent
import Foundation
import Ledger
import SQLKit

enum Prices {
    /// The whole price list, for converting usage to credits.
    /// Every price version (read on each hand-in and settle: three columns, no model decoding).
    static func list(on db: any Database) async throws -> PriceList {
        guard let sql = db as? any SQLDatabase else {
            return PriceList(try await LedgerPrice.query(on: db).all().map { PriceVersion(meter: Meter($0.meter), price: Credits(micro: $0.price), effectiveFrom: $0.effectiveFrom) })
        }
        let rows = try await sql.select().columns("meter", "price", "effective_from").from(LedgerPrice.schema).all()
        return PriceList(try rows.map {
            PriceVersion(meter: Meter(try $0.decode(column: "meter", as: String.self)), price: Credits(micro: try $0.decode(column: "price", as: Int64.self)),
                         effectiveFrom: try $0.decode(column: "effective_from", as: Date.self))
        })
    }
}
