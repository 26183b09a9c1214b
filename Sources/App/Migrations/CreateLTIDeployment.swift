import Fluent

/// A registration's deployments (an LMS makes a new one when the tool is installed again or a course is copied): a
/// launch from a deployment not listed here is refused.
struct CreateLTIDeployment: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_deployments")
            .id()
            .field("registration_id", .uuid, .required, .references("lti_registrations", "id", onDelete: .cascade))
            .field("deployment_id", .string, .required)
            .field("created_at", .datetime)
            .unique(on: "registration_id", "deployment_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_deployments").delete()
    }
}
