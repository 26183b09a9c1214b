import Fluent

/// `gradebook_courses`: a course's gradebook generation, raised when a rule every student's scores follow changes
/// (kept rows of an older generation are stale). No row: generation 0.
struct CreateGradebookCourse: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("gradebook_courses")
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("generation", .int, .required)
            .unique(on: "course_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("gradebook_courses").delete()
    }
}
