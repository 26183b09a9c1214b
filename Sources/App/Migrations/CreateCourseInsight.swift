import Fluent

/// `course_insights`: each course's overview as last computed (its JSON, as the API sends it) and when, so the
/// overview of a large course is read, not recomputed, on each view (at most `CourseInsights.maximumAge` old).
struct CreateCourseInsight: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("course_insights")
            .id()
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("body", .string, .required)
            .field("computed_at", .datetime, .required)
            .unique(on: "course_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("course_insights").delete()
    }
}
