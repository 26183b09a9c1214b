import Fluent

/// How many sessions of a lab environment each lab host keeps started ahead of need (default none).
struct AddLabReadySessions: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_environments").field("ready_sessions", .int, .required, .sql(.default(0))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_environments").deleteField("ready_sessions").update()
    }
}
