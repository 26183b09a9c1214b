import Fluent

/// When an LMS's registration was last switched off: every session its launches began before then is over (a leaked
/// key's forged launches end at once, and stay ended when it is switched on again).
struct AddLTIRegistrationSwitchedOffAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_registrations").field("switched_off_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_registrations").deleteField("switched_off_at").update()
    }
}
