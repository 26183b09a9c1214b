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
import NIOConcurrencyHelpers
import Slurm
import SQLKit
import Vapor

enum SlurmJobs {
    static let pollKind = "slurm-poll"
    struct PollPayload: Codable { var cluster: UUID }
    /// A job with no scheduler id yet, younger than this, is still being submitted.
    static let submitGrace: TimeInterval = 300
    /// A job seen neither in the queue nor among ended jobs for this long was lost by the cluster.
    static let lostAfter: TimeInterval = 600
    /// The name slurmdbd gives a job whose name it has not been sent yet, and how long after a job is found gone its
    /// one ended record may still show it before it is not believed.
    static let accountingPlaceholder = "allocation"
    static let accountingSettles: TimeInterval = 60
    /// A job gone from the queue whose accounting record could not be read (slurmdbd or slurmrestd failing, for it or
    /// for all) is judged without it after this long: it is not left running, unpaid, for ever.
    static let unreadableAfter: TimeInterval = 3600

    /// The scheduler's name for a job: found by it again after a crash between sbatch and recording its id.
    static func schedulerName(_ jobID: UUID) -> String { "campuscloud-\(jobID.uuidString.lowercased())" }

    static func jobID(fromSchedulerName name: String) -> UUID? {
        name.hasPrefix("campuscloud-") ? UUID(uuidString: String(name.dropFirst("campuscloud-".count))) : nil
    }

    static func folder(_ jobID: UUID, in cluster: SlurmCluster) -> URL {
        URL(fileURLWithPath: cluster.stagingFolder).appendingPathComponent(schedulerName(jobID))
    }

    /// What a job asked the scheduler for.
    static func requested(_ job: ResearchJob) -> SlurmResources { SlurmResources(cpus: job.cores, memoryMB: job.memoryMB, gpus: job.gpus) }

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

    /// Stages the stored job's folder (its script carrying `sandbox`) and queues it with sbatch; the scheduler's id. On any failure nothing is left
    /// on the cluster: a job sbatch may have queued before failing is cancelled by name, the folder removed.
    static func send(_ job: ResearchJob, files: [String: Data], cluster: SlurmCluster, access: SlurmClusters.Access,
                     sandbox: SlurmSandbox?, app: Application) async throws -> Int {
        let jobID = try job.requireID()
        let folder = folder(jobID, in: cluster)
        let owner = access.runAs
        var sandbox = sandbox
        sandbox?.network = job.network
        let script = try await SlurmCommand.onItsOwnThread { [sandbox] in
            try SlurmStaging.prepare(folder, command: job.command, files: files, owner: owner, sandbox: sandbox)
        }
        let submission = SlurmSubmission(name: schedulerName(jobID), folder: folder, partition: cluster.partition, account: cluster.account,
                                         resources: requested(job),
                                         timeLimitMinutes: job.wallSeconds / 60,
                                         // The scheduler drops the job if it cannot end before its hold does.
                                         deadlineSeconds: job.wallSeconds + Int(ResearchJobs.slurmHoldQueueAllowance) - 3600)
        do {
            return try await SlurmControl.submit(submission, script: script, access: access, app: app)
        } catch {
            try? await SlurmControl.cancel(named: submission.name, access: access, app: app)
            await remove(folder, owner: owner)
            throw error
        }
    }

