import Fluent

/// Where an LMS course's roster is (Names and Role Provisioning Services) and when it was last read.
struct AddLTIContextRoster: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement (SQLite adds one at a time).
        try await database.schema("lti_contexts").field("memberships_url", .string).update()
        try await database.schema("lti_contexts").field("roster_synced_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_contexts").deleteField("roster_synced_at").update()
        try await database.schema("lti_contexts").deleteField("memberships_url").update()
    }
}
