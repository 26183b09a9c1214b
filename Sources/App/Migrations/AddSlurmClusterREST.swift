import Fluent

/// How a cluster is reached (issue 24): slurmrestd's address and the name of the environment variable holding the
/// service account's JWT, or neither (the Slurm commands on this host). One column per statement.
struct AddSlurmClusterREST: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("slurm_clusters").field("rest_url", .string).update()
        try await database.schema("slurm_clusters").field("rest_token_variable", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("slurm_clusters").deleteField("rest_token_variable").update()
        try await database.schema("slurm_clusters").deleteField("rest_url").update()
    }
}
