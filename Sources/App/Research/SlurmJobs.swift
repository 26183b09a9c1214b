// Research jobs on a Slurm cluster (issue 24). Submitting: the job's worst case (its time limit × the cores, memory
// and GPUs asked for, at the price list) is held first; then its folder is staged on the shared filesystem and sbatch
// queues it, as the cluster's service account. Following: one poller per cluster — a durable queue entry that
// re-queues itself while the cluster has live jobs, so its lease keeps two processes from polling at once and a
// restarted platform takes it up again — reads squeue and the job completion log, shows the scheduler's state and
// reason, and ends each job exactly once: outputs and logs collected, the hold settled by allocated resources ×
// elapsed time (never past the limit), the folder removed. Cancelling is scancel; what ran is settled the same way.
import Fluent
import Foundation
import Ledger
import Slurm
import SQLKit
import Vapor

enum SlurmJobs {
    static let pollKind = "slurm-poll"
    struct PollPayload: Codable { var cluster: UUID }
    /// A job with no scheduler id yet, younger than this, is still being submitted.
    static let submitGrace: TimeInterval = 120
    /// A job seen neither in the queue nor among ended jobs for this long was lost by the cluster.
    static let lostAfter: TimeInterval = 600

    /// The scheduler's name for a job: found by it again after a crash between sbatch and recording its id.
    static func schedulerName(_ jobID: UUID) -> String { "campuscloud-\(jobID.uuidString.lowercased())" }

    static func folder(_ jobID: UUID, in cluster: SlurmCluster) -> URL {
        URL(fileURLWithPath: cluster.stagingFolder).appendingPathComponent(schedulerName(jobID))
    }

    /// The meters a Slurm job's usage is priced by.
    static func meters(_ usage: SlurmUsage) -> [Meter: Int64] {
        [.slurmCoreHour: usage.coreSeconds, .slurmMemoryGBHour: usage.memoryMBSeconds, .slurmGPUHour: usage.gpuSeconds].filter { $0.value > 0 }
    }

    /// The most a job may cost: what it asks for over its whole time limit, at today's prices (meters without a
    /// price cost nothing).
    static func estimate(_ resources: SlurmResources, minutes: Int, on db: any Database, at time: Date) async throws -> Credits {
        let prices = try await Prices.list(on: db)
        let usage = meters(.worstCase(resources, timeLimitMinutes: minutes)).filter { prices.price(of: $0.key, at: time) != nil }
        return try prices.cost(of: usage, at: time)
    }

    // MARK: Submitting

    /// Stages the stored job's folder and queues it with sbatch; the scheduler's id. On any failure nothing is left
    /// on the cluster: a job sbatch may have queued before failing is cancelled by name, the folder removed.
    static func send(_ job: ResearchJob, files: [String: Data], cluster: SlurmCluster, access: SlurmClusters.Access) async throws -> Int {
        let jobID = try job.requireID()
        let folder = folder(jobID, in: cluster)
        try SlurmStaging.prepare(folder, command: job.command, files: files, owner: access.account)
        let submission = SlurmSubmission(name: schedulerName(jobID), folder: folder, partition: cluster.partition, account: cluster.account,
                                         resources: SlurmResources(cpus: job.cores, memoryMB: job.memoryMB, gpus: job.gpus),
                                         timeLimitMinutes: job.wallSeconds / 60)
        do {
            let answer = try await SlurmCommand.run(submission.sbatchArguments, environment: access.environment, as: access.account)
            guard let id = SlurmCommand.submittedJobID(answer) else {
                throw SlurmCommandFailure(command: "sbatch", status: 0, output: "an answer without a job id: \(answer.prefix(200))")
            }
            return id
        } catch {
            _ = try? await SlurmCommand.run(["scancel", "--name", submission.name], environment: access.environment, as: access.account)
            SlurmStaging.remove(folder, owner: access.account)
            throw error
        }
    }

    /// Asks the scheduler to stop the job; the poller settles what ran once the scheduler records its end.
    static func cancel(_ job: ResearchJob, app: Application) async {
        guard let slurmID = job.slurmJobID, let clusterID = job.slurmClusterID,
              let cluster = try? await SlurmCluster.find(clusterID, on: app.db), let access = try? SlurmClusters.access(cluster) else { return }
        do {
            _ = try await SlurmCommand.run(["scancel", String(slurmID)], environment: access.environment, as: access.account)
        } catch {
            app.logger.warning("scancel \(slurmID) on \(cluster.name): \(String(describing: error)); the poller asks again")
        }
    }

    /// Makes sure the cluster's poller is queued (at most one is).
    static func startPolling(_ clusterID: UUID, app: Application, on db: any Database) async throws {
        try await JobQueue.enqueueUnlessLive(pollKind, payload: JobQueue.encode(PollPayload(cluster: clusterID)), maxAttempts: 3, at: app.clock.now(), on: db)
    }

    // MARK: Following

