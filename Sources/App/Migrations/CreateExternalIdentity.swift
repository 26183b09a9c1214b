import Fluent

/// Who a person is at an identity provider or an LMS: the issuer and its subject (never an email, which can change
/// hands), linked to one account.
struct CreateExternalIdentity: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("external_identities")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("issuer", .string, .required)
            .field("subject", .string, .required)
            .field("created_at", .datetime)
            .field("last_seen_at", .datetime)
            .unique(on: "issuer", "subject")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("external_identities").delete()
    }
}
