// Reaching a cluster through slurmrestd (its REST API, OpenAPI v0.0.38 as Slurm 22.05 serves it) instead of the Slurm
// commands on a submit node: the same requests as `sbatch`, `squeue --me --json` and `scancel`, as JSON bodies and
// paths. Only what the platform sends and reads is here; the HTTP itself is the caller's (with the service account's
// name and its JWT in the X-SLURM-USER-NAME and X-SLURM-USER-TOKEN headers).
import Foundation

public enum SlurmREST {
    public static let version = "v0.0.38"

    /// The path of the job list (the same document `squeue --json` prints).
    public static let jobsPath = "/slurm/\(version)/jobs"
    public static let submitPath = "/slurm/\(version)/job/submit"
    public static func jobPath(_ id: Int) -> String { "/slurm/\(version)/job/\(id)" }

    /// The body of a job submission: the batch script, and the same request `SlurmSubmission.sbatchArguments` makes —
    /// one task on one node, never requeued, its deadline — with `environment` as the job's whole environment.
    public static func submitBody(_ submission: SlurmSubmission, script: String, environment: [String: String]) throws -> Data {
        var job: [String: Any] = [
            "name": submission.name, "partition": submission.partition, "current_working_directory": SlurmStaging.work(submission.folder).path,
            "standard_output": SlurmStaging.stdout(submission.folder).path, "standard_error": SlurmStaging.stderr(submission.folder).path,
            "nodes": [1, 1], "tasks": 1, "cpus_per_task": submission.resources.cpus, "memory_per_node": submission.resources.memoryMB,
            "time_limit": submission.timeLimitMinutes, "requeue": false, "environment": environment,
        ]
        if let account = submission.account, !account.isEmpty { job["account"] = account }
        if submission.resources.gpus > 0 { job["gres"] = "gpu:\(submission.resources.gpus)" }
        if let deadline = submission.deadlineSeconds { job["deadline"] = "now+\(deadline)" }
        return try JSONSerialization.data(withJSONObject: ["script": script, "job": job], options: [.sortedKeys])
    }

    /// The new job's id in a submission's answer; nil when there is none (its errors say why).
    public static func submittedJobID(_ answer: Data) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any], errors(answer).isEmpty else { return nil }
        return (object["job_id"] as? NSNumber)?.intValue
    }

    /// The errors an answer lists (`errors[].error`, with Slurm's number), empty when none.
    public static func errors(_ answer: Data) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any], let list = object["errors"] as? [[String: Any]] else { return [] }
        return list.map { entry in
            let text = (entry["error"] as? String) ?? "an error"
            return (entry["error_number"] as? NSNumber).map { "\(text) (Slurm error \($0))" } ?? text
        }
    }
}
