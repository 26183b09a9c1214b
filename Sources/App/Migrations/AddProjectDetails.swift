import Fluent
import SQLKit

/// A project's start and end dates and its tags (one column per statement: SQLite adds one at a time).
struct AddProjectDetails: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("research_projects").field("starts_on", .datetime).update()
        try await database.schema("research_projects").field("ends_on", .datetime).update()
        try await database.schema("research_projects").field("tags", .string, .required, .sql(.default(""))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("research_projects").deleteField("tags").update()
        try await database.schema("research_projects").deleteField("ends_on").update()
        try await database.schema("research_projects").deleteField("starts_on").update()
    }
}
