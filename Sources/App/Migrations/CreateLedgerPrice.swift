import Fluent

struct CreateLedgerPrice: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ledger_prices")
            .id()
            .field("meter", .string, .required)
            .field("price", .int64, .required)
            .field("effective_from", .datetime, .required)
            .field("created_at", .datetime)
            .unique(on: "meter", "effective_from")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ledger_prices").delete()
    }
}
