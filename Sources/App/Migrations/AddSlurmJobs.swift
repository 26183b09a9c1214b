import Fluent

/// Where a project's jobs run (nil: the platform's workers), and for a job sent to a Slurm cluster: the cluster, the
/// scheduler's id for it, the cores and GPUs asked for, the scheduler's latest reason while it waits, and when the
/// platform last saw it in the queue, and how long the completion log was when it was submitted (its record comes
/// after). One column per statement: SQLite adds one at a time.
struct AddSlurmJobs: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("research_projects").field("slurm_cluster_id", .uuid).update()
        try await database.schema("research_jobs").field("slurm_cluster_id", .uuid).update()
        try await database.schema("research_jobs").field("slurm_job_id", .int).update()
        try await database.schema("research_jobs").field("cores", .int, .required, .sql(.default(1))).update()
        try await database.schema("research_jobs").field("gpus", .int, .required, .sql(.default(0))).update()
        try await database.schema("research_jobs").field("scheduler_reason", .string).update()
        try await database.schema("research_jobs").field("slurm_seen_at", .datetime).update()
        try await database.schema("research_jobs").field("slurm_log_offset", .int64, .required, .sql(.default(0))).update()
    }

    func revert(on database: any Database) async throws {
        for field in ["slurm_log_offset", "slurm_seen_at", "scheduler_reason", "gpus", "cores", "slurm_job_id", "slurm_cluster_id"] {
            try await database.schema("research_jobs").deleteField(.string(field)).update()
        }
        try await database.schema("research_projects").deleteField("slurm_cluster_id").update()
    }
}
