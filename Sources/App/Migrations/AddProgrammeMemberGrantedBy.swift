import Fluent

/// A programme role given by a single sign-on provider's claim → role rule names the provider: the rule takes it back
/// when the claim no longer holds, and touches no role given by hand.
struct AddProgrammeMemberGrantedBy: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("programme_members").field("granted_by_provider", .uuid).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("programme_members").deleteField("granted_by_provider").update()
    }
}
