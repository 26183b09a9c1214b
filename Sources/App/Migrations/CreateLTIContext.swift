import Fluent

/// Which course an LMS course is: a context id of one deployment of a registration (LTI makes context ids unique
/// only within a deployment).
struct CreateLTIContext: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_contexts")
            .id()
            .field("registration_id", .uuid, .required, .references("lti_registrations", "id", onDelete: .cascade))
            .field("deployment_id", .string, .required)
            .field("context_id", .string, .required)
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("created_at", .datetime)
            .unique(on: "registration_id", "deployment_id", "context_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_contexts").delete()
    }
}
