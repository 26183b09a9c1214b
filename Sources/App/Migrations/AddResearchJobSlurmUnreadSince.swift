import Fluent

/// When the platform first found a Slurm job gone from the queue with its accounting record unreadable (since it was
/// last seen unended): the hour after which it is judged without the record is counted from here by whichever
/// process polls the cluster, across restarts.
struct AddResearchJobSlurmUnreadSince: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("research_jobs").field("slurm_unread_since", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("research_jobs").deleteField("slurm_unread_since").update()
    }
}
