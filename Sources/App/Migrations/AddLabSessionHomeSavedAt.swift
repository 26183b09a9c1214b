import Fluent

/// When a running lab session's home was last saved on its host (every few minutes while it runs): shown to the
/// person, so they know how much a host's failure could cost them.
struct AddLabSessionHomeSavedAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_sessions").field("home_saved_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_sessions").deleteField("home_saved_at").update()
    }
}
