import Fluent

/// Web sign-in sessions (Fluent's session store).
struct CreateSessionRecord: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await SessionRecord.migration.prepare(on: database).get()
    }

    func revert(on database: any Database) async throws {
        try await SessionRecord.migration.revert(on: database).get()
    }
}
