import Fluent

struct CreateProgramme: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("programmes")
            .id()
            .field("name", .string, .required)
            .field("partner_organisation", .string, .required)
            .field("starts_on", .datetime, .required)
            .field("ends_on", .datetime, .required)
            .field("description", .string, .required)
            .field("created_at", .datetime)
            .unique(on: "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("programmes").delete()
    }
}
