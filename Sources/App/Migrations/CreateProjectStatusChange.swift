import Fluent

struct CreateProjectStatusChange: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("project_status_changes")
            .id()
            .field("project_id", .uuid, .required, .references("research_projects", "id", onDelete: .cascade))
            .field("from_status", .string, .required)
            .field("to_status", .string, .required)
            .field("changed_by", .uuid, .required, .references("users", "id"))
            .field("comment", .string, .required)
            .field("changed_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("project_status_changes").delete()
    }
}
