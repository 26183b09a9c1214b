import Fluent

struct CreateAssignment: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("assignments")
            .id()
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("title", .string, .required)
            .field("instructions", .string, .required)
            .field("kind", .string, .required)
            .field("release_at", .datetime)
            .field("due_at", .datetime)
            .field("late_policy", .string, .required)
            .field("max_submissions", .int)
            .field("required_files", .string, .required)
            .field("time_limit_seconds", .int, .required)
            .field("memory_mb", .int, .required)
            .field("counted", .string, .required)
            .field("points_possible", .double)
            .field("grades_published_at", .datetime)
            .field("autograder_version", .int, .required)
            .field("autograder_zip", .data)
            .field("classroom_tests", .string)
            .field("setup_status", .string, .required)
            .field("setup_log", .string)
            .field("regrade_started_at", .datetime)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("assignments").delete()
    }
}
