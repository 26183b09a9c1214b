import Fluent

/// Whether a research project's jobs may use the network (off until its PI or a programme manager allows it).
struct AddProjectJobNetwork: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("research_projects").field("job_network", .bool, .required, .sql(.default(false))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("research_projects").deleteField("job_network").update()
    }
}