    /// One look at the cluster: every live job's state brought up to date, ended ones finished. Scheduler errors are
    /// logged and the next look tries again. False when the cluster has no live job left (the poller stops).
    static func poll(cluster clusterID: UUID, app: Application) async throws -> Bool {
        guard let cluster = try await SlurmCluster.find(clusterID, on: app.db) else { return false }
        let live = try await ResearchJob.query(on: app.db).filter(\.$slurmClusterID == clusterID).filter(\.$status ~~ [.queued, .running]).all()
        guard !live.isEmpty else { return false }
        let access: SlurmClusters.Access
        do { access = try SlurmClusters.access(cluster) } catch {
            app.logger.error("Slurm cluster \(cluster.name): \(String(describing: error))")
            return true
        }
        // The queue first, then the ended jobs: a job that ends in between is then among the ended.
        var queue: [SlurmQueuedJob]?
        do {
            let answer = try await SlurmCommand.run(["squeue", "--json"], environment: access.environment, as: access.account)
            queue = try SlurmQueue.jobs(json: Data(answer.utf8))
        } catch {
            app.logger.warning("Slurm cluster \(cluster.name): squeue: \(String(describing: error)); trying again in \(cluster.pollSeconds) s")
        }
        let log = (try? String(contentsOfFile: cluster.completionLog, encoding: .utf8)) ?? ""
        let ended = Dictionary(SlurmJobCompletionLog.records(in: log, timeZone: .current).map { ($0.name, $0) }, uniquingKeysWith: { _, later in later })
        let now = app.clock.now()
        for job in live {
            let jobID = try job.requireID(), name = schedulerName(jobID)
            if let record = ended[name], job.slurmJobID == nil || job.slurmJobID == record.jobID {
                try await finish(job, record: record, cluster: cluster, access: access, app: app)
                continue
            }
            guard let queue else { continue }
            if let seen = queue.first(where: { $0.name == name }) {
                if job.slurmJobID == nil { job.slurmJobID = seen.jobID }
                job.slurmSeenAt = now
                job.schedulerReason = seen.state == .pending ? seen.reason : nil
                if seen.state != .pending, job.status == .queued {
                    job.status = .running
                    job.startedAt = seen.start ?? now
                }
                try await ResearchJob.query(on: app.db).filter(\.$id == jobID).filter(\.$status ~~ [.queued, .running])
                    .set(\.$slurmJobID, to: job.slurmJobID).set(\.$slurmSeenAt, to: now).set(\.$schedulerReason, to: job.schedulerReason)
                    .set(\.$status, to: job.status).set(\.$startedAt, to: job.startedAt).update()
                if job.cancelRequested, !seen.state.hasEnded { await cancel(job, app: app) }
                continue
            }
            if job.slurmJobID == nil, now.timeIntervalSince(job.createdAt) < submitGrace { continue }
            if now.timeIntervalSince(job.slurmSeenAt ?? job.createdAt) > lostAfter {
                try await finishLost(job, cluster: cluster, access: access, app: app)
            }
        }
        return true
    }

    /// A job the scheduler recorded as ended: its outputs and logs, its status, and its charge, in one transaction
    /// that only the first to end the job gets to commit.
    static func finish(_ job: ResearchJob, record: SlurmJobRecord, cluster: SlurmCluster, access: SlurmClusters.Access, app: Application) async throws {
        let status: ResearchJobStatus
        var problem: String?
        switch record.state {
        case .completed where record.exitCode == 0: status = .succeeded
        case .completed: status = .failed; problem = "The command exited with code \(record.exitCode ?? -1)."
        case .cancelled:
            status = .cancelled
            problem = record.allocated == nil ? "Cancelled before it started; nothing was charged." : "Cancelled while running; what it used until then was charged."
        case .timeout: status = .timeout; problem = "It ran to its time limit (\(job.wallSeconds / 60) min) and was stopped by the scheduler."
        case .outOfMemory: status = .failed; problem = "It ran out of its \(job.memoryMB) MB of memory."
        case .nodeFail, .bootFail: status = .failed; problem = "The cluster's node failed (\(record.state)); what it used until then was charged."
        case .preempted: status = .failed; problem = "The scheduler preempted it; what it used until then was charged."
        default: status = .failed; problem = "The scheduler ended it as \(record.state)" + (record.exitCode.map { ", exit code \($0)" } ?? "") + "."
        }
        let folder = folder(try job.requireID(), in: cluster)
        let limits = ResearchJobs.inputLimits
        let collected = SlurmStaging.collect(folder, owner: access.account, maxFiles: Int(limits.maxFiles), maxFileBytes: Int(limits.maxFileBytes),
                                             maxTotalBytes: Int(limits.maxTotalBytes), logBytes: ResearchJobs.logCharacters)
        if !collected.skipped.isEmpty {
            problem = (problem.map { $0 + " " } ?? "") + "Left out of the outputs: " + collected.skipped.prefix(5).joined(separator: "; ") + "."
        }
        var log = "$ \(job.command)\n"
        if !collected.stdout.isEmpty { log += "--- standard output ---\n" + collected.stdout + "\n" }
        if !collected.stderr.isEmpty { log += "--- standard error ---\n" + collected.stderr + "\n" }
        try await end(job, status: status, problem: problem, usage: record.usage, started: record.start, slurmID: record.jobID,
                      log: log, outputs: collected.outputs, app: app)
        SlurmStaging.remove(folder, owner: access.account)
    }

