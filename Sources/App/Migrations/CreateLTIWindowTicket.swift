import Fluent

/// A launch verified inside an LMS frame that keeps no cookies (Safari, blocked third-party cookies) continues in a
/// window of its own: a single-use, short-lived ticket for that person and where the launch lands (kept hashed).
struct CreateLTIWindowTicket: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_window_tickets")
            .id()
            .field("ticket_hash", .string, .required)
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("destination", .string, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .unique(on: "ticket_hash")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_window_tickets").delete()
    }
}
