import Fluent

/// An LMS's registration can be switched off (a leaked key, an LMS retired): no launches, no score or roster calls
/// until it is switched on again.
struct AddLTIRegistrationEnabled: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_registrations").field("enabled", .bool, .required, .sql(.default(true))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_registrations").deleteField("enabled").update()
    }
}
