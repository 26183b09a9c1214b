import Fluent

struct CreateLabStartFiles: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_start_files")
            .id()
            .field("lab_id", .uuid, .required, .references("lab_environments", "id", onDelete: .cascade))
            .field("zip", .data, .required)
            .unique(on: "lab_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_start_files").delete()
    }
}
