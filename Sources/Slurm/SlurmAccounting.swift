// Ended jobs' records from Slurm's accounting (slurmdbd), for a cluster that keeps it instead of (or beside) a job
// completion log: `sacct` on a submit node, or slurmrestd's `slurmdb` API. Times there are seconds since 1970
// (`SLURM_TIME_FORMAT=%s`, and the API's numbers), so no time zone or repeated hour is guessed at.
import Foundation

public enum SlurmAccounting {
    /// The columns asked of sacct, in order. The job's name — the one field its owner can set to anything, line breaks
    /// included — is last, and the columns are split by a delimiter drawn anew for each call, so no name can pass for
    /// a record of its own.
    static let columns = ["JobID", "State", "Submit", "Start", "End", "ElapsedRaw", "AllocTRES", "ExitCode", "TimelimitRaw", "JobName"]

    /// A delimiter no job can have put in its name beforehand.
    public static func freshDelimiter() -> String { "~cc" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16) + "~" }

    /// sacct's arguments for the allocations (`-X`: not their steps) of `jobs` by `user` (without it, sacct -j shows
    /// every user's jobs of those ids), one line each, as seconds since 1970 when run with `environment` (memory in
    /// megabytes, as recorded). `-D`: every run of a job, so a job that requeued itself shows each of them.
    public static func sacctArguments(jobs: [Int], user: String?, delimiter: String) -> [String] {
        ["sacct", "-X", "-D", "-n", "-P", "--noconvert", "--delimiter=\(delimiter)", "-j", jobs.map(String.init).joined(separator: ",")]
            + (user.map { ["--user=\($0)"] } ?? []) + ["--format=" + columns.joined(separator: ",")]
    }

    public static let environment = ["SLURM_TIME_FORMAT": "%s"]

    /// The records in sacct's answer. A line that is not one (a piece of a name that held a line break) is skipped.
    public static func records(sacct text: String, delimiter: String) -> [SlurmJobRecord] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let values = line.components(separatedBy: delimiter)
            guard values.count == columns.count, let id = Int(values[0]) else { return nil }
            let field = Dictionary(uniqueKeysWithValues: zip(columns, values))
            func time(_ name: String) -> Date? { field[name].flatMap { Int64($0) }.flatMap { $0 > 0 ? Date(timeIntervalSince1970: TimeInterval($0)) : nil } }
            // Without its submission time a record cannot be told from an older job's with the same id.
            guard let submitted = time("Submit") else { return nil }
            let start = time("Start")
            let allocation = field["AllocTRES"] ?? ""
            return SlurmJobRecord(jobID: id, name: field["JobName"] ?? "", state: SlurmJobState(field["State"] ?? ""), start: start, end: time("End"),
                                  allocated: start == nil || allocation.isEmpty ? nil : SlurmResources(tres: allocation),
                                  exitCode: field["ExitCode"]?.split(separator: ":").first.flatMap { Int($0) },
                                  timeLimitMinutes: field["TimelimitRaw"].flatMap { Int($0) }, recordedElapsed: field["ElapsedRaw"].flatMap { Int64($0) },
                                  submitted: submitted)
        }
    }

    /// The jobs in slurmrestd's answer to `GET /slurmdb/v0.0.38/job/{id}` (the document `sacct --json` prints): every
    /// job of that id slurmdbd keeps — of any cluster it serves and any user —, so only those of `cluster` (its
    /// ClusterName, when known) and `user` are kept (a record naming no user, as slurmdbd writes for a user it has no
    /// association for, is kept: its id and submission time still have to match). Slurm 22.05 writes every exit code
    /// there as 0, so a job's code is taken only where its state says it succeeded.
    public static func records(json: Data, cluster: String?, user: String) throws -> [SlurmJobRecord] {
        struct Document: Decodable {
            struct Job: Decodable {
                struct Times: Decodable {
                    var elapsed: SlurmQueue.Flexible<Int64>?
                    var start: SlurmQueue.Flexible<Int64>?
                    var end: SlurmQueue.Flexible<Int64>?
                    var submission: SlurmQueue.Flexible<Int64>?
                    var limit: SlurmQueue.Flexible<Int>?
                }
                struct State: Decodable { var current: SlurmQueue.Flexible<String>? }
                struct Amount: Decodable { var type: String?; var name: String?; var count: Int? }
                struct Resources: Decodable { var allocated: [Amount]? }
                var job_id: Int
                var name: String?
                var state: State?
                var time: Times?
                var tres: Resources?
                var cluster: String?
                var user: String?
            }
            var jobs: [Job]
        }
        return try SlurmQueue.decodeLossy(Document.self, from: json).jobs.compactMap { job in
            func time(_ value: SlurmQueue.Flexible<Int64>?) -> Date? { value?.value.flatMap { $0 > 0 ? Date(timeIntervalSince1970: TimeInterval($0)) : nil } }
            if let cluster, let named = job.cluster, named != cluster { return nil }
            if let named = job.user, !named.isEmpty, named != user { return nil }
            guard let submitted = time(job.time?.submission) else { return nil }
            let state = SlurmJobState(job.state?.current?.value ?? "")
            let start = time(job.time?.start)
            let amounts = job.tres?.allocated ?? []
            func count(_ type: String, _ name: String? = nil) -> Int { amounts.first { $0.type == type && (name == nil || $0.name == name) }?.count ?? 0 }
            let allocated = start == nil || amounts.isEmpty ? nil : SlurmResources(cpus: count("cpu"), memoryMB: count("mem"), gpus: count("gres", "gpu"))
            return SlurmJobRecord(jobID: job.job_id, name: job.name ?? "", state: state, start: start, end: time(job.time?.end), allocated: allocated,
                                  exitCode: state == .completed ? 0 : nil, timeLimitMinutes: job.time?.limit?.value,
                                  recordedElapsed: job.time?.elapsed?.value, submitted: submitted)
        }
    }

    /// The path of one job's accounting record in slurmrestd.
    public static func restPath(_ id: Int) -> String { "/slurmdb/\(SlurmREST.version)/job/\(id)" }
}
