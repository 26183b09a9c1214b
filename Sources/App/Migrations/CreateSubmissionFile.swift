import Fluent

struct CreateSubmissionFile: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("submission_files")
            .id()
            .field("submission_id", .uuid, .required, .references("submissions", "id", onDelete: .cascade))
            .field("path", .string, .required)
            .field("contents", .data, .required)
            .unique(on: "submission_id", "path")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("submission_files").delete()
    }
}
