import Fluent

/// LTI logins under way: the state's hash and the nonce sent to the LMS, until when; taken once by the launch.
struct CreateLTILaunchState: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_launch_states")
            .id()
            .field("registration_id", .uuid, .required, .references("lti_registrations", "id", onDelete: .cascade))
            .field("state_hash", .string, .required)
            .field("nonce", .string, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .unique(on: "state_hash")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_launch_states").delete()
    }
}
