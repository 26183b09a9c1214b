import Fluent

/// `assignment_starters`: the starter code of an assignment (a zip checked whole, and its file names), at most one
/// per assignment; similarity checks leave it out.
struct CreateAssignmentStarter: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("assignment_starters")
            .id()
            .field("assignment_id", .uuid, .required, .references("assignments", "id", onDelete: .cascade))
            .field("zip", .data, .required)
            .field("file_names", .string, .required)
            .field("uploaded_by", .uuid, .required, .references("users", "id"))
            .field("uploaded_at", .datetime, .required)
            .unique(on: "assignment_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("assignment_starters").delete()
    }
}
