import Fluent

struct CreateSlurmCluster: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("slurm_clusters")
            .id()
            .field("name", .string, .required)
            .field("slurm_conf", .string)
            .field("partition", .string, .required)
            .field("account", .string)
            .field("service_account", .string)
            .field("staging_folder", .string, .required)
            .field("completion_log", .string, .required)
            .field("max_cores", .int, .required)
            .field("max_memory_mb", .int, .required)
            .field("max_gpus", .int, .required)
            .field("max_minutes", .int, .required)
            .field("time_zone", .string, .required)
            .field("poll_seconds", .int, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "name")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("slurm_clusters").delete()
    }
}
