import Fluent

struct CreateAllocationRequest: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("allocation_requests")
            .id()
            .field("project_id", .uuid, .required, .references("research_projects", "id", onDelete: .cascade))
            .field("requested_by", .uuid, .required, .references("users", "id"))
            .field("kind", .string, .required)
            .field("follows_id", .uuid, .references("allocation_requests", "id"))
            .field("amount", .int64, .required)
            .field("period_end", .datetime, .required)
            .field("justification", .string, .required)
            .field("meters", .string, .required)
            .field("status", .string, .required)
            .field("decided_by", .uuid, .references("users", "id"))
            .field("decided_at", .datetime)
            .field("approved_amount", .int64)
            .field("decision_comment", .string)
            .field("created_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("allocation_requests").delete()
    }
}
