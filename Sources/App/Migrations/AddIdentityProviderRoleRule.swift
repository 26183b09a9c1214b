import Fluent

/// A provider's claim → role rule: people whose claim (e.g. eduperson_affiliation, groups) holds one of the values may
/// create courses in the programme named (checked at each sign-in through it).
struct AddIdentityProviderRoleRule: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement (SQLite adds one at a time).
        try await database.schema("identity_providers").field("role_claim", .string).update()
        try await database.schema("identity_providers").field("role_values", .string).update()
        try await database.schema("identity_providers").field("course_creators_programme_id", .uuid).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("identity_providers").deleteField("course_creators_programme_id").update()
        try await database.schema("identity_providers").deleteField("role_values").update()
        try await database.schema("identity_providers").deleteField("role_claim").update()
    }
}
