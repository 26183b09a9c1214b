import Fluent

/// When each person's password last changed, so sessions begun before it end.
struct AddUserCredentialsChangedAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("users").field("credentials_changed_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("users").deleteField("credentials_changed_at").update()
    }
}
