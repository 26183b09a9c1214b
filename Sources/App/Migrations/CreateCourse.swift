import Fluent

struct CreateCourse: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("courses")
            .id()
            .field("programme_id", .uuid, .required, .references("programmes", "id", onDelete: .cascade))
            .field("code", .string, .required)
            .field("title", .string, .required)
            .field("term", .string, .required)
            .field("starts_on", .datetime, .required)
            .field("ends_on", .datetime, .required)
            .field("created_at", .datetime)
            .unique(on: "programme_id", "code", "term")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("courses").delete()
    }
}
