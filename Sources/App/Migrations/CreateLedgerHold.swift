import Fluent
import SQLKit

struct CreateLedgerHold: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ledger_holds")
            .id()
            .field("account_id", .uuid, .required, .references("ledger_accounts", "id", onDelete: .restrict))
            .field("amount", .int64, .required)
            .field("status", .string, .required)
            .field("settled_amount", .int64)
            .field("idempotency_key", .string, .required)
            .field("reason", .string, .required)
            .field("created_by", .uuid)
            .field("expires_at", .datetime, .required)
            .field("created_at", .datetime)
            .field("closed_at", .datetime)
            .field("closed_by", .uuid)
            .field("close_memo", .string)
            .unique(on: "idempotency_key")
            .create()
        // The expiry sweep looks for open holds past their time.
        if let sql = database as? any SQLDatabase {
            try await sql.raw("CREATE INDEX ledger_holds_open ON ledger_holds (status, expires_at)").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ledger_holds").delete()
    }
}
