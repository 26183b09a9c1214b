// Research batch jobs: a project member submits a command with input files (or a zip), limits and optionally
// network; it runs in the sandbox through the durable job queue on any worker. Its most possible cost is reserved
// before it is queued — from the member's allowance in the project, or the project's allocation (PI and
// managers) — and what it used is settled after. Cancelling a queued job frees the whole reserve at once;
// cancelling a running one stops it within a second and settles only what it used. A job that fails for any
// reason never leaves credits held.
import Fluent
import Foundation
import Grading
import Ledger
import Sandbox
import Slurm
import Vapor

/// What a member sends to start a job (form fields or multipart text parts).
struct ResearchJobInput: Sendable {
    var name: String?
    var command: String?
    var wallSeconds: String?
    var memoryMB: String?
    var network: String?
    var payFrom: String?
    /// Cores and GPUs (jobs on a Slurm cluster; the platform's workers give one core, no GPU).
    var cores: String? = nil
    var gpus: String? = nil
}

struct ResearchJobDTO: Content {
    var id: UUID
    var projectID: UUID
    var name: String
    var command: String
    var submittedBy: String
    var status: String
    var network: Bool
    var wallSeconds: Int
    var memoryMB: Int
    var cores: Int
    var gpus: Int
    /// Where it runs: "platform", or the Slurm cluster's name.
    var runsOn: String
    /// The scheduler's id for it and, while it waits, its reason (a Slurm job).
    var slurmJobID: Int?
    var schedulerReason: String?
    var payFrom: String
    var cancelRequested: Bool
    var sandboxStatus: String?
    var exitCode: Int?
    var problem: String?
    var cpuMs: Int
    var wallMs: Int
    /// Credits spent; `held` while it waits or runs.
    var charged: Credits
    var inputs: [String]
    var outputs: [FileEntry]
    var createdAt: Date
    var startedAt: Date?
    var finishedAt: Date?
    struct FileEntry: Content { var path: String; var size: Int }
}

extension ResearchJobDTO: APIBody {
    static let schemaName = "ResearchJob"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "projectID": .string(format: "uuid"), "name": .string(), "command": .string(), "submittedBy": .string(),
        "status": .choice(ResearchJobStatus.self), "network": .boolean, "wallSeconds": .integer(), "memoryMB": .integer(), "cores": .integer(), "gpus": .integer(), "runsOn": .string(),
        "slurmJobID": .integer(), "schedulerReason": .string(), "payFrom": .choice(ResearchJobPayer.self),
        "cancelRequested": .boolean, "sandboxStatus": .string(), "exitCode": .integer(), "problem": .string(), "cpuMs": .integer(), "wallMs": .integer(),
        "charged": .credits, "inputs": .array(.string()), "outputs": .array(.object(["path": .string(), "size": .integer()], required: ["path", "size"])),
        "createdAt": .string(format: "date-time"), "startedAt": .string(format: "date-time"), "finishedAt": .string(format: "date-time"),
    ], required: ["id", "projectID", "name", "command", "submittedBy", "status", "network", "wallSeconds", "memoryMB", "cores", "gpus", "runsOn", "payFrom", "cancelRequested",
                  "cpuMs", "wallMs", "charged", "inputs", "outputs", "createdAt"])
    static let samples = [ResearchJobDTO(
        id: Sample.id, projectID: Sample.id, name: "fold", command: "python3 fold.py", submittedBy: "Ada", status: "succeeded", network: false, wallSeconds: 600,
        memoryMB: 1024, cores: 1, gpus: 0, runsOn: "platform", slurmJobID: nil, schedulerReason: nil, payFrom: "allowance", cancelRequested: false,
        sandboxStatus: "exited", exitCode: 0, problem: "none", cpuMs: 1_200, wallMs: 1_500,
        charged: Credits(micro: 2_500), inputs: ["fold.py"], outputs: [FileEntry(path: "outputs/result.csv", size: 120)], createdAt: Sample.date,
        startedAt: Sample.date, finishedAt: Sample.date),
        // Waiting on a Slurm cluster.
        ResearchJobDTO(
        id: Sample.id, projectID: Sample.id, name: "train", command: "python3 train.py", submittedBy: "Ada", status: "queued", network: false, wallSeconds: 7_200,
        memoryMB: 16_384, cores: 8, gpus: 1, runsOn: "hpc", slurmJobID: 4_211, schedulerReason: "Resources", payFrom: "project", cancelRequested: false,
        sandboxStatus: nil, exitCode: nil, problem: nil, cpuMs: 0, wallMs: 0, charged: Credits(micro: 0), inputs: ["train.py"], outputs: [],
        createdAt: Sample.date, startedAt: nil, finishedAt: nil)]
}

