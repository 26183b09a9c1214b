import Fluent

/// LMSs registered as LTI 1.3 platforms (issue 21): per issuer and client id (Canvas Cloud uses one issuer for every
/// tenant), where its OIDC login, token and key set are, the programme its new courses go in, the email domains whose
/// addresses it is trusted with, and whether an account with such an email is linked on a first launch.
struct CreateLTIRegistration: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_registrations")
            .id()
            .field("name", .string, .required)
            .field("issuer", .string, .required)
            .field("client_id", .string, .required)
            .field("auth_login_url", .string, .required)
            .field("token_url", .string, .required)
            .field("key_set_url", .string, .required)
            .field("programme_id", .uuid, .required, .references("programmes", "id"))
            .field("link_by_email", .bool, .required)
            .field("email_domains", .string, .required)
            .field("created_at", .datetime)
            .unique(on: "issuer", "client_id")
            .unique(on: "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_registrations").delete()
    }
}
