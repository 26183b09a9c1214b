import Fluent

/// Lab hosts on other machines (`campuscloud worker --labs N`): where the web tier reaches each, for how many
/// sessions, and when it last said it was alive.
struct CreateLabHosts: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lab_hosts")
            .field("name", .string, .required)
            .field("address", .string)
            .field("capacity", .int, .required)
            .field("ready", .string, .required)
            .field("seen_at", .datetime, .required)
            .unique(on: "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lab_hosts").delete()
    }
}
