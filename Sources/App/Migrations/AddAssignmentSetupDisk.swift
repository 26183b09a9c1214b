import Fluent

/// How much an autograder's setup.sh may write into its environment (MB; default 4 GB).
struct AddAssignmentSetupDisk: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("assignments").field("setup_disk_mb", .int, .required, .sql(.default(4096))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("assignments").deleteField("setup_disk_mb").update()
    }
}