    /// Asks the scheduler to stop the job; the poller settles what ran once the scheduler records its end.
    static func cancel(_ job: ResearchJob, app: Application) async {
        guard let slurmID = job.slurmJobID, let clusterID = job.slurmClusterID,
              let cluster = try? await SlurmCluster.find(clusterID, on: app.db), let access = try? SlurmClusters.access(cluster) else { return }
        do {
            try await SlurmControl.cancel([slurmID], access: access, app: app)
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
    /// logged and the next look tries again; a job that cannot be finished is logged and the others go on. False when
    /// the cluster has no live job left (the poller stops).
    static func poll(cluster clusterID: UUID, app: Application) async throws -> Bool {
        guard let cluster = try await SlurmCluster.find(clusterID, on: app.db) else { return false }
        let live = try await ResearchJob.query(on: app.db).filter(\.$slurmClusterID == clusterID).filter(\.$status ~~ [.queued, .running]).all()
        let access: SlurmClusters.Access
        do { access = try SlurmClusters.access(cluster) } catch {
            app.logger.error("Slurm cluster \(cluster.name): \(String(describing: error))")
            return true
        }
        // The queue first, then the ended jobs: a job that ends in between is then among the ended. Nothing is
        // decided without the queue: the completion log alone is not believed (a line in it can be imitated).
        let queue: [SlurmQueuedJob]
        do {
            queue = try await SlurmControl.queue(access: access, app: app)
        } catch {
            app.logger.warning("Slurm cluster \(cluster.name): squeue: \(String(describing: error)); trying again in \(cluster.pollSeconds) s")
            return true
        }
        let now = app.clock.now()
        // With no job of its own left, the poller goes on only while the account has jobs the platform did not submit.
        guard !live.isEmpty else { return await cancelStrays(queue, live: live, access: access, cluster: cluster, now: now, app: app) }
        // Jobs still being submitted (no scheduler id yet, within the grace) are the submitter's.
        let followed = live.filter { $0.slurmJobID != nil || now.timeIntervalSince($0.createdAt) >= submitGrace }
        // The records of ended jobs; nil when they could not be had this look (slurmdbd did not answer): the queue is
        // still followed, but nothing ends and nothing is taken for lost.
        let ended: [Int: [SlurmJobRecord]]?
        var unknown = Set<Int>()
        if cluster.keepsAccounting {
            // Only jobs the queue no longer shows unended are asked after.
            let unended = Set(queue.filter { !$0.state.hasEnded }.map(\.jobID))
            let asked = followed.compactMap(\.slurmJobID).filter { !unended.contains($0) }
            do {
                let answer = try await SlurmControl.accounting(asked, access: access, app: app)
                (ended, unknown) = (Dictionary(grouping: answer.records, by: \.jobID), answer.unknown)
            } catch {
                app.logger.warning("Slurm cluster \(cluster.name): accounting: \(String(describing: error)); trying again in \(cluster.pollSeconds) s")
                ended = nil
            }
        } else {
            let from = followed.map(\.slurmLogOffset).min() ?? 0
            let log = try await SlurmCommand.onItsOwnThread { SlurmJobs.readLog(cluster.completionLog, from: from) }
            ended = Dictionary(grouping: SlurmJobCompletionLog.records(in: log, timeZone: cluster.zone), by: \.jobID)
        }
        for job in followed {
            do {
                try await follow(job, queue: queue, ended: unknown.contains(job.slurmJobID ?? -1) ? nil : ended, cluster: cluster, access: access,
                                 now: now, app: app)
            } catch {
                app.logger.error("Slurm job \(job.id?.uuidString ?? "?") on \(cluster.name): \(String(describing: error)); trying again next time")
            }
        }
        _ = await cancelStrays(queue, live: live, access: access, cluster: cluster, now: now, app: app)
        return true
    }

    /// The completion log from byte `offset` on (from the start when the file is shorter: it was rotated).
    static func readLog(_ path: String, from offset: Int64) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: offset >= 0 && UInt64(offset) <= size ? UInt64(offset) : 0)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    /// `ended`: the records of ended jobs, nil when this job's could not be had this look.
    private static func follow(_ job: ResearchJob, queue: [SlurmQueuedJob], ended: [Int: [SlurmJobRecord]]?, cluster: SlurmCluster,
                               access: SlurmClusters.Access, now: Date, app: Application) async throws {
        let jobID = try job.requireID(), name = schedulerName(jobID)
        guard let slurmID = job.slurmJobID else {
            // Past the grace without an id: the submitter died after sbatch, or sbatch never queued it. Only a job of
            // the service account's with its name is adopted.
            if let seen = queue.first(where: { $0.name == name }) {
                try await ResearchJob.query(on: app.db).filter(\.$id == jobID).filter(\.$slurmJobID == nil).set(\.$slurmJobID, to: seen.jobID).update()
            } else {
                try await end(job, status: .failed, problem: "It never reached the scheduler; nothing was charged.", usage: nil, started: nil, slurmID: nil,
                              log: nil, outputs: [:], app: app)
                await remove(folder(jobID, in: cluster), owner: access.runAs)
            }
            return
        }
        if let seen = queue.first(where: { $0.jobID == slurmID }), !seen.state.hasEnded {
            let ran: [SlurmJobState] = [.running, .completing, .suspended]
            forget(jobID)
            job.slurmSeenAt = now
            job.schedulerReason = seen.state == .pending ? seen.reason : nil
            if ran.contains(seen.state), job.status == .queued {
                job.status = .running
                job.startedAt = seen.start ?? now
            }
            // Put back in the queue after it started — which the platform never asks for (it submits with
            // --no-requeue) — counted by the scheduler, or seen waiting (or held) again after it ran: the job did it to
            // itself, to run again on one hold. It is cancelled at this look and every later one until it ends, and
            // charged by what the platform saw (its records then show more than one run).
            let requeued = seen.restarts > 0 || (job.status == .running && !ran.contains(seen.state))
            if requeued, !job.cancelRequested {
                app.logger.warning("Slurm job \(slurmID) on \(cluster.name) was requeued after it started; cancelling it")
                job.cancelRequested = true
            }
            try await ResearchJob.query(on: app.db).filter(\.$id == jobID).filter(\.$status ~~ [.queued, .running])
                .set(\.$slurmSeenAt, to: now).set(\.$schedulerReason, to: job.schedulerReason)
                .set(\.$status, to: job.status).set(\.$startedAt, to: job.startedAt).set(\.$cancelRequested, to: job.cancelRequested).update()
            if job.cancelRequested { await cancel(job, app: app) }
            return
        }
        guard let ended else {
            // Its records could not be read this look. After a bound, judged without them: charged the most it can
            // have run by what the platform saw, until the first look that found it gone (it ran no later).
            // (Counted from the job's row: a poller that restarts, or moves to another process, carries the hour on.)
            var unreadSince = job.slurmUnreadSince ?? now
            if job.slurmUnreadSince.map({ $0 < (job.slurmSeenAt ?? .distantPast) }) ?? true {
                unreadSince = now
                try await ResearchJob.query(on: app.db).filter(\.$id == jobID).filter(\.$status ~~ [.queued, .running])
                    .set(\.$slurmUnreadSince, to: now).update()
            }
            if now.timeIntervalSince(unreadSince) > unreadableAfter {
                let goneSince = gone.withLockedValue { $0[jobID] }.flatMap { $0 >= (job.slurmSeenAt ?? .distantPast) ? $0 : nil }
                let foundGone = min(unreadSince, goneSince ?? unreadSince)
                try await finishUnread(job, until: foundGone, waited: now.timeIntervalSince(unreadSince), cluster: cluster, access: access, app: app)
            }
            return
        }
        _ = note(jobID, in: gone, seenUnendedAt: job.slurmSeenAt, now: now, keep: 2 * lostAfter)
        // A record of a job submitted well before this one is another job's: Slurm's ids start again at 1
        // when the controller loses its state, and slurmdbd keeps the old jobs under the same ids.
        // (No upper bound: a run the job requeued itself into is submitted anew, later, and must count.)
        let window = job.createdAt.addingTimeInterval(-300)...
        // A time the cluster's clock named twice (the hour a change back from summer time repeats) is read against
        // what the platform saw: when squeue said it started, the last look at it unended, and this one.
        let records = (ended[slurmID] ?? []).filter { record in record.submitted.map { window.contains($0) } ?? true }
            .map { $0.placed(startedAt: job.startedAt, lastSeenUnended: job.slurmSeenAt, foundEndedAt: now) }
        // slurmdbd hears of a job's end a moment after the queue shows it: a run it still shows unended is waited for
        // (and taken for lost only as a job with no record would be). (The completion log writes a run that was
        // requeued as PENDING: there, an unended run is one more sign of a requeue.) Every run of a job counts: one
        // that requeued itself has several, and is charged by what the platform saw.
        let lost = now.timeIntervalSince(job.slurmSeenAt ?? job.createdAt) > lostAfter
            && now.timeIntervalSince(gone.withLockedValue { $0[jobID] } ?? now) > lostAfter
        if cluster.keepsAccounting, records.contains(where: { !$0.state.hasEnded && !$0.state.isRequeued }) {
            if lost { try await finishLost(job, cluster: cluster, access: access, app: app) }
            return
        }
        if let record = records.first {
            let foundEnded = gone.withLockedValue { $0[jobID] } ?? now
            // One ended run in the accounting: its times are slurmctld's, whatever its name says.
            let oneRun = cluster.keepsAccounting && records.count == 1 && record.state.hasEnded
            if records.count == 1, record.unambiguous, record.name == name, record.state.hasEnded {
                try await finish(job, record: record, cluster: cluster, access: access, app: app)
            } else if oneRun, record.name == accountingPlaceholder, now.timeIntervalSince(foundEnded) < accountingSettles {
                // slurmdbd may keep a job's run under "allocation" for a moment after its end (what it writes for a
                // job whose name it was not sent yet; seen on a loaded machine): looked at again. A job that names
                // itself so gains nothing by the wait: it is charged as below, until it was found gone.
                return
            } else {
                // What was read is logged (names quoted: a job chooses its own): an operator, or a test, can tell a
                // job that tampered with its record from an accounting that answered oddly.
                let read = records.map { "[\(String(reflecting: $0.name)) \($0.state) submitted \($0.submitted.map { "\($0.timeIntervalSince1970)" } ?? "-")"
                                       + "\($0.unambiguous ? "" : " ambiguous")]" }.joined(separator: " ")
                app.logger.warning("Slurm cluster \(cluster.name): job \(slurmID) (\(name)) ended with a record not believed: \(records.count) record(s) \(read)")
                // Charged until this look; for one ended run in the accounting, which was waited on, until it ended
                // or was found gone (the later), not for the wait. Any further run would be a second record.
                let until = oneRun ? min(now, max(foundEnded, record.end ?? now)) : now
                try await finishAltered(job, record: record, until: until, cluster: cluster, access: access, app: app)
            }
        } else if lost {
            try await finishLost(job, cluster: cluster, access: access, app: app)
        }
    }

    /// When a look, with the records at hand, first found each job gone from the queue without a record (this
    /// process's looks): a job is taken for lost only after that long too, so a while in which the records could not
    /// be read (slurmdbd down, then catching up) does not count. A poller that moves to another process starts over,
    /// which only waits longer; a time noted before the job was last seen unended (by any process) is noted anew.
    private static let gone = NIOLockedValueBox<[UUID: Date]>([:])

    /// When the job was first noted in `times` (now, if not yet). A time noted before a later look (this process's or
    /// another's) saw the job unended is stale: noted anew. Jobs another process ended are never looked at here
    /// again: their times go once they are older than `keep`.
    private static func note(_ jobID: UUID, in times: NIOLockedValueBox<[UUID: Date]>, seenUnendedAt: Date?, now: Date, keep: TimeInterval) -> Date {
        times.withLockedValue { noted in
            if noted[jobID].map({ $0 < (seenUnendedAt ?? .distantPast) }) ?? true { noted[jobID] = now }
            if noted.count > 1_000 { noted = noted.filter { $0.key == jobID || now.timeIntervalSince($0.value) < keep } }
            return noted[jobID] ?? now
        }
    }

    /// Forgets what was noted of the job (it was seen unended again, or it ended). (Its `slurmUnreadSince` is stale
    /// once it is seen unended, and never read once it has ended.)
    private static func forget(_ jobID: UUID) {
        gone.withLockedValue { _ = $0.removeValue(forKey: jobID) }
    }

    /// Jobs of the service account's the platform did not submit (a job's own sbatch: compute no one would pay for)
    /// are cancelled. Only where the account is the cluster's own (the platform is root and submits as it). Whether
    /// the account had any such job still running (the poller keeps looking until it has none).
    private static func cancelStrays(_ queue: [SlurmQueuedJob], live: [ResearchJob], access: SlurmClusters.Access, cluster: SlurmCluster,
                                     now: Date, app: Application) async -> Bool {
        guard let account = access.runAs else { return false }
        // Candidates: the account's unended jobs the platform had not heard of when this look began, queued a while.
        let known = Set(live.compactMap(\.slurmJobID)), names = Set(live.compactMap { $0.id.map(schedulerName) })
        let candidates = queue.filter { !$0.state.hasEnded && !known.contains($0.jobID) && !names.contains($0.name) }
        guard !candidates.isEmpty else { return false }
        // Queued a few seconds at least (a job a process of another platform version is recording right now).
        let settled = candidates.filter { now.timeIntervalSince($0.submitted ?? now) > 10 }
        guard !settled.isEmpty else { return true }
        // Asked again now, across every cluster (one Slurm may serve several of them), so a job submitted meanwhile —
        // by this process or another — is not taken for a stray.
        // Only a job still queued or running claims its id: an ended job put back in the queue (another job of the
        // account's can requeue one that ended, while the scheduler still keeps it) would run on a settled hold.
        guard let rows = try? await ResearchJob.query(on: app.db).filter(\.$slurmClusterID != nil).filter(\.$status ~~ [.queued, .running])
            .group(.or, { $0.filter(\.$slurmJobID ~~ settled.map(\.jobID)).filter(\.$id ~~ settled.compactMap { Self.jobID(fromSchedulerName: $0.name) }) })
            .all() else { return true }
        let claimed = Set(rows.compactMap(\.slurmJobID)), claimedNames = Set(rows.compactMap { $0.id.map(schedulerName) })
        let strays = settled.filter { !claimed.contains($0.jobID) && !claimedNames.contains($0.name) }
        guard !strays.isEmpty else { return true }
        app.logger.warning("Slurm cluster \(cluster.name): cancelling \(strays.count) job(s) of \(account.name) the platform did not submit: \(strays.map(\.jobID))")
        try? await SlurmControl.cancel(strays.map(\.jobID), access: access, app: app)
        return true
    }

    /// A job the scheduler recorded as ended: its outputs and logs, its status, and its charge, in one transaction
    /// that only the first to end the job gets to commit. Billed: what was allocated (never more than was asked
    /// for, which the hold covered) × the elapsed time, never past the limit.
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
        let asked = requested(job)
        // Never past the limit the platform asked for (the job may lower the one in its record while it runs).
        let seconds = record.billedSeconds(limit: Int64(job.wallSeconds))
        var usage = SlurmUsage(coreSeconds: 0, memoryMBSeconds: 0, gpuSeconds: 0)
        if let allocated = record.allocated {
            let billed = SlurmResources(cpus: min(allocated.cpus, asked.cpus), memoryMB: min(allocated.memoryMB, asked.memoryMB),
                                        gpus: min(allocated.gpus, asked.gpus))
            usage = SlurmUsage(billed, seconds: seconds)
        } else if let started = job.startedAt, let end = record.end {
            // Seen running, yet recorded as never having run: billed what it asked for from when it was seen.
            usage = SlurmUsage(asked, seconds: min(Int64(max(0, end.timeIntervalSince(started))), Int64(job.wallSeconds)))
        }
        let collected = try await collect(job, cluster: cluster, access: access)
        if let skipped = collected.skipped { problem = (problem.map { $0 + " " } ?? "") + skipped }
        try await end(job, status: status, problem: problem, usage: usage, started: record.start, slurmID: record.jobID,
                      log: collected.log, outputs: collected.outputs, app: app)
        await remove(folder(try job.requireID(), in: cluster), owner: access.runAs)
    }

