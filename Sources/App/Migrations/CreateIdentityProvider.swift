import Fluent

/// OpenID Connect providers an admin added (issue 21): who they are, what discovery found (so starting a sign-in
/// needs no network), and what they may do here. The client secret is never stored: only the name of the
/// environment variable that holds it.
struct CreateIdentityProvider: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("identity_providers")
            .id()
            .field("name", .string, .required)
            .field("issuer", .string, .required)
            .field("client_id", .string, .required)
            .field("secret_env", .string, .required)
            .field("scopes", .string, .required)
            .field("authorization_endpoint", .string, .required)
            .field("token_endpoint", .string, .required)
            .field("jwks_uri", .string, .required)
            .field("end_session_endpoint", .string)
            .field("algorithms", .string, .required)
            .field("email_domains", .string, .required)
            .field("password_sign_in_off", .bool, .required)
            .field("link_by_email", .bool, .required)
            .field("create_accounts", .bool, .required)
            .field("enabled", .bool, .required)
            .field("discovered_at", .datetime, .required)
            .field("created_at", .datetime)
            .unique(on: "issuer", "client_id")
            .unique(on: "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("identity_providers").delete()
    }
}
