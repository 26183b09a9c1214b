import Fluent

struct CreateNotice: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("notices")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("kind", .string, .required)
            .field("message", .string, .required)
            .field("link", .string)
            .field("account_id", .uuid, .references("ledger_accounts", "id", onDelete: .cascade))
            .field("threshold", .int)
            .field("created_at", .datetime, .required)
            .field("read_at", .datetime)
            .unique(on: "user_id", "account_id", "threshold")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("notices").delete()
    }
}
