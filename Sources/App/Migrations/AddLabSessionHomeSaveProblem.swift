import Fluent

/// Why a running lab session's home was last not saved (over its quota, a file it cannot read), until a save
/// succeeds again: shown to the person, who can act on it.
struct AddLabSessionHomeSaveProblem: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_sessions").field("home_save_problem", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_sessions").deleteField("home_save_problem").update()
    }
}