enum ResearchJobs {
    static let kind = "research-job"
    static let maxWallSeconds = 3600, defaultWallSeconds = 600
    static let maxMemoryMB = 8192, defaultMemoryMB = 1024
    static let maxUploadBody: ByteCount = "60mb"
    /// What a job's inputs may hold.
    static let inputLimits = ArchiveLimits(maxArchiveBytes: 50 << 20, maxFiles: 1000, maxTotalBytes: 100 << 20, maxFileBytes: 50 << 20)
    /// Each of standard output and error is kept up to this many characters in the job's log.
    static let logCharacters = 256 * 1024
    /// A job writing more than this to standard output or error is stopped (large results belong in outputs/).
    static let streamKB = 4096
    static let workPath = "/job"
    static let outputFolder = "outputs"
    /// Credits stay held this long past the job's time limit while it waits in the queue (a cluster's queue may be
    /// days long).
    static let holdQueueAllowance: TimeInterval = 24 * 3600, slurmHoldQueueAllowance: TimeInterval = 14 * 24 * 3600

    struct Payload: Codable { var job: UUID }

    static func limits(wallSeconds: Int, memoryMB: Int) -> SandboxLimits {
        SandboxLimits(wallSeconds: Double(wallSeconds), cpuSeconds: wallSeconds, memoryMB: memoryMB, pids: 256, outputKB: streamKB,
                      fileSizeMB: 1024, diskMB: 2048, openFiles: 1024)
    }

    /// Input files from uploads: one .zip is unpacked (checked whole), other files are taken by name; none is fine.
    static func files(from uploads: [(name: String, data: Data)]) throws -> [String: Data] {
        try Uploads.files(from: uploads, limits: inputLimits, optional: true)
    }

    // MARK: Submitting

