import Fluent

/// The LMS whose launch began the session an API key was made in (directly or through a key made so): switching
/// that LMS off (a leaked key) revokes it with the sessions.
struct AddAPIKeyLaunchedBy: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("api_keys").field("lti_registration_id", .uuid).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("api_keys").deleteField("lti_registration_id").update()
    }
}
