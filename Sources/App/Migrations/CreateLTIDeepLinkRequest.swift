import Fluent

/// A Deep Linking request under way: what the LMS asked (where to return, its data, whether several links and line
/// items are accepted), for whom and in which course. Answered once, within its expiry.
struct CreateLTIDeepLinkRequest: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_deep_link_requests")
            .id()
            .field("registration_id", .uuid, .required, .references("lti_registrations", "id", onDelete: .cascade))
            .field("deployment_id", .string, .required)
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("return_url", .string, .required)
            .field("data", .string)
            .field("accept_multiple", .bool, .required)
            .field("accept_line_item", .bool, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_deep_link_requests").delete()
    }
}
