import Fluent
import SQLKit

struct CreateLedgerEntry: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ledger_entries")
            .id()
            .field("programme_id", .uuid, .required, .references("programmes", "id", onDelete: .restrict))
            .field("kind", .string, .required)
            .field("from_account_id", .uuid, .references("ledger_accounts", "id", onDelete: .restrict))
            .field("to_account_id", .uuid, .references("ledger_accounts", "id", onDelete: .restrict))
            .field("amount", .int64, .required)
            .field("hold_id", .uuid, .references("ledger_holds", "id", onDelete: .restrict))
            .field("idempotency_key", .string)
            .field("memo", .string, .required)
            .field("actor_id", .uuid)
            .field("created_at", .datetime, .required)
            .unique(on: "idempotency_key")
            .create()
        // Statements read one account's entries in time order.
        if let sql = database as? any SQLDatabase {
            try await sql.raw("CREATE INDEX ledger_entries_from ON ledger_entries (from_account_id, created_at)").run()
            try await sql.raw("CREATE INDEX ledger_entries_to ON ledger_entries (to_account_id, created_at)").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ledger_entries").delete()
    }
}
