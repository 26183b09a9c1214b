import Fluent

/// `gradebook_rows`: one student's counted scores in a course, kept for the gradebook page (`GradebookRows`):
/// `cells` is "assignment-id=score;…", valid while `generation` and `format` are current.
struct CreateGradebookRow: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("gradebook_rows")
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("cells", .string, .required)
            .field("generation", .int, .required)
            .field("format", .int, .required)
            .unique(on: "course_id", "user_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("gradebook_rows").delete()
    }
}
