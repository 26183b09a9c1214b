import Fluent

/// The LMS whose launch a window ticket continues: switching it off withdraws its unused tickets.
struct AddLTIWindowTicketRegistration: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_window_tickets").field("registration_id", .uuid).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_window_tickets").deleteField("registration_id").update()
    }
}