    /// What the job left in its folder: its outputs and its log (read as `SlurmStaging.collect` reads them: no link
    /// followed, only the account's files, within the input limits), and what was left out, said in a sentence.
    private static func collect(_ job: ResearchJob, cluster: SlurmCluster, access: SlurmClusters.Access) async throws
        -> (outputs: [String: Data], log: String, skipped: String?) {
        let folder = folder(try job.requireID(), in: cluster)
        let limits = ResearchJobs.inputLimits, owner = access.owner
        let collected = try await SlurmCommand.onItsOwnThread {
            SlurmStaging.collect(folder, owner: owner, maxFiles: Int(limits.maxFiles), maxFileBytes: Int(limits.maxFileBytes),
                                 maxTotalBytes: Int(limits.maxTotalBytes), logBytes: ResearchJobs.logCharacters)
        }
        var log = "$ \(job.command)\n"
        if !collected.stdout.isEmpty { log += "--- standard output ---\n" + collected.stdout + "\n" }
        if !collected.stderr.isEmpty { log += "--- standard error ---\n" + collected.stderr + "\n" }
        let skipped = collected.skipped.isEmpty ? nil : "Left out of the outputs: " + collected.skipped.prefix(5).joined(separator: "; ") + "."
        return (collected.outputs, log, skipped)
    }

