// A Slurm cluster the university runs, where research projects' jobs may go instead of the platform's own workers
// (issue 24): how to reach it (the Slurm commands on this host, a submit node), which partition and account jobs go to,
// the account they are submitted as, the staging folder on its shared filesystem, and the partition's limits a job
// form is bounded by.
import Fluent
import Foundation
import Slurm

final class SlurmCluster: Model, @unchecked Sendable {
    static let schema = "slurm_clusters"
    @ID(key: .id) var id: UUID?
    @Field(key: "name") var name: String
    /// The cluster's slurm.conf for the commands (SLURM_CONF); nil: the host's default.
    @OptionalField(key: "slurm_conf") var slurmConf: String?
    @Field(key: "partition") var partition: String
    /// The Slurm account jobs are charged to in the cluster's own accounting; nil: the service account's default.
    @OptionalField(key: "account") var account: String?
    /// The host user jobs are submitted as, and so run as (required when the platform runs as root).
    @OptionalField(key: "service_account") var serviceAccount: String?
    /// A folder on the cluster's shared filesystem; each job gets one inside it while it lives.
    @Field(key: "staging_folder") var stagingFolder: String
    /// The job completion log (JobCompLoc of jobcomp/filetxt), where ended jobs are read from; empty: from Slurm's
    /// accounting instead (`keepsAccounting`).
    @Field(key: "completion_log") var completionLog: String
    @Field(key: "max_cores") var maxCores: Int
    @Field(key: "max_memory_mb") var maxMemoryMB: Int
    @Field(key: "max_gpus") var maxGPUs: Int
    @Field(key: "max_minutes") var maxMinutes: Int
    /// The zone the cluster writes times in (its controller's local time), an IANA name.
    @Field(key: "time_zone") var timeZone: String
    /// How often the platform asks the scheduler about its jobs.
    @Field(key: "poll_seconds") var pollSeconds: Int
    @Field(key: "created_at") var createdAt: Date
    /// slurmrestd's address (http or https, no path), when the cluster is reached through its REST API rather than
    /// the Slurm commands on this host.
    @OptionalField(key: "rest_url") var restURL: String?
    /// The environment variable holding the service account's JWT for slurmrestd (the token is never stored).
    @OptionalField(key: "rest_token_variable") var restTokenVariable: String?
    /// Whether jobs run in the platform's sandbox on the node as well (SlurmSandbox.Mode: required, whenAvailable, off).
    @Field(key: "sandbox") var sandbox: String

    init() {}

    var zone: TimeZone { TimeZone(identifier: timeZone) ?? .current }
    /// Ended jobs are read from Slurm's accounting (slurmdbd: sacct, or slurmrestd's slurmdb API) when the cluster
    /// has no completion log set.
    var keepsAccounting: Bool { completionLog.isEmpty }
    var sandboxMode: SlurmSandbox.Mode { SlurmSandbox.Mode(rawValue: sandbox) ?? .required }
}
