import Fluent

/// The grade passback outbox: one row per student and LMS line item, pending until the student's current score is
/// posted (then sent), or refused by the LMS (failed, with its answer, until staff resend it).
struct CreateLTIScorePost: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_score_posts")
            .id()
            .field("registration_id", .uuid, .required, .references("lti_registrations", "id", onDelete: .cascade))
            .field("line_item_url", .string, .required)
            .field("assignment_id", .uuid, .required, .references("assignments", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("subject", .string, .required)
            .field("status", .string, .required)
            .field("changed_at", .datetime, .required)
            .field("version", .int, .required)
            .field("sent_at", .datetime)
            .field("score_sent", .double)
            .field("progress_sent", .string)
            .field("last_error", .string)
            .unique(on: "line_item_url", "user_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_score_posts").delete()
    }
}
