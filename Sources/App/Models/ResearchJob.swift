// A research project's batch compute job (a command run in the sandbox on its input files, charged to the project
// or to the member's allowance in it), its files (inputs and outputs), and the project's recorded outputs
// (publications, datasets, software, theses, events).
import Fluent
import Foundation

enum ResearchJobStatus: String, Codable, Sendable, CaseIterable {
    /// `timeout`: a Slurm job the scheduler stopped at its time limit (on the platform's workers that is `failed`).
    case queued, running, succeeded, failed, cancelled, timeout
    var isFinished: Bool { self != .queued && self != .running }
}

/// Whose credits pay: the member's own allowance in the project, or the project's allocation (PI and managers).
enum ResearchJobPayer: String, Codable, Sendable, CaseIterable { case allowance, project }

final class ResearchJob: Model, @unchecked Sendable {
    static let schema = "research_jobs"
    @ID(key: .id) var id: UUID?
    @Parent(key: "project_id") var project: ResearchProject
    @Parent(key: "submitted_by") var submittedBy: User
    @Field(key: "name") var name: String
    /// A shell command line, run by /bin/sh in the job's folder.
    @Field(key: "command") var command: String
    @Field(key: "network") var network: Bool
    @Field(key: "wall_seconds") var wallSeconds: Int
    @Field(key: "memory_mb") var memoryMB: Int
    @Field(key: "pay_from") var payFrom: ResearchJobPayer
    @Field(key: "status") var status: ResearchJobStatus
    /// Its entry in the durable queue.
    @OptionalField(key: "queue_job_id") var queueJobID: UUID?
    /// The credits reserved for it until it ends.
    @OptionalField(key: "hold_id") var holdID: UUID?
    @Field(key: "cancel_requested") var cancelRequested: Bool
    /// How the sandbox run ended (ok, timeout, memory_limit, …).
    @OptionalField(key: "sandbox_status") var sandboxStatus: String?
    @OptionalField(key: "exit_code") var exitCode: Int?
    /// Standard output and error, capped.
    @OptionalField(key: "log") var log: String?
    /// Why it failed, in a sentence, when the platform knows.
    @OptionalField(key: "problem") var problem: String?
    @Field(key: "cpu_ms") var cpuMs: Int
    @Field(key: "wall_ms") var wallMs: Int
    /// Micro-credits spent.
    @Field(key: "charged") var charged: Int64
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "started_at") var startedAt: Date?
    @OptionalField(key: "finished_at") var finishedAt: Date?
    /// Set when the job went to a Slurm cluster instead of the platform's workers.
    @OptionalField(key: "slurm_cluster_id") var slurmClusterID: UUID?
    /// The scheduler's id for it, once submitted.
    @OptionalField(key: "slurm_job_id") var slurmJobID: Int?
    /// Cores and GPUs asked for (a Slurm job; the platform's workers run one core, no GPU).
    @Field(key: "cores") var cores: Int
    @Field(key: "gpus") var gpus: Int
    /// Why the scheduler keeps it waiting ("Resources", "Priority"), while it does.
    @OptionalField(key: "scheduler_reason") var schedulerReason: String?
    /// When the platform last saw it in the scheduler's queue.
    @OptionalField(key: "slurm_seen_at") var slurmSeenAt: Date?
    /// When a look first found it gone from the queue with its accounting unreadable (stale once it is seen unended
    /// again: before `slurmSeenAt`).
    @OptionalField(key: "slurm_unread_since") var slurmUnreadSince: Date?
    /// How long the cluster's completion log was when it was submitted: its record is after that.
    @Field(key: "slurm_log_offset") var slurmLogOffset: Int64

    init() {}
}

enum ResearchJobFileRole: String, Codable, Sendable { case input, output }

final class ResearchJobFile: Model, @unchecked Sendable {
    static let schema = "research_job_files"
    @ID(key: .id) var id: UUID?
    @Parent(key: "job_id") var job: ResearchJob
    @Field(key: "role") var role: ResearchJobFileRole
    @Field(key: "path") var path: String
    @Field(key: "size") var size: Int
    @Field(key: "contents") var contents: Data

    init() {}
    init(jobID: UUID, role: ResearchJobFileRole, path: String, contents: Data) {
        self.$job.id = jobID
        self.role = role
        self.path = path
        self.size = contents.count
        self.contents = contents
    }
}

enum ProjectOutputKind: String, Codable, Sendable, CaseIterable { case publication, dataset, software, thesis, event }

final class ProjectOutput: Model, @unchecked Sendable {
    static let schema = "project_outputs"
    @ID(key: .id) var id: UUID?
    @Parent(key: "project_id") var project: ResearchProject
    @Field(key: "kind") var kind: ProjectOutputKind
    @Field(key: "title") var title: String
    /// Where it appeared: a journal or conference, a repository, a university (theses), a place and date (events).
    @Field(key: "venue") var venue: String
    @OptionalField(key: "year") var year: Int?
    @OptionalField(key: "doi") var doi: String?
    @OptionalField(key: "url") var url: String?
    @Parent(key: "recorded_by") var recordedBy: User
    @Field(key: "created_at") var createdAt: Date

    init() {}
}
