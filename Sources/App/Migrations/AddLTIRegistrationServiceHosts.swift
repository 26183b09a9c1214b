import Fluent

/// The hosts an LMS's services (grade columns, rosters) are on, comma-separated: learnt from its first launch that
/// names a service, or set by an administrator. The tool sends its access tokens for that LMS to no other host, so a
/// launch forged with a leaked LMS key cannot turn the token toward a host of its own.
struct AddLTIRegistrationServiceHosts: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_registrations").field("service_hosts", .string, .required, .sql(.default(""))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_registrations").deleteField("service_hosts").update()
    }
}