    /// A job whose completion record was altered while it ran (renamed to imitate other fields, or recorded twice):
    /// nothing in it is believed. Failed, and charged the most it can have run by what the platform itself saw
    /// (`mostItCanHaveRun`), `until` the look that found it ended. (Another job of the service account could rename
    /// it, so the charge is at most one poll past what ran, not a penalty.)
    static func finishAltered(_ job: ResearchJob, record: SlurmJobRecord, until: Date, cluster: SlurmCluster, access: SlurmClusters.Access,
                              app: Application) async throws {
        let usage = mostItCanHaveRun(job, until: until)
        try await end(job, status: .failed, problem: "Its record at the scheduler was altered while it ran (the job renamed or requeued itself), so it was charged "
                      + "the most it can have run by what the platform saw: \(job.cores) core(s) and \(job.memoryMB) MB for \(usage.coreSeconds / Int64(max(1, job.cores))) s.",
                      usage: usage, started: job.startedAt, slurmID: job.slurmJobID, log: nil, outputs: [:], app: app)
        await remove(folder(try job.requireID(), in: cluster), owner: access.runAs)
    }

    /// What the job asked for, from when the queue first showed it running — or, if no look caught it running, from
    /// the last look that showed it waiting (its submission, if none did) — `until`; never past its limit.
    static func mostItCanHaveRun(_ job: ResearchJob, until: Date) -> SlurmUsage {
        let from = job.startedAt ?? job.slurmSeenAt ?? job.createdAt
        let seen = Int64(max(0, until.timeIntervalSince(from)).rounded(.up))
        return SlurmUsage(requested(job), seconds: min(seen, Int64(job.wallSeconds)))
    }