    /// A job the cluster lost (in neither its queue nor its completion log for `lostAfter`): failed, charged for the
    /// resources it asked for over the time it was seen running.
    static func finishLost(_ job: ResearchJob, cluster: SlurmCluster, access: SlurmClusters.Access, app: Application) async throws {
        let seconds = job.startedAt.map { start in Int64(max(0, (job.slurmSeenAt ?? start).timeIntervalSince(start))) } ?? 0
        let usage = SlurmUsage(SlurmResources(cpus: job.cores, memoryMB: job.memoryMB, gpus: job.gpus), seconds: min(seconds, Int64(job.wallSeconds)))
        try await end(job, status: .failed, problem: "The cluster lost the job: it left the scheduler's queue without an end on record. "
                      + (seconds > 0 ? "The \(seconds) s it was seen running were charged." : "Nothing was charged."),
                      usage: usage, started: job.startedAt, slurmID: job.slurmJobID, log: nil, outputs: [:], app: app)
        SlurmStaging.remove(folder(try job.requireID(), in: cluster), owner: access.account)
    }

    /// Ends the job once: only a job still queued or running moves (the update says whether it did), and only then
    /// is its hold settled and its result written, all in one transaction.
    private static func end(_ job: ResearchJob, status: ResearchJobStatus, problem: String?, usage: SlurmUsage, started: Date?, slurmID: Int?,
                            log: String?, outputs: [String: Data], app: Application) async throws {
        let jobID = try job.requireID(), holdID = job.holdID, now = app.clock.now(), name = job.name
        let meters = meters(usage)
        try await app.writeTransaction(on: app.db) { tx in
            let moved = try await tx.sqlDatabase().raw("""
                UPDATE research_jobs SET status = \(bind: status.rawValue), finished_at = \(bind: now), scheduler_reason = NULL
                WHERE id = \(bind: jobID) AND status IN ('queued', 'running') RETURNING id
                """).all()
            guard !moved.isEmpty else { return }
            let ledger = app.ledger(inWrite: tx)
            let charged = try await SandboxCharges.settle(holdID, usage: meters, what: "Slurm job “\(name)”", ledger: ledger, logger: app.logger)
            guard let current = try await ResearchJob.find(jobID, on: tx) else { return }
            current.problem = problem
            current.charged += charged
            current.slurmJobID = slurmID ?? current.slurmJobID
            current.startedAt = current.startedAt ?? started
            current.cpuMs = Int(clamping: usage.coreSeconds * 1000)
            if let started = current.startedAt { current.wallMs = max(0, Int(now.timeIntervalSince(started) * 1000)) }
            current.log = log
            for (path, data) in outputs.sorted(by: { $0.key < $1.key }) {
                try await ResearchJobFile(jobID: jobID, role: .output, path: path, contents: data).create(on: tx)
            }
            try await current.save(on: tx)
        }
    }

    /// Clusters with live jobs whose poller is gone get one again (the periodic sweep).
    static func sweep(_ app: Application) async throws {
        let clusters = try await ResearchJob.query(on: app.db).filter(\.$slurmClusterID != nil).filter(\.$status ~~ [.queued, .running])
            .field(\.$slurmClusterID).all().compactMap(\.slurmClusterID)
        for cluster in Set(clusters) { try await startPolling(cluster, app: app, on: app.db) }
    }
}

/// The poller of one cluster's jobs: one look, then the next one queued `pollSeconds` later while jobs are live.
struct SlurmPollHandler: JobHandler {
    var kind: String { SlurmJobs.pollKind }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        let app = worker.app
        let payload = try JobQueue.decode(SlurmJobs.PollPayload.self, claimed.job.payload)
        let more = try await SlurmJobs.poll(cluster: payload.cluster, app: app)
        let delay = TimeInterval(try await SlurmCluster.find(payload.cluster, on: app.db)?.pollSeconds ?? 5)
        try await worker.complete(claimed.job, result: more ? "polled" : "no live jobs") { tx in
            guard more else { return }
            let now = app.clock.now()
            try await JobQueue.enqueue(SlurmJobs.pollKind, payload: claimed.job.payload, maxAttempts: 3, runAfter: now.addingTimeInterval(delay), at: now, on: tx)
        }
        return nil
    }

    /// The sweep queues a new poller while jobs are live.
    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {}

    func sweep(_ app: Application) async throws { try await SlurmJobs.sweep(app) }
}