    /// Checks everything, reserves the most the job may cost, then writes the job, its inputs and its queue entry
    /// in one transaction (the reserve is voided if that fails). A project whose jobs go to a Slurm cluster: the job
    /// is then staged and queued there with sbatch; if the cluster does not take it, nothing of it is kept.
    static func submit(_ input: ResearchJobInput, files: [String: Data], to project: ResearchProject, by user: User, access: ProjectAccess,
                       app: Application, db: any Database) async throws -> ResearchJob {
        try Policy.require(user, can: .runProjectJob(access))
        let cluster: SlurmCluster?
        if let clusterID = project.slurmClusterID { cluster = try await SlurmCluster.find(clusterID, on: db) } else { cluster = nil }
        var checks = InputChecks()
        let command = checks.text(input.command, "command", max: 10_000)
        let name = checks.text(input.name, "name", max: 120, required: false).flatMap { $0.isEmpty ? nil : $0 }
            ?? String((command ?? "job").prefix(60))
        // What any job may ask for (422 beyond it); what this project's jobs may have is checked below (409).
        var wall = number(input.wallSeconds, "wallSeconds", default: defaultWallSeconds, in: 1...(SlurmClusters.minutesCap * 60), &checks)
        let memory = number(input.memoryMB, "memoryMB", default: defaultMemoryMB, in: 64...SlurmClusters.memoryCap, &checks)
        let cores = number(input.cores, "cores", default: 1, in: 1...SlurmClusters.coresCap, &checks)
        let gpus = number(input.gpus, "gpus", default: 0, in: 0...SlurmClusters.gpusCap, &checks)
        let network = ["true", "on", "1", "yes"].contains(input.network?.lowercased() ?? "")
        let payer = input.payFrom.map { checks.choice($0, "payFrom", as: ResearchJobPayer.self) } ?? .allowance
        try checks.finish()
        var over: [String] = []
        // In the platform's sandbox on the node a job has the network only when it asks (and its project allows);
        // without the sandbox it has the cluster's own network rules, which the platform cannot widen or narrow.
        if let cluster, network, cluster.sandboxMode == .off { over.append("the cluster's own network rules (leave network off: its jobs run without the platform's sandbox)") }
        let limits = cluster.map { (wall: $0.maxMinutes * 60, memory: $0.maxMemoryMB, cores: $0.maxCores, gpus: $0.maxGPUs) }
            ?? (wall: maxWallSeconds, memory: maxMemoryMB, cores: 1, gpus: 0)
        if wall! > limits.wall { over.append("a time limit of at most \(limits.wall) s") }
        if memory! > limits.memory { over.append("at most \(limits.memory) MB of memory") }
        if cores! > limits.cores { over.append("at most \(limits.cores) core\(limits.cores == 1 ? "" : "s")") }
        if gpus! > limits.gpus { over.append(limits.gpus == 0 ? "no GPU" : "at most \(limits.gpus) GPUs") }
        if !over.isEmpty {
            throw InputRejection.conflict("This project's jobs run on \(cluster.map { "the Slurm cluster \($0.name)" } ?? "the platform's workers"), which give a job "
                                          + over.joined(separator: ", ") + ".")
        }
        guard project.status == ProjectStatus.active.rawValue else {
            throw Refusal("Jobs run for active projects; this one is \(project.status).")
        }
        if network && !project.jobNetwork { throw Abort(.forbidden, reason: try await ResearchProjects.networkRefusal(project, on: db)) }
        if payer == .project, !Policy.allows(user, .chargeAllocation(nil, access)) {
            throw Abort(.forbidden, reason: "Only the project's PI (and programme managers) may charge a job to the project's allocation; pay from your allowance.")
        }
        // Slurm counts time limits in whole minutes.
        if cluster != nil { wall = (wall! + 59) / 60 * 60 }
        let slurm = try cluster.map { try SlurmClusters.access($0) }
        let sandbox = try cluster.flatMap { try SlurmClusters.sandbox($0) }
        let jobID = UUID(), userID = try user.requireID(), projectID = try project.requireID()
        let resources = SlurmResources(cpus: cores!, memoryMB: memory!, gpus: gpus!)
        let most = cluster == nil
            ? try await SandboxCharges.estimate(seconds: wall!, on: db, at: app.clock.now())
            : try await SlurmJobs.estimate(resources, minutes: wall! / 60, on: db, at: app.clock.now())
        let hold = try await reserve(most, seconds: wall!, waiting: cluster == nil ? holdQueueAllowance : slurmHoldQueueAllowance, payer: payer!,
                                     project: project, user: user, key: "research-job:\(jobID)", app: app, db: db)
        let job = ResearchJob()
        job.id = jobID
        job.$project.id = projectID
        job.$submittedBy.id = userID
        (job.name, job.command, job.network, job.wallSeconds, job.memoryMB) = (name, command!, network, wall!, memory!)
        (job.cores, job.gpus, job.slurmClusterID) = (cores!, gpus!, cluster?.id)
        // Its record in the completion log will come after what is there now.
        job.slurmLogOffset = cluster.flatMap { (try? FileManager.default.attributesOfItem(atPath: $0.completionLog)[.size] as? NSNumber)?.int64Value } ?? 0
        (job.payFrom, job.status, job.cancelRequested, job.holdID) = (payer!, .queued, false, hold?.id)
        (job.cpuMs, job.wallMs, job.charged, job.createdAt) = (0, 0, 0, app.clock.now())
        if cluster == nil { job.slurmLogOffset = 0 }
        do {
            try await app.writeTransaction(on: db) { tx in
                try await job.create(on: tx)
                for (path, data) in files.sorted(by: { $0.key < $1.key }) {
                    try await ResearchJobFile(jobID: jobID, role: .input, path: path, contents: data).create(on: tx)
                }
                if let clusterID = cluster?.id {
                    try await SlurmJobs.startPolling(clusterID, app: app, on: tx)
                } else {
                    job.queueJobID = try await JobQueue.enqueue(kind, payload: JobQueue.encode(Payload(job: jobID)), maxAttempts: 2, at: app.clock.now(), on: tx).id
                    try await job.save(on: tx)
                }
            }
        } catch {
            if let hold { _ = try? await app.ledger(on: db).void(hold.requireID(), memo: "the job was not stored") }
            throw error
        }
        guard let cluster, let slurm else {
            app.jobBell.ring()
            return job
        }
        do {
            job.slurmJobID = try await SlurmJobs.send(job, files: files, cluster: cluster, access: slurm, sandbox: sandbox, app: app)
        } catch {
            // Not taken: nothing of the job is kept, its credits are freed. (The poller leaves a job without a
            // scheduler id to its submitter for the grace period, so nothing else has touched it.)
            try? await app.writeTransaction(on: db) { tx in
                try await ResearchJobFile.query(on: tx).filter(\.$job.$id == jobID).delete()
                try await ResearchJob.query(on: tx).filter(\.$id == jobID).filter(\.$slurmJobID == nil).filter(\.$status == .queued).delete()
            }
            if let hold { _ = try? await app.ledger(on: db).void(hold.requireID(), memo: "the cluster did not take the job") }
            if let staging = error as? SlurmStagingError { throw InputRejection("The job's files could not be laid out: \(staging.description). Nothing was charged.") }
            throw Abort(.badGateway, reason: "The cluster \(cluster.name) did not take the job: \(error). Nothing was charged.")
        }
        try await ResearchJob.query(on: db).filter(\.$id == jobID).set(\.$slurmJobID, to: job.slurmJobID).update()
        app.jobBell.ring()
        return job
    }

