import Fluent

/// Where a key's maker's credentials came from: how the session (or key) it was made with began (`made_with`:
/// password, provider or lms) and, for an LMS's launch, that LMS. Switching passwords off for a domain revokes the
/// keys made with a password; switching the LMS off (a leaked key) revokes the keys made through its launches.
struct AddAPIKeyOrigin: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement (SQLite adds one at a time).
        try await database.schema("api_keys").field("lti_registration_id", .uuid).update()
        try await database.schema("api_keys").field("made_with", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("api_keys").deleteField("made_with").update()
        try await database.schema("api_keys").deleteField("lti_registration_id").update()
    }
}
