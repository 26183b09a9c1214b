import Fluent

struct CreateProjectMember: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("project_members")
            .id()
            .field("project_id", .uuid, .required, .references("research_projects", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("role", .string, .required)
            .unique(on: "project_id", "user_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("project_members").delete()
    }
}
