import Fluent

/// A link an administrator gives an LMS's administrator for LTI Dynamic Registration: single-use, expiring, naming
/// the registration it makes and its rules (programme, trusted email domains).
struct CreateLTIRegistrationInvite: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_registration_invites")
            .id()
            .field("token_hash", .string, .required)
            .field("name", .string, .required)
            .field("lms_host", .string, .required)
            .field("programme_id", .uuid, .required, .references("programmes", "id", onDelete: .cascade))
            .field("email_domains", .string, .required)
            .field("link_by_email", .bool, .required)
            .field("created_by", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .unique(on: "token_hash")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_registration_invites").delete()
    }
}