    private static func number(_ text: String?, _ label: String, default value: Int, in range: ClosedRange<Int>, _ checks: inout InputChecks) -> Int? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return value }
        guard let number = Int(text), range.contains(number) else {
            checks.add("\(label) is a whole number from \(range.lowerBound) to \(range.upperBound).")
            return nil
        }
        return number
    }

    /// Reserves `amount`, the most a job of `seconds` may cost, for its time limit and `waiting` in a queue; nil when
    /// it costs nothing. A refusal says what is left and who can add more.
    static func reserve(_ amount: Credits, seconds: Int, waiting: TimeInterval, payer: ResearchJobPayer, project: ResearchProject, user: User, key: String,
                        app: Application, db: any Database) async throws -> LedgerHold? {
        guard amount > .zero else { return nil }
        let ledger = app.ledger(on: db)
        do {
            let account = payer == .project ? try await ledger.allocation(of: .project(project)) : try await ledger.allowance(of: user, in: .project(project))
            return try await ledger.reserve(account, amount: amount, reason: "research job in “\(project.title)”", key: key,
                                            lifetime: TimeInterval(seconds) + waiting, actor: user.id)
        } catch let refusal as LedgerRefusal {
            let who = payer == .project
                ? "The PI can ask the programme's managers for more (an allocation request on the project page)."
                : try await LedgerPlace.project(project).whoToAsk(on: db)
            throw Refusal("Not started: \(refusal.description) A job of \(seconds) s may cost up to \(amount) credits; "
                                    + "a shorter time limit costs less. \(who)")
        }
    }

    // MARK: Cancelling

    /// A queued job is cancelled at once (its whole reserve freed); a running one is asked to stop, and its worker
    /// stops it within a second and settles what it used. A finished job cannot be cancelled (409).
    static func cancel(_ job: ResearchJob, by user: User, app: Application, db: any Database) async throws -> ResearchJob {
        let jobID = try job.requireID()
        guard !job.status.isFinished else { throw Abort(.conflict, reason: "This job already ended (\(job.status.rawValue)).") }
        if job.slurmClusterID != nil {
            // The scheduler stops it; the poller settles what ran once the scheduler records its end.
            try await ResearchJob.query(on: db).filter(\.$id == jobID).filter(\.$status ~~ [.queued, .running]).set(\.$cancelRequested, to: true).update()
            job.cancelRequested = true
            await SlurmJobs.cancel(job, app: app)
            guard let current = try await ResearchJob.find(jobID, on: db) else { throw Abort(.notFound) }
            return current
        }
        let who = user.displayName
        let cancelledNow: Bool = try await app.writeTransaction(on: db) { tx in
            // Taken off the queue only if no worker has claimed it; otherwise the worker is asked to stop it.
            if let entry = job.queueJobID, try await JobQueue(db: tx, clock: app.clock.now).cancelIfQueued(entry, reason: "cancelled by \(who)") {
                try await ResearchJob.query(on: tx).filter(\.$id == jobID)
                    .set(\.$status, to: .cancelled).set(\.$cancelRequested, to: true).set(\.$finishedAt, to: app.clock.now())
                    .set(\.$problem, to: "Cancelled by \(who) before it started; nothing was charged.").update()
                return true
            }
            try await ResearchJob.query(on: tx).filter(\.$id == jobID).filter(\.$status ~~ [.queued, .running]).set(\.$cancelRequested, to: true).update()
            return false
        }
        if cancelledNow, let hold = job.holdID { _ = try? await app.ledger(on: db).void(hold, memo: "job cancelled before it started") }
        return try await ResearchJob.find(jobID, on: db)!
    }

    // MARK: Running (in a worker)

    /// Runs the queued job `queued` for the worker, which completes its queue entry through `complete` together
    /// with the job's result.
    static func run(_ queued: QueuedJob, worker: JobWorker) async throws {
        let app = worker.app
        let payload = try JobQueue.decode(Payload.self, queued.payload)
        guard let job = try await ResearchJob.find(payload.job, on: app.db) else {
            try await worker.complete(queued, result: "the job no longer exists") { _ in }
            return
        }
        if job.cancelRequested || job.status.isFinished {
            try await finish(job, queued: queued, worker: worker, status: .cancelled, result: nil,
                             problem: "Cancelled before it started; nothing was charged.")
            return
        }
        // Network is the project's setting when the job runs, not only when it was queued.
        if job.network, let project = try await ResearchProject.find(job.$project.id, on: app.db), !project.jobNetwork {
            try await finish(job, queued: queued, worker: worker, status: .cancelled, result: nil,
                             problem: try await ResearchProjects.networkRefusal(project, on: app.db) + " Nothing was charged.")
            return
        }
        job.status = .running
        job.startedAt = app.clock.now()
        try await job.save(on: app.db)
        let inputs = try await ResearchJobFile.query(on: app.db).filter(\.$job.$id == payload.job).filter(\.$role == .input).all()
        var sandboxJob = SandboxJob(command: ["/bin/sh", "-c", job.command],
                                    files: Dictionary(inputs.map { ($0.path, $0.contents) }, uniquingKeysWith: { first, _ in first }),
                                    workPath: workPath, outputDirectory: outputFolder, environment: ["HOME": workPath],
                                    limits: limits(wallSeconds: job.wallSeconds, memoryMB: job.memoryMB), network: job.network)
        let cancellation = SandboxCancellation()
        sandboxJob.cancellation = cancellation
        // Someone may cancel while it runs: look every second.
        let watcher = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if let current = try? await ResearchJob.find(payload.job, on: app.db), current.cancelRequested { cancellation.cancel(); return }
            }
        }
        defer { watcher.cancel() }
        let result = try await app.sandbox.run(sandboxJob)
        if result.status == .sandboxError { throw SandboxError.hostFailure(String(result.stderr.prefix(500))) }
        let status: ResearchJobStatus = result.status == .cancelled ? .cancelled : (result.status == .ok && result.exitCode == 0 ? .succeeded : .failed)
        var problem: String?
        switch result.status {
        case .ok where result.exitCode != 0: problem = "The command exited with code \(result.exitCode ?? -1)."
        case .ok, .cancelled: problem = nil
        case .outputLimit: problem = "The job wrote more than \(streamKB / 1024) MB to its standard output or error and was stopped; write large results to files in outputs/."
        default: problem = "The job " + SandboxReport.finished(result, seconds: job.wallSeconds, memory: job.memoryMB) + "."
        }
        if status == .cancelled { problem = "Cancelled while running; what it used until then was charged." }
        try await finish(job, queued: queued, worker: worker, status: status, result: result, problem: problem)
    }

    /// Completes the queue entry, settles (or voids) the reserve and records the result, in one transaction.
    private static func finish(_ job: ResearchJob, queued: QueuedJob, worker: JobWorker, status: ResearchJobStatus,
                               result: SandboxResult?, problem: String?) async throws {
        let app = worker.app, holdID = job.holdID
        let jobID = try job.requireID()
        try await worker.complete(queued, result: status.rawValue) { tx in
            let ledger = app.ledger(inWrite: tx)
            var charged: Int64 = 0
            if let result {
                charged = try await SandboxCharges.settle(holdID, cpuMs: result.cpuMs, wallMs: result.wallMs, what: "research job “\(job.name)”",
                                                         ledger: ledger, logger: app.logger)
            } else if let holdID {
                // Already closed, or gone: nothing to free (a database error still undoes the whole record).
                do { _ = try await ledger.void(holdID, memo: "job cancelled before it started") } catch where error is any AbortError {}
            }
            guard let current = try await ResearchJob.find(jobID, on: tx) else { return }
            current.status = status
            current.finishedAt = app.clock.now()
            current.problem = problem
            current.charged += charged
            if let result {
                current.sandboxStatus = result.status.rawValue
                current.exitCode = result.exitCode.map(Int.init)
                current.cpuMs = result.cpuMs
                current.wallMs = result.wallMs
                current.log = SandboxReport.log(result, characters: logCharacters)
                try await ResearchJobFile.query(on: tx).filter(\.$job.$id == jobID).filter(\.$role == .output).delete()
                for file in result.outputFiles {
                    try await ResearchJobFile(jobID: jobID, role: .output, path: file.path, contents: file.contents).create(on: tx)
                }
            }
            try await current.save(on: tx)
        }
    }

    /// The queue gave up on the job (every attempt failed, or its workers died): it fails with the reason and its
    /// credits are freed.
    static func markFailed(_ jobID: UUID, reason: String, app: Application) async throws {
        guard let job = try await ResearchJob.find(jobID, on: app.db), !job.status.isFinished else { return }
        job.status = .failed
        job.finishedAt = app.clock.now()
        job.problem = "It could not be run: \(reason) Nothing was charged."
        try await job.save(on: app.db)
        if let hold = job.holdID { _ = try? await app.ledger.void(hold, memo: "job failed") }
    }

    /// Research jobs whose queue entry failed for good, marked failed with their credits freed (the periodic sweep).
    static func sweep(_ app: Application) async throws {
        let waiting = try await ResearchJob.query(on: app.db).filter(\.$status ~~ [.queued, .running]).all()
        for (job, reason) in try await JobQueue(db: app.db).failedForGood(waiting, entry: \.queueJobID) {
            try await markFailed(job.requireID(), reason: reason, app: app)
        }
    }

    // MARK: Reading

    /// A page of jobs with their file lists: three queries whatever the page's size.
    static func views(_ jobs: [ResearchJob], on db: any Database) async throws -> [ResearchJobDTO] {
        let ids = jobs.compactMap(\.id)
        guard !ids.isEmpty else { return [] }
        let files = try await ResearchJobFile.query(on: db).filter(\.$job.$id ~~ ids).field(\.$id).field(\.$job.$id).field(\.$role).field(\.$path).field(\.$size).all()
        let byJob = Dictionary(grouping: files, by: { $0.$job.id })
        let userIDs = Set(jobs.map { $0.$submittedBy.id })
        let names = Dictionary(uniqueKeysWithValues: try await User.query(on: db).filter(\.$id ~~ userIDs).all().map { ($0.id!, $0.displayName) })
        let clusterIDs = Set(jobs.compactMap(\.slurmClusterID))
        let clusters = clusterIDs.isEmpty ? [:]
            : Dictionary(uniqueKeysWithValues: try await SlurmCluster.query(on: db).filter(\.$id ~~ clusterIDs).all().map { ($0.id!, $0.name) })
        return jobs.map { job in
            let mine = byJob[job.id!] ?? []
            return ResearchJobDTO(
                id: job.id!, projectID: job.$project.id, name: job.name, command: job.command, submittedBy: names[job.$submittedBy.id] ?? "?",
                status: job.status.rawValue, network: job.network, wallSeconds: job.wallSeconds, memoryMB: job.memoryMB, cores: job.cores, gpus: job.gpus,
                runsOn: job.slurmClusterID.map { clusters[$0] ?? "a removed cluster" } ?? "platform", slurmJobID: job.slurmJobID,
                schedulerReason: job.schedulerReason, payFrom: job.payFrom.rawValue,
                cancelRequested: job.cancelRequested, sandboxStatus: job.sandboxStatus, exitCode: job.exitCode, problem: job.problem,
                cpuMs: job.cpuMs, wallMs: job.wallMs, charged: Credits(micro: job.charged),
                inputs: mine.filter { $0.role == .input }.map(\.path).sorted(),
                outputs: mine.filter { $0.role == .output }.map { .init(path: $0.path, size: $0.size) }.sorted { $0.path < $1.path },
                createdAt: job.createdAt, startedAt: job.startedAt, finishedAt: job.finishedAt)
        }
    }

    static func outputsZip(_ job: ResearchJob, on db: any Database) async throws -> Data {
        let files = try await ResearchJobFile.query(on: db).filter(\.$job.$id == job.requireID()).filter(\.$role == .output).all()
        return try SafeArchive.make(Dictionary(files.map { ($0.path, $0.contents) }, uniquingKeysWith: { first, _ in first }))
    }
}

/// Research jobs on the platform's workers.
struct ResearchJobHandler: JobHandler {
    var kind: String { ResearchJobs.kind }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        try await ResearchJobs.run(claimed.job, worker: worker)
        return nil
    }

    /// The job will not be tried again: it fails with the reason, its reserve freed.
    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        let payload = try JobQueue.decode(ResearchJobs.Payload.self, job.payload)
        try await ResearchJobs.markFailed(payload.job, reason: reason, app: app)
    }

    func sweep(_ app: Application) async throws { try await ResearchJobs.sweep(app) }
}
