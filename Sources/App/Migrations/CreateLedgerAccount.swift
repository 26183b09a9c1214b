import Fluent

struct CreateLedgerAccount: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ledger_accounts")
            .id()
            .field("programme_id", .uuid, .required, .references("programmes", "id", onDelete: .restrict))
            .field("kind", .string, .required)
            .field("parent_id", .uuid, .references("ledger_accounts", "id", onDelete: .restrict))
            .field("natural_key", .string, .required)
            .field("course_id", .uuid)
            .field("project_id", .uuid)
            .field("user_id", .uuid)
            .field("label", .string, .required)
            .field("balance", .int64, .required)
            .field("held", .int64, .required)
            .field("spent", .int64, .required)
            .field("default_allowance", .int64)
            .field("expires_at", .datetime)
            .field("created_at", .datetime)
            .unique(on: "natural_key")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ledger_accounts").delete()
    }
}