    /// A job gone from the queue whose accounting could not be read for `unreadableAfter` (`waited`): failed, charged
    /// the most it can have run by what the platform saw, until the first look that found it gone (`until`), with
    /// what it wrote to its folder. Its record, should it come later, changes nothing: the job ends once.
    static func finishUnread(_ job: ResearchJob, until: Date, waited: TimeInterval, cluster: SlurmCluster, access: SlurmClusters.Access,
                             app: Application) async throws {
        let usage = mostItCanHaveRun(job, until: until)
        let collected = try await collect(job, cluster: cluster, access: access)
        app.logger.warning("Slurm cluster \(cluster.name): job \(job.slurmJobID ?? -1) ended without an accounting record readable for \(Int(waited / 60)) min; judged without it")
        try await end(job, status: .failed, problem: "Its end could not be read from the cluster's accounting for \(Int(waited / 60)) min after it left the queue, "
                      + "so it was charged the most it can have run by what the platform saw: \(job.cores) core(s) and \(job.memoryMB) MB for "
                      + "\(usage.coreSeconds / Int64(max(1, job.cores))) s. What it wrote is kept." + (collected.skipped.map { " " + $0 } ?? ""),
                      usage: usage, started: job.startedAt, slurmID: job.slurmJobID, log: collected.log, outputs: collected.outputs, app: app)
        await remove(folder(try job.requireID(), in: cluster), owner: access.runAs)
    }

