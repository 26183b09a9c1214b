import Fluent

/// What an account owes: usage the platform charged after its hold was gone, beyond the free credits.
struct AddLedgerAccountDebt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ledger_accounts").field("debt", .int64, .required, .sql(.default(0))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ledger_accounts").deleteField("debt").update()
    }
}
