import Fluent

/// An assignment's grade column in an LMS course, found through the course's line item container (by the
/// assignment's `resource_id`) or made there: `url` is empty until found, and `looked_up_at` says when the last look
/// found nothing (empty: a look is due — from `retry_at`, when looks failed for a passing reason `attempts` times).
struct CreateLTILineItem: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_line_items")
            .id()
            .field("context_id", .uuid, .required, .references("lti_contexts", "id", onDelete: .cascade))
            .field("assignment_id", .uuid, .required, .references("assignments", "id", onDelete: .cascade))
            .field("url", .string)
            .field("looked_up_at", .datetime)
            .field("attempts", .int, .required, .sql(.default(0)))
            .field("retry_at", .datetime)
            .unique(on: "context_id", "assignment_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_line_items").delete()
    }
}
