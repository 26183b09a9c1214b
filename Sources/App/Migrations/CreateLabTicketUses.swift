import Fluent

/// The labs origin's tickets already taken (each is single-use), kept until they would have run out anyway.
struct CreateLabTicketUses: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_ticket_uses")
            .id()
            .field("expires_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_ticket_uses").delete()
    }
}
