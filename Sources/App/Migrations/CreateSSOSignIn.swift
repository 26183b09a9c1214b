import Fluent

/// Single sign-ons under way: the state's hash, the nonce and PKCE verifier sent with it, the browser it began in
/// (a hash of a value kept in that browser's session), where to go after, until when; taken once.
struct CreateSSOSignIn: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("sso_sign_ins")
            .id()
            .field("provider_id", .uuid, .required, .references("identity_providers", "id", onDelete: .cascade))
            .field("state_hash", .string, .required)
            .field("nonce", .string, .required)
            .field("code_verifier", .string, .required)
            .field("browser_hash", .string, .required)
            .field("next_path", .string, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .unique(on: "state_hash")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("sso_sign_ins").delete()
    }
}
