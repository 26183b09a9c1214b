import Fluent

/// The tool's own signing keys, one per generation: published from creation, signing from `activates_at` (a day
/// later for a rotation, so LMSs that cache the key set have it before it signs). The private key is stored sealed
/// under a key derived from the platform secret; the public half as the JWK that is published.
struct CreateLTIToolKey: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_tool_keys")
            .id()
            .field("generation", .int, .required)
            .field("kid", .string, .required)
            .field("sealed_key", .string, .required)
            .field("public_jwk", .string, .required)
            .field("activates_at", .datetime, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "generation")
            .unique(on: "kid")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_tool_keys").delete()
    }
}