    /// A job the cluster lost (in neither its queue nor its completion log for `lostAfter`): failed, charged for the
    /// resources it asked for over the time it was seen running, with what it had written to its folder.
    static func finishLost(_ job: ResearchJob, cluster: SlurmCluster, access: SlurmClusters.Access, app: Application) async throws {
        let seconds = job.startedAt.map { start in Int64(max(0, (job.slurmSeenAt ?? start).timeIntervalSince(start))) } ?? 0
        let usage = SlurmUsage(requested(job), seconds: min(seconds, Int64(job.wallSeconds)))
        // Whatever it wrote before it was lost comes back, as for any ended job.
        let collected = try await collect(job, cluster: cluster, access: access)
        try await end(job, status: .failed, problem: "The cluster lost the job: it left the scheduler's queue without an end on record. "
                      + (seconds > 0 ? "The \(seconds) s it was seen running were charged." : "Nothing was charged.") + (collected.skipped.map { " " + $0 } ?? ""),
                      usage: usage, started: job.startedAt, slurmID: job.slurmJobID, log: collected.log, outputs: collected.outputs, app: app)
        await remove(folder(try job.requireID(), in: cluster), owner: access.runAs)
    }

    static func remove(_ folder: URL, owner: SlurmServiceAccount?) async {
        _ = try? await SlurmCommand.onItsOwnThread { SlurmStaging.remove(folder, owner: owner) }
    }

