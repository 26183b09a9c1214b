import Fluent
import SQLKit

/// Who opened each hold. Holds already there are the platform's, except those a person opened through the API
/// (their keys start with "user:"), so nobody can close a hand-in's or a job's hold after this migration.
struct AddLedgerHoldOrigin: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ledger_holds").field("origin", .string, .required, .sql(.default("platform"))).update()
        try await database.sqlDatabase().raw("UPDATE ledger_holds SET origin = 'person' WHERE idempotency_key LIKE 'user:%'").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ledger_holds").deleteField("origin").update()
    }
}
