import Fluent

struct CreateGradeAdjustment: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("grade_adjustments")
            .id()
            .field("submission_id", .uuid, .required, .references("submissions", "id", onDelete: .cascade))
            .field("author_id", .uuid, .required, .references("users", "id"))
            .field("points", .double, .required)
            .field("comment", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("grade_adjustments").delete()
    }
}