    /// Ends the job once: only a job still queued or running moves (the update says whether it did), and only then
    /// is its hold settled (or voided: `usage` nil) and its result written, all in one transaction.
    private static func end(_ job: ResearchJob, status: ResearchJobStatus, problem: String?, usage: SlurmUsage?, started: Date?, slurmID: Int?,
                            log: String?, outputs: [String: Data], app: Application) async throws {
        let jobID = try job.requireID(), holdID = job.holdID, now = app.clock.now(), name = job.name
        forget(jobID)
        // PostgreSQL keeps no NUL in text.
        let log = log.map { $0.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") }
        try await app.writeTransaction(on: app.db) { tx in
            let moved = try await tx.sqlDatabase().raw("""
                UPDATE research_jobs SET status = \(bind: status.rawValue), finished_at = \(bind: now), scheduler_reason = NULL
                WHERE id = \(bind: jobID) AND status IN ('queued', 'running') RETURNING id
                """).all()
            guard !moved.isEmpty else { return }
            let ledger = app.ledger(inWrite: tx)
            var charged: Int64 = 0
            if let usage {
                charged = try await SandboxCharges.settle(holdID, usage: meters(usage), what: "Slurm job “\(name)”", ledger: ledger, logger: app.logger)
            } else if let holdID {
                do { _ = try await ledger.void(holdID, memo: "the job never reached the scheduler") } catch where error is any AbortError {}
            }
            guard let current = try await ResearchJob.find(jobID, on: tx) else { return }
            current.problem = problem
            current.charged += charged
            current.slurmJobID = slurmID ?? current.slurmJobID
            current.startedAt = current.startedAt ?? started
            current.cpuMs = Int(clamping: (usage?.coreSeconds ?? 0) * 1000)
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
