import Fluent

/// Whether a cluster's jobs run in the platform's sandbox on the node as well (issue 24): required, whenAvailable or
/// off. Clusters registered before it existed keep running jobs as they did until an administrator chooses (off).
struct AddSlurmClusterSandbox: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("slurm_clusters").field("sandbox", .string, .required, .sql(.default("off"))).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("slurm_clusters").deleteField("sandbox").update()
    }
}
