// Research jobs on a real Slurm cluster (TestSlurmCluster), through the platform: an administrator registers the
// cluster, a programme manager sends the project's jobs to it, and then — with the poller running on a worker — a job
// completes with its outputs and is charged its allocated cores and memory × elapsed time at the price list; a queued
// job and a running job are cancelled and charged only what ran; a job past its time limit ends as timeout and is
// charged the limit; a refused hold submits nothing; a job runs as the service account with none of the platform's
// environment, and the links it leaves in outputs/ bring back nothing of the host's; someone outside the project sees
// nothing. Needs root (slurmd, and the service account `nobody`).
import Fluent
import Foundation
import Glibc
import NIOConcurrencyHelpers
import Grading
import Ledger
import Slurm
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct SlurmJobTests {
    static func json(_ app: Application, _ method: HTTPMethod, _ path: String, as email: String, _ object: [String: Any?]) async throws -> TestingHTTPResponse {
        var headers = try await app.bearer(email)
        headers.contentType = .json
        let body = try JSONSerialization.data(withJSONObject: object.mapValues { $0 ?? NSNull() })
        return try await app.testing().sendRequest(method, path, headers: headers, body: ByteBuffer(data: body))
    }

    /// Waits (up to `seconds`) until the job's view satisfies `done`; the last view.
    static func wait(_ app: Application, _ id: UUID, within seconds: Double, until done: (ResearchJobDTO) -> Bool) async throws -> ResearchJobDTO {
        let deadline = Date().addingTimeInterval(seconds)
        var job = try await ResearchJobTests.job(app, id)
        while !done(job), Date() < deadline {
            try await Task.sleep(for: .milliseconds(300))
            job = try await ResearchJobTests.job(app, id)
        }
        return job
    }

    /// The cost the price list gives a Slurm job's usage, worked out here apart from the platform: the demo's prices are
    /// 3.6 credits a core-hour and 0.5 a GB-hour of memory, each meter rounded up to the micro-credit.
    static func cost(coreSeconds: Int64, memoryMBSeconds: Int64) -> Int64 {
        func up(_ a: Int64, _ b: Int64) -> Int64 { (a + b - 1) / b }
        return up(3_600_000 * coreSeconds, 3_600) + up(500_000 * memoryMBSeconds, 1_024 * 3_600)
    }

    /// Registers the test cluster (as an administrator) and sends the demo project's jobs to it (as a programme
    /// manager). `checks`: also that others may not, and that a cluster submitting as root is refused.
    /// `sandbox`: the cluster's setting (nil: left out, so the default).
    static func register(_ app: Application, folder: URL, environment: [String: String], checks: Bool = false,
                         sandbox: String? = nil, rest: (url: String, variable: String)? = nil, name: String = "test-hpc",
                         accounting: Bool = false) async throws -> SlurmClusterDTO {
        let staging = folder.appendingPathComponent("staging")
        if !FileManager.default.fileExists(atPath: staging.path) { try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true) }
        var settings: [String: Any?] = [
            "name": name, "slurmConf": environment["SLURM_CONF"], "partition": "campus", "serviceAccount": "nobody",
            // With `accounting`, none: ended jobs are read from slurmdbd.
            "stagingFolder": staging.path, "completionLog": accounting ? nil : folder.appendingPathComponent("jobcomp.log").path,
            "maxCores": ProcessInfo.processInfo.activeProcessorCount, "maxMemoryMB": 1024, "maxMinutes": 43_200, "pollSeconds": 1,
        ]
        if let sandbox { settings["sandbox"] = sandbox }
        if let rest { settings["rest"] = ["url": rest.url, "tokenVariable": rest.variable] }
        // The demo's own queued work (hand-ins, its research jobs) is not these tests': left queued, a worker with one
        // slot could spend a test's time on it (on a loaded CI runner it did).
        try await QueuedJob.query(on: app.db).delete()
        let project = try await ResearchJobTests.project(app)
        let projectID = try project.requireID()
        if checks {
            // Only administrators register clusters; a cluster submitting as root is refused.
            #expect(try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "instructor@demo.test", settings).status == .notFound)
            var asRoot = settings
            asRoot["serviceAccount"] = "root"
            let rootRefused = try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", asRoot)
            #expect(rootRefused.status == .conflict && rootRefused.body.string.contains("must not be root"))
        }
        let registered = try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", settings)
        #expect(registered.status == .created, "\(registered.body.string)")
        let cluster = try registered.content.decode(SlurmClusterDTO.self)
        #expect(cluster.sandbox == sandbox ?? "required")
        if checks {
            // A member of the project may not choose where its jobs run.
            #expect(try await Self.json(app, .PUT, "api/v1/projects/\(projectID)/compute", as: "ta@demo.test", ["slurmCluster": cluster.id.uuidString]).status == .forbidden)
        }
        let moved = try await Self.json(app, .PUT, "api/v1/projects/\(projectID)/compute", as: "admin@demo.test", ["slurmCluster": cluster.id.uuidString])
        #expect(moved.status == .ok && (try? moved.content.decode(ProjectDTO.self).slurmCluster) == cluster.id, "\(moved.body.string)")
        return cluster
    }

    @Test func jobsOnTheProjectsClusterAreHeldQueuedFollowedAndChargedWhatRan() async throws {
        try await TestSlurmCluster.with { folder, environment in
            try await withTestApp { app in
                try await app.loadDemoData(credits: true)
                let cluster = try await Self.register(app, folder: folder, environment: environment, checks: true)
                let staging = URL(fileURLWithPath: cluster.stagingFolder)
                let cores = cluster.maxCores

                // The poller runs on a worker, as in a deployment.
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }

                // A refused hold submits nothing: two cores for 30 days is far over the TA's allowance.
                let before = try await ResearchJobTests.allowance(app)
                let greedy = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["command": "true", "cores": String(min(2, cores)), "wallSeconds": "2592000"])
                #expect(greedy.status == .conflict, "\(greedy.body.string)")
                let squeued = try await SlurmCommand.run(["squeue", "-h", "-o", "%j"], environment: environment)
                #expect(squeued.isEmpty, "a job reached the scheduler: \(squeued)")
                #expect(try await ResearchJob.query(on: app.db).filter(\.$slurmClusterID == cluster.id).count() == 0)
                #expect(try await ResearchJobTests.allowance(app).held == before.held)

                // Past its time limit first (one core, one minute): it ends as timeout later on.
                let late = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "overrun", "command": "sleep 300", "memoryMB": "100", "wallSeconds": "60"])
                #expect(late.status == .created, "\(late.body.string)")
                let overrun = try late.content.decode(ResearchJobDTO.self)
                #expect(overrun.runsOn == "test-hpc" && overrun.slurmJobID != nil)
                // Its worst case is held: 60 core-seconds and 6000 MB-seconds at the price list.
                #expect(try await ResearchJobTests.allowance(app).held == before.held + Self.cost(coreSeconds: 60, memoryMBSeconds: 6_000))

                // A job that completes: its outputs come back, the host's files do not, and it ran as the service
                // account with nothing of the platform's environment.
                setenv("CAMPUSCLOUD_AI_TEST_SECRET", "platform-secret-value", 1)
                defer { unsetenv("CAMPUSCLOUD_AI_TEST_SECRET") }
                let script = """
                    id -u > outputs/uid.txt; env > outputs/env.txt; tr a-z A-Z < words.txt > outputs/upper.txt
                    ln -s /etc/shadow outputs/shadow; ln -s /root outputs/rootdir; mkdir -p outputs/deep && echo fine > outputs/deep/ok.txt
                    echo to-stdout; echo to-stderr >&2; printf 'a nul \\0 byte\\n'; sleep 2
                    """
                let doneResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "upper", "command": script, "memoryMB": "100", "wallSeconds": "120"],
                                                                     files: ["words.txt": Data("hello slurm\n".utf8)])
                #expect(doneResponse.status == .created, "\(doneResponse.body.string)")
                let upper = try doneResponse.content.decode(ResearchJobDTO.self)
                let done = try await Self.wait(app, upper.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                #expect(done.status == "succeeded", "\(done.problem ?? "") \(done.status)")
                #expect(done.outputs.map(\.path) == ["outputs/deep/ok.txt", "outputs/env.txt", "outputs/uid.txt", "outputs/upper.txt"])
                #expect(done.problem?.contains("outputs/shadow") == true, "\(done.problem ?? "")")
                let zip = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(upper.id)/outputs.zip", headers: try await app.bearer("ta@demo.test"))
                let files = try SafeArchive.read(Data(buffer: zip.body), limits: ResearchJobs.inputLimits)
                #expect(files["outputs/upper.txt"] == Data("HELLO SLURM\n".utf8))
                let nobody = try #require(SlurmServiceAccount.named("nobody"))
                #expect(files["outputs/uid.txt"] == Data("\(nobody.uid)\n".utf8))
                let env = String(decoding: files["outputs/env.txt"] ?? Data(), as: UTF8.self)
                #expect(!env.isEmpty && !env.contains("platform-secret-value") && !env.contains("CAMPUSCLOUD_"), "\(env)")
                // Nothing else of the platform's environment either (what a job sees is Slurm's, its script's, and the
                // PATH, LANG and SLURM_CONF the platform gives sbatch).
                let jobVariables = Set(env.split(separator: "\n").map(String.init))
                let leaked = ProcessInfo.processInfo.environment.filter { key, value in
                    !["PATH", "LANG", "HOME", "PWD", "SHLVL", "_", "OLDPWD"].contains(key) && !key.hasPrefix("SLURM") && jobVariables.contains("\(key)=\(value)")
                }
                #expect(leaked.isEmpty, "the job saw the platform's \(leaked.keys.sorted())")
                let log = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(upper.id)/logs", headers: try await app.bearer("ta@demo.test")).body.string
                #expect(log.contains("to-stdout") && log.contains("to-stderr"))
                // This node has bwrap: the cluster's default (required) ran the command in the sandbox.
                #expect(log.contains("runs in the platform's sandbox"), "\(log)")
                // Charged its allocation × elapsed, as the scheduler recorded them.
                let record = try #require(try await TestSlurmCluster.record(done.slurmJobID, in: folder, within: 5))
                #expect(record.allocated?.cpus == 1 && record.allocated?.memoryMB == 100 && record.elapsedSeconds >= 2)
                #expect(done.charged.micro == Self.cost(coreSeconds: record.usage.coreSeconds, memoryMBSeconds: record.usage.memoryMBSeconds))
                #expect(!FileManager.default.fileExists(atPath: staging.appendingPathComponent(SlurmJobs.schedulerName(upper.id)).path), "the staging folder was left")

                // Fill the node, then one more waits: the job page shows the scheduler's reason.
                let fill = max(1, cores - 1)
                let runningResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "long", "command": "sleep 200", "cores": String(fill), "memoryMB": "100", "wallSeconds": "600"])
                let long = try runningResponse.content.decode(ResearchJobDTO.self)
                let running = try await Self.wait(app, long.id, within: 30) { $0.status == "running" }
                #expect(running.status == "running", "\(running)")
                let waitingResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "waits", "command": "true", "memoryMB": "100", "wallSeconds": "60"])
                let waits = try waitingResponse.content.decode(ResearchJobDTO.self)
                let pending = try await Self.wait(app, waits.id, within: 15) { $0.schedulerReason != nil }
                #expect(pending.status == "queued" && pending.schedulerReason == "Resources", "\(pending)")
                // Someone outside the project sees none of it.
                let stranger = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(waits.id)", headers: try await app.bearer("student1@demo.test"))
                #expect(stranger.status == .notFound)
                let strangerCancel = try await app.testing().sendRequest(.POST, "api/v1/jobs/\(waits.id)/cancel", headers: try await app.bearer("student1@demo.test"))
                #expect(strangerCancel.status == .notFound)

                // Cancelled while queued: nothing charged. Cancelled while running: only what ran.
                let heldBefore = try await ResearchJobTests.allowance(app).held
                #expect(try await app.testing().sendRequest(.POST, "api/v1/jobs/\(waits.id)/cancel", headers: try await app.bearer("ta@demo.test")).status == .ok)
                let cancelledQueued = try await Self.wait(app, waits.id, within: 30) { $0.status == "cancelled" }
                #expect(cancelledQueued.status == "cancelled" && cancelledQueued.charged.micro == 0, "\(cancelledQueued)")
                #expect(try await ResearchJobTests.allowance(app).held == heldBefore - Self.cost(coreSeconds: 60, memoryMBSeconds: 6_000))
                try await Task.sleep(for: .seconds(2))
                #expect(try await app.testing().sendRequest(.POST, "api/v1/jobs/\(long.id)/cancel", headers: try await app.bearer("ta@demo.test")).status == .ok)
                let cancelledRunning = try await Self.wait(app, long.id, within: 30) { $0.status == "cancelled" }
                let ranFor = try #require(try await TestSlurmCluster.record(long.slurmJobID, in: folder, within: 5))
                #expect(cancelledRunning.status == "cancelled" && ranFor.elapsedSeconds >= 2 && ranFor.elapsedSeconds < 60, "\(ranFor)")
                #expect(cancelledRunning.charged.micro == Self.cost(coreSeconds: ranFor.usage.coreSeconds, memoryMBSeconds: ranFor.usage.memoryMBSeconds))
                #expect(cancelledRunning.charged.micro < Self.cost(coreSeconds: Int64(fill) * 600, memoryMBSeconds: 100 * 600))

                // Past its limit: ended by the scheduler as timeout (a little after the minute), charged the minute.
                let timedOut = try await Self.wait(app, overrun.id, within: 150) { $0.status != "queued" && $0.status != "running" }
                #expect(timedOut.status == "timeout", "\(timedOut)")
                #expect(timedOut.charged.micro == Self.cost(coreSeconds: 60, memoryMBSeconds: 6_000))
                let overrunRecord = try #require(try await TestSlurmCluster.record(overrun.slurmJobID, in: folder, within: 5))
                #expect(overrunRecord.state == .timeout && (60...120).contains(overrunRecord.elapsedSeconds), "\(overrunRecord)")

                // Nothing stays held; the allowance paid exactly what the jobs were charged.
                let after = try await ResearchJobTests.allowance(app)
                let charged = done.charged.micro + cancelledRunning.charged.micro + timedOut.charged.micro
                #expect(after.held == before.held && after.spent - before.spent == charged)
                working.cancel()
                await working.value
            }
        }
    }

    /// slurmctld stopped and started again while a job runs, and the platform process following it killed outright
    /// and replaced: the job is followed through both and ends once, settled once by what it ran. (The job runs until
    /// the test drops a file into its folder, so a slow machine cannot let it end before both have happened.)
    @Test func aRestartedSchedulerAndARestartedPlatformEndTheJobOnce() async throws {
        let (shared, database) = try WorkerProcess.folder()
        defer { WorkerProcess.remove(shared) }
        try await TestSlurmCluster.with { folder, environment in
            try await withTestApp(database: database) { app in
                try await app.loadDemoData(credits: true)
                _ = try await Self.register(app, folder: folder, environment: environment)
                let before = try await ResearchJobTests.allowance(app)
                // The platform that follows the job: a `campuscloud worker` process of its own.
                let process = try WorkerProcess.start(["--concurrency", "1", "--lease-seconds", "2"], app: app, folder: shared)
                defer { WorkerProcess.stop(process) }
                let submitted = try await ResearchJobTests.submit(app, as: "ta@demo.test", [
                    "name": "steady", "command": "while [ ! -e go ]; do sleep 0.5; done; echo survived > outputs/note.txt", "memoryMB": "100", "wallSeconds": "600"])
                #expect(submitted.status == .created, "\(submitted.body.string)")
                let job = try submitted.content.decode(ResearchJobDTO.self)
                let running = try await Self.wait(app, job.id, within: 180) { $0.status == "running" }
                #expect(running.status == "running", "\(running)\n\(WorkerProcess.log(in: shared))\n\(TestSlurmCluster.state(folder, environment: environment))")

                // The scheduler goes away for a while: the job is not given up for lost, it stays running.
                try await TestSlurmCluster.stopController(folder)
                try await Task.sleep(for: .seconds(4))
                #expect(try await ResearchJobTests.job(app, job.id).status == "running")
                try await TestSlurmCluster.startController(folder, environment: environment)

                // The platform process is killed outright; another takes the poller over once its lease runs out.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let worker = JobWorker(app: app, name: "after-restart", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }
                try await Task.sleep(for: .seconds(3))
                #expect(try await ResearchJobTests.job(app, job.id).status == "running")
                let work = SlurmStaging.work(SlurmJobs.folder(job.id, in: try #require(try await SlurmCluster.query(on: app.db).first())))
                try Data().write(to: work.appendingPathComponent("go"))
                let done = try await Self.wait(app, job.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                #expect(done.status == "succeeded", "\(done)")
                #expect(done.outputs.map(\.path) == ["outputs/note.txt"])
                let record = try #require(try await TestSlurmCluster.record(done.slurmJobID, in: folder, within: 5))
                #expect(record.elapsedSeconds >= 7, "\(record)")
                #expect(done.charged.micro == Self.cost(coreSeconds: record.usage.coreSeconds, memoryMBSeconds: record.usage.memoryMBSeconds))
                // One settle of its hold, nothing held after, the ledger conserved.
                let holdID = try #require(try await ResearchJob.find(job.id, on: app.db)?.holdID)
                #expect(try await LedgerEntry.query(on: app.db).filter(\.$holdID == holdID).filter(\.$kind == .settle).count() == 1)
                let after = try await ResearchJobTests.allowance(app)
                #expect(after.held == before.held && after.spent - before.spent == done.charged.micro)
                try await LedgerStoreTests.expectConserved(app)
                working.cancel()
                await working.value
            }
        }
    }

    /// A job that rewrites its own record at the scheduler (renamed to imitate the fields after its name, so that it
    /// would read as cancelled before it ran) is charged the most it can have run by what the platform saw — here it
    /// ends before any look at the queue, so that is from its submission to the look that finds it ended, not nothing;
    /// a job of its own it submits is
    /// cancelled by the platform, even after the job itself has ended; a meter without a price does not make a job free; an input where outputs/ goes is refused.
    @Test func aJobThatRewritesItsRecordOrSubmitsJobsOfItsOwnGainsNothing() async throws {
        try await TestSlurmCluster.with { folder, environment in
            try await withTestApp { app in
                try await app.loadDemoData(credits: true)
                // The sandbox off: a job reaches the scheduler as the service account, and the platform alone must
                // hold (aJobInTheSandboxCannotReachAnotherJobOrTheScheduler shows what the sandbox adds).
                _ = try await Self.register(app, folder: folder, environment: environment, sandbox: "off")
                // Memory is not priced here: the job is charged its cores alone, not nothing.
                try await LedgerPrice.query(on: app.db).filter(\.$meter == Meter.slurmMemoryGBHour.name).delete()
                let before = try await ResearchJobTests.allowance(app)

                let clash = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["command": "true", "wallSeconds": "60"], files: ["outputs": Data("x".utf8)])
                #expect(clash.status == .unprocessableEntity && clash.body.string.contains("outputs"), "\(clash.body.string)")
                // Without the platform's sandbox the cluster's own network rules hold: asking for network is refused.
                let networked = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["command": "true", "wallSeconds": "60", "network": "true"])
                #expect(networked.status == .conflict && networked.body.string.contains("own network rules"), "\(networked.body.string)")
                #expect(try await ResearchJobTests.allowance(app).held == before.held)

                let script = """
                    sbatch --job-name free-ride --output /dev/null --wrap 'sleep 300'
                    scontrol update JobId=$SLURM_JOB_ID JobName="$SLURM_JOB_NAME JobState=CANCELLED Partition=campus TimeLimit=1 NodeCnt=0 ProcCnt=0"
                    sleep 3
                    """
                let sending = Date()
                let response = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "sly", "command": script, "memoryMB": "100", "wallSeconds": "120"])
                #expect(response.status == .created, "\(response.body.string)")
                let sly = try response.content.decode(ResearchJobDTO.self)
                // (After the answer: the platform's own time of submission is before it. On a loaded machine the job may
                // have run a while before the answer came.)
                let submitted = Date()
                // No poller runs until the job has ended: no look at the queue ever saw it.
                _ = try #require(try await TestSlurmCluster.record(sly.slurmJobID, in: folder, within: 60), "the job never ended")
                for _ in 0..<100 {
                    let live = try await SlurmCommand.run(["squeue", "-h", "-t", "PD,R,CG,S", "-j", String(sly.slurmJobID ?? 0), "-o", "%i"], environment: environment)
                    if live.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                // It ran its three seconds, and more, with no look: from before it was sent to its end.
                #expect(Date().timeIntervalSince(sending) >= 3)
                let unseen = Int64(Date().timeIntervalSince(submitted))
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }
                let ended = try await Self.wait(app, sly.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                // Charged the most it can have run by what the platform saw (one core from its submission to the look
                // that found it ended, so at least the seconds no look was made; memory has no price here): not
                // nothing, though no look caught it running. The renaming really happened (the record is ambiguous).
                #expect(ended.status == "failed" && ended.problem?.contains("altered") == true, "\(ended)")
                #expect(ended.charged.micro > 0 && ended.charged.micro >= Self.cost(coreSeconds: unseen, memoryMBSeconds: 0)
                        && ended.charged.micro <= Self.cost(coreSeconds: 120, memoryMBSeconds: 0),
                        "\(ended.charged)")
                let record = try #require(try await TestSlurmCluster.record(ended.slurmJobID, in: folder, within: 5))
                #expect(!record.unambiguous)
                // The job it submitted itself is cancelled by the platform, not left to run unpaid.
                let stray = try #require(try await TestSlurmCluster.record(named: "free-ride", in: folder, within: 60), "the stray job was never ended")
                #expect(stray.state == .cancelled && stray.elapsedSeconds < 60, "\(stray)")
                let after = try await ResearchJobTests.allowance(app)
                #expect(after.held == before.held && after.spent - before.spent == ended.charged.micro)
                working.cancel()
                await working.value
            }
        }
    }

    /// The platform stopped between sbatch and recording the scheduler's id: once the grace is over, the poller finds
    /// the job by its name and follows it to its end, charged what it ran. A job the cluster loses (slurmctld restarted
    /// with its state gone: no queue entry, no record) is failed as lost ten minutes later, charged the time it was
    /// seen running, once; nothing stays held. The platform's clock runs here, and jumps ahead for the ten minutes.
    @Test func aJobNeverRecordedIsAdoptedAndAJobTheClusterLostIsEndedOnce() async throws {
        try await TestSlurmCluster.with { folder, environment in
            try await withTestApp { app in
                let ahead = NIOLockedValueBox<TimeInterval>(0)
                app.clock = PlatformClock { Date().addingTimeInterval(ahead.withLockedValue { $0 }) }
                try await app.loadDemoData(credits: true)
                _ = try await Self.register(app, folder: folder, environment: environment, sandbox: "off")
                let before = try await ResearchJobTests.allowance(app)

                // Submitted, but as if the platform had stopped before writing down the scheduler's id, long enough ago.
                let orphanResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "orphan", "command": "sleep 6", "memoryMB": "100", "wallSeconds": "120"])
                let orphan = try orphanResponse.content.decode(ResearchJobDTO.self)
                let orphanSlurmID = try #require(orphan.slurmJobID)
                try await ResearchJob.query(on: app.db).filter(\.$id == orphan.id).set(\.$slurmJobID, to: nil)
                    .set(\.$createdAt, to: Date().addingTimeInterval(-SlurmJobs.submitGrace - 60)).update()
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }
                let adopted = try await Self.wait(app, orphan.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                #expect(adopted.status == "succeeded" && adopted.slurmJobID == orphanSlurmID, "\(adopted)")
                let record = try #require(try await TestSlurmCluster.record(orphanSlurmID, in: folder, within: 5))
                #expect(adopted.charged.micro == Self.cost(coreSeconds: record.usage.coreSeconds, memoryMBSeconds: record.usage.memoryMBSeconds) && record.elapsedSeconds >= 6)

                // Running, then the controller comes back without its state: the job is gone from the queue and has no record.
                let lostResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "lost", "command": "echo so far > outputs/partial.txt; sleep 300", "memoryMB": "100",
                                                                                               "wallSeconds": "600"])
                let lost = try lostResponse.content.decode(ResearchJobDTO.self)
                let running = try await Self.wait(app, lost.id, within: 30) { $0.status == "running" }
                #expect(running.status == "running", "\(running)")
                // Seen running for 3 s at least (a loaded machine's looks come late).
                for _ in 0..<300 {
                    if let seen = try await ResearchJob.find(lost.id, on: app.db), let start = seen.startedAt, let last = seen.slurmSeenAt,
                       last.timeIntervalSince(start) >= 3 { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                try await TestSlurmCluster.stopController(folder)
                try await TestSlurmCluster.startController(folder, environment: environment, losingState: true)
                let queue = try await SlurmCommand.run(["squeue", "-h", "-o", "%i"], environment: environment)
                #expect(!queue.split(separator: "\n").contains(Substring(String(lost.slurmJobID ?? 0))), "\(queue)")
                // Not ended while the ten minutes run: the cluster may still say where it went.
                try await Task.sleep(for: .seconds(3))
                #expect(try await ResearchJobTests.job(app, lost.id).status == "running")
                ahead.withLockedValue { $0 = SlurmJobs.lostAfter + 60 }
                let ended = try await Self.wait(app, lost.id, within: 60) { $0.status != "queued" && $0.status != "running" }
                #expect(ended.status == "failed" && ended.problem?.contains("lost the job") == true, "\(ended)")
                // What it wrote before it was lost comes back.
                #expect(ended.outputs.map(\.path) == ["outputs/partial.txt"], "\(ended.outputs)")
                // Charged the seconds it was seen running (from its start to the last look that showed it), not nothing
                // and not its limit.
                let stored = try #require(try await ResearchJob.find(lost.id, on: app.db))
                let seen = Int64(try #require(stored.slurmSeenAt).timeIntervalSince(try #require(stored.startedAt)))
                #expect(seen >= 3 && seen < 120, "\(seen)")
                #expect(ended.charged.micro == Self.cost(coreSeconds: seen, memoryMBSeconds: 100 * seen), "\(ended.charged) for \(seen) s")
                // Looks go on; it is not settled again, and nothing stays held.
                try await Task.sleep(for: .seconds(3))
                let after = try await ResearchJobTests.allowance(app)
                #expect(after.held == before.held && after.spent - before.spent == adopted.charged.micro + ended.charged.micro)
                working.cancel()
                await working.value
            }
        }
    }

    /// The cluster reached through slurmrestd with the service account's JWT instead of the Slurm commands. The
    /// platform's slurm.conf names a controller port nothing listens on, so no command of the platform's could reach
    /// the cluster: a job is queued, followed and completes with its outputs, charged by its record; a running job is
    /// cancelled and charged what it ran; nothing stays held. A token the platform does not have is refused first.
    @Test func aClusterReachedThroughSlurmrestdQueuesFollowsAndCancelsJobs() async throws {
        try await TestSlurmCluster.withREST { folder, environment, rest in
            try await withTestApp { app in
                try await app.loadDemoData(credits: true)
                let conf = try String(contentsOfFile: try #require(environment["SLURM_CONF"]), encoding: .utf8)
                let unreachable = folder.appendingPathComponent("platform-slurm.conf")
                try Data(conf.replacingOccurrences(of: #"SlurmctldPort=[0-9]+"#, with: "SlurmctldPort=1", options: .regularExpression).utf8).write(to: unreachable)
                let variable = "CAMPUSCLOUD_TEST_SLURM_JWT_\(UUID().uuidString.prefix(8).uppercased())"
                // Not set yet: refused (the platform could not ask as anyone).
                let settings: [String: Any?] = ["name": "no-token", "slurmConf": unreachable.path, "partition": "campus", "serviceAccount": "nobody",
                                                "stagingFolder": folder.path, "completionLog": folder.appendingPathComponent("jobcomp.log").path,
                                                "maxCores": 1, "maxMemoryMB": 1024, "maxMinutes": 60,
                                                "rest": ["url": rest.url, "tokenVariable": variable]]
                let noToken = try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", settings)
                #expect(noToken.status == .conflict && noToken.body.string.contains("is not set"), "\(noToken.body.string)")
                setenv(variable, rest.token, 1)
                defer { unsetenv(variable) }
                let cluster = try await Self.register(app, folder: folder, environment: ["SLURM_CONF": unreachable.path], rest: (rest.url, variable))
                #expect(cluster.rest == SlurmRESTSettings(url: rest.url, tokenVariable: variable) && !cluster.rest!.tokenVariable.contains(rest.token))
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }
                let before = try await ResearchJobTests.allowance(app)

                let doneResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "upper", "command": "tr a-z A-Z < words.txt > outputs/upper.txt; sleep 2",
                                                                                              "memoryMB": "100", "wallSeconds": "120"],
                                                                     files: ["words.txt": Data("hello rest\n".utf8)])
                #expect(doneResponse.status == .created, "\(doneResponse.body.string)")
                let upper = try doneResponse.content.decode(ResearchJobDTO.self)
                let done = try await Self.wait(app, upper.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                #expect(done.status == "succeeded", "\(done)")
                let zip = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(upper.id)/outputs.zip", headers: try await app.bearer("ta@demo.test"))
                #expect(try SafeArchive.read(Data(buffer: zip.body), limits: ResearchJobs.inputLimits)["outputs/upper.txt"] == Data("HELLO REST\n".utf8))
                let record = try #require(try await TestSlurmCluster.record(done.slurmJobID, in: folder, within: 5))
                #expect(record.allocated?.cpus == 1 && record.allocated?.memoryMB == 100 && record.elapsedSeconds >= 2, "\(record)")
                #expect(done.charged.micro == Self.cost(coreSeconds: record.usage.coreSeconds, memoryMBSeconds: record.usage.memoryMBSeconds))

                let longResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "long", "command": "sleep 200", "memoryMB": "100", "wallSeconds": "600"])
                let long = try longResponse.content.decode(ResearchJobDTO.self)
                let running = try await Self.wait(app, long.id, within: 60) { $0.status == "running" }
                #expect(running.status == "running", "\(running)")
                try await Task.sleep(for: .seconds(2))
                #expect(try await app.testing().sendRequest(.POST, "api/v1/jobs/\(long.id)/cancel", headers: try await app.bearer("ta@demo.test")).status == .ok)
                let cancelled = try await Self.wait(app, long.id, within: 60) { $0.status != "queued" && $0.status != "running" }
                let ran = try #require(try await TestSlurmCluster.record(long.slurmJobID, in: folder, within: 5))
                #expect(cancelled.status == "cancelled" && ran.elapsedSeconds >= 2 && ran.elapsedSeconds < 60, "\(cancelled) \(ran)")
                #expect(cancelled.charged.micro == Self.cost(coreSeconds: ran.usage.coreSeconds, memoryMBSeconds: ran.usage.memoryMBSeconds))
                let after = try await ResearchJobTests.allowance(app)
                #expect(after.held == before.held && after.spent - before.spent == done.charged.micro + cancelled.charged.micro)
                working.cancel()
                await working.value
            }
        }
    }

    /// A cluster that keeps accounting (slurmdbd) needs no completion log: ended jobs are read from `sacct` (the
    /// commands) or from slurmrestd's slurmdb API, charged by the allocation and elapsed seconds recorded there, with
    /// the exit code sacct gives. A cluster whose slurm.conf keeps no accounting must name its log. A job that requeues
    /// or renames itself there is not believed (after a while, for slurmdbd's own placeholder name, "allocation").
    @Test func aClusterThatKeepsAccountingIsReadFromSacctOrSlurmdb() async throws {
        try await TestSlurmCluster.withREST(accounting: true) { folder, environment, rest in
            try await withTestApp { app in
                try await app.loadDemoData(credits: true)
                let confPath = try #require(environment["SLURM_CONF"])
                let conf = try String(contentsOfFile: confPath, encoding: .utf8)
                let withoutAccounting = folder.appendingPathComponent("no-accounting.conf")
                try Data(conf.replacingOccurrences(of: "accounting_storage/slurmdbd", with: "accounting_storage/none").utf8).write(to: withoutAccounting)
                try FileManager.default.createDirectory(at: folder.appendingPathComponent("staging"), withIntermediateDirectories: true)
                let refused = try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", [
                    "name": "no-log", "slurmConf": withoutAccounting.path, "partition": "campus", "serviceAccount": "nobody",
                    "stagingFolder": folder.appendingPathComponent("staging").path, "maxCores": 1, "maxMemoryMB": 1024, "maxMinutes": 60])
                #expect(refused.status == .conflict && refused.body.string.contains("keeps no accounting"), "\(refused.body.string)")

                let cluster = try await Self.register(app, folder: folder, environment: environment, accounting: true)
                #expect(cluster.completionLog == nil)
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }
                let before = try await ResearchJobTests.allowance(app)
                /// What slurmdbd recorded of a job (asked as root).
                func recorded(_ id: Int?) async throws -> SlurmJobRecord {
                    let delimiter = SlurmAccounting.freshDelimiter()
                    let answer = try await SlurmCommand.run(SlurmAccounting.sacctArguments(jobs: [try #require(id)], user: nil, delimiter: delimiter),
                                                            environment: environment.merging(SlurmAccounting.environment) { $1 })
                    return try #require(SlurmAccounting.records(sacct: answer, delimiter: delimiter).first, "\(answer)")
                }

                // Through sacct: a job that fails with exit code 3 after two seconds.
                let failing = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "three", "command": "echo out > outputs/o.txt; sleep 2; exit 3",
                                                                                         "memoryMB": "100", "wallSeconds": "120"])
                #expect(failing.status == .created, "\(failing.body.string)")
                let three = try failing.content.decode(ResearchJobDTO.self)
                let failed = try await Self.wait(app, three.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                let threeRecord = try await recorded(failed.slurmJobID)
                #expect(failed.status == "failed" && failed.problem?.contains("exit code 3") == true, "\(failed)")
                #expect(threeRecord.allocated?.cpus == 1 && threeRecord.allocated?.memoryMB == 100 && threeRecord.elapsedSeconds >= 2, "\(threeRecord)")
                #expect(failed.charged.micro == Self.cost(coreSeconds: threeRecord.usage.coreSeconds, memoryMBSeconds: threeRecord.usage.memoryMBSeconds))
                #expect(failed.outputs.map(\.path) == ["outputs/o.txt"])

                // Through slurmrestd's slurmdb API: the same cluster registered again, reached by REST.
                let variable = "CAMPUSCLOUD_TEST_SLURM_JWT_\(UUID().uuidString.prefix(8).uppercased())"
                setenv(variable, rest.token, 1)
                defer { unsetenv(variable) }
                let viaREST = try await Self.register(app, folder: folder, environment: environment, rest: (rest.url, variable), name: "test-hpc-rest", accounting: true)
                #expect(viaREST.completionLog == nil && viaREST.rest != nil)
                let doneResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "upper", "command": "tr a-z A-Z < words.txt > outputs/upper.txt; sleep 2",
                                                                                              "memoryMB": "100", "wallSeconds": "120"],
                                                                     files: ["words.txt": Data("hello slurmdbd\n".utf8)])
                let upper = try doneResponse.content.decode(ResearchJobDTO.self)
                #expect(upper.runsOn == "test-hpc-rest", "\(upper)")
                let done = try await Self.wait(app, upper.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                let doneRecord = try await recorded(done.slurmJobID)
                #expect(done.status == "succeeded" && doneRecord.elapsedSeconds >= 2, "\(done) \(doneRecord)")
                #expect(done.charged.micro == Self.cost(coreSeconds: doneRecord.usage.coreSeconds, memoryMBSeconds: doneRecord.usage.memoryMBSeconds))
                let zip = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(upper.id)/outputs.zip", headers: try await app.bearer("ta@demo.test"))
                #expect(try SafeArchive.read(Data(buffer: zip.body), limits: ResearchJobs.inputLimits)["outputs/upper.txt"] == Data("HELLO SLURMDBD\n".utf8))

                // Cancelled while running: charged what slurmdbd says it ran.
                let longResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "long", "command": "sleep 200", "memoryMB": "100", "wallSeconds": "600"])
                let long = try longResponse.content.decode(ResearchJobDTO.self)
                #expect(try await Self.wait(app, long.id, within: 60) { $0.status == "running" }.status == "running")
                try await Task.sleep(for: .seconds(2))
                #expect(try await app.testing().sendRequest(.POST, "api/v1/jobs/\(long.id)/cancel", headers: try await app.bearer("ta@demo.test")).status == .ok)
                let cancelled = try await Self.wait(app, long.id, within: 60) { $0.status != "queued" && $0.status != "running" }
                let ran = try await recorded(long.slurmJobID)
                #expect(cancelled.status == "cancelled" && ran.elapsedSeconds >= 2 && ran.elapsedSeconds < 60, "\(cancelled) \(ran)")
                #expect(cancelled.charged.micro == Self.cost(coreSeconds: ran.usage.coreSeconds, memoryMBSeconds: ran.usage.memoryMBSeconds))

                // Without the sandbox a job can reach the scheduler as the service account, and put itself back in the
                // queue to run again on the same hold: the platform cancels it at its next look, and charges what it saw.
                _ = try await Self.register(app, folder: folder, environment: environment, sandbox: "off", name: "test-hpc-open", accounting: true)
                let runs = folder.appendingPathComponent("runs.txt")
                FileManager.default.createFile(atPath: runs.path, contents: nil, attributes: [.posixPermissions: 0o666])
                chmod(runs.path, 0o666)
                let requeueing = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "again", "memoryMB": "100", "wallSeconds": "300", "command": """
                    echo run >> \(runs.path); sleep 2
                    scontrol update jobid=$SLURM_JOB_ID Requeue=1; scontrol requeue $SLURM_JOB_ID; sleep 120
                    """])
                let again = try requeueing.content.decode(ResearchJobDTO.self)
                let stopped = try await Self.wait(app, again.id, within: 60) { $0.status != "queued" && $0.status != "running" }
                #expect(stopped.status == "failed" && stopped.problem?.contains("requeued itself") == true, "\(stopped)")
                #expect(stopped.charged.micro > 0 && stopped.charged.micro < Self.cost(coreSeconds: 60, memoryMBSeconds: 6_000), "\(stopped)")
                try await Task.sleep(for: .seconds(3))
                #expect(try String(contentsOf: runs, encoding: .utf8) == "run\n")
                #expect(try await SlurmCommand.run(["squeue", "-h", "-t", "PD,R,CG"], environment: environment).isEmpty)

                // Or one job allows requeueing and ends (settled), and another job puts it back in the queue while the
                // scheduler still keeps it: the ended job's id claims nothing any more, and its new run is cancelled
                // as a job the platform did not submit.
                let handOff = folder.appendingPathComponent("hand-off.txt")
                FileManager.default.createFile(atPath: handOff.path, contents: nil)
                chmod(handOff.path, 0o666)
                let firstResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "first", "memoryMB": "100", "wallSeconds": "300", "command": """
                    echo first >> \(runs.path); scontrol update jobid=$SLURM_JOB_ID Requeue=1; echo $SLURM_JOB_ID > \(handOff.path); sleep 1
                    """])
                let first = try firstResponse.content.decode(ResearchJobDTO.self)
                let firstDone = try await Self.wait(app, first.id, within: 60) { $0.status != "queued" && $0.status != "running" }
                #expect(firstDone.status == "succeeded", "\(firstDone)")
                let secondResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "second", "memoryMB": "100", "wallSeconds": "300",
                                                                                                "command": "scontrol requeue $(cat \(handOff.path)) && echo requeued >> \(runs.path); sleep 60"])
                let second = try secondResponse.content.decode(ResearchJobDTO.self)
                let firstID = try #require(firstDone.slurmJobID)
                var requeued = false
                for _ in 0..<60 where !requeued {
                    try await Task.sleep(for: .seconds(1))
                    requeued = try String(contentsOf: runs, encoding: .utf8).contains("requeued")
                }
                #expect(requeued, "the second job did not requeue the first")
                var firstQueued = true
                for _ in 0..<90 where firstQueued {
                    try await Task.sleep(for: .seconds(1))
                    firstQueued = !(try await SlurmCommand.run(["squeue", "-h", "-j", String(firstID), "-t", "PD,R,CG"], environment: environment)).isEmpty
                }
                #expect(!firstQueued, "the settled job's new run was left in the queue")
                #expect(try String(contentsOf: runs, encoding: .utf8) == "run\nfirst\nrequeued\n")
                #expect(try await app.testing().sendRequest(.POST, "api/v1/jobs/\(second.id)/cancel", headers: try await app.bearer("ta@demo.test")).status == .ok)
                let secondDone = try await Self.wait(app, second.id, within: 60) { $0.status != "queued" && $0.status != "running" }

                // A job that renames itself to the name slurmdbd gives a job it has no name for yet: its record is
                // waited on for a while, then not believed; charged what the platform saw until it found the job gone
                // from the queue — not the while it waited.
                let renaming = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "renamed", "memoryMB": "100", "wallSeconds": "300",
                                                                                          "command": "scontrol update JobId=$SLURM_JOB_ID JobName=allocation; sleep 4"])
                let renamed = try renaming.content.decode(ResearchJobDTO.self)
                let renamedDone = try await Self.wait(app, renamed.id, within: 240) { $0.status != "queued" && $0.status != "running" }
                #expect(renamedDone.status == "failed" && renamedDone.problem?.contains("altered") == true, "\(renamedDone)")
                #expect(renamedDone.charged.micro > 0 && renamedDone.charged.micro < Self.cost(coreSeconds: 40, memoryMBSeconds: 4_000), "\(renamedDone)")
                let renamedFrom = renamedDone.startedAt ?? renamedDone.createdAt
                #expect(try #require(renamedDone.finishedAt).timeIntervalSince(renamedFrom) >= SlurmJobs.accountingSettles, "\(renamedDone)")

                // A job that gives itself a name that is not UTF-8 does not stop the cluster's other jobs being followed:
                // one beside it ends as usual; it is not believed. (Slurm 22.05 here keeps such bytes as "?"; the readers
                // also take them raw, should a version write them so: SlurmRecordsTests.)
                let garbling = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "garbled", "memoryMB": "100", "wallSeconds": "300",
                                                                                          "command": "scontrol update JobId=$SLURM_JOB_ID JobName=$(printf 'x\\377\\376'); sleep 8"])
                let plainResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "beside", "memoryMB": "100", "wallSeconds": "300",
                                                                                               "command": "sleep 3; echo beside > outputs/beside.txt"])
                let (garbled, plain) = (try garbling.content.decode(ResearchJobDTO.self), try plainResponse.content.decode(ResearchJobDTO.self))
                let plainDone = try await Self.wait(app, plain.id, within: 120) { $0.status != "queued" && $0.status != "running" }
                #expect(plainDone.status == "succeeded" && plainDone.outputs.map(\.path) == ["outputs/beside.txt"], "\(plainDone)")
                let garbledDone = try await Self.wait(app, garbled.id, within: 120) { $0.status != "queued" && $0.status != "running" }
                #expect(garbledDone.status == "failed" && garbledDone.problem?.contains("altered") == true, "\(garbledDone)")

                let after = try await ResearchJobTests.allowance(app)
                #expect(after.held == before.held
                        && after.spent - before.spent == failed.charged.micro + done.charged.micro + cancelled.charged.micro + stopped.charged.micro
                            + firstDone.charged.micro + secondDone.charged.micro + renamedDone.charged.micro + plainDone.charged.micro
                            + garbledDone.charged.micro)
                working.cancel()
                await working.value
            }
        }
    }

    /// A job gone from the queue whose accounting record cannot be read (here slurmdbd stopped, so slurmrestd's
    /// slurmdb API fails for it every time) is not left running, unpaid, for ever: while the reads fail it waits, then,
    /// after `unreadableAfter` (the platform's clock jumps ahead), it is failed with what it wrote, charged what it
    /// asked for until the look that found it gone, once; nothing stays held.
    @Test func aJobWhoseAccountingCannotBeReadIsJudgedWithoutItAfterABound() async throws {
        try await TestSlurmCluster.withREST(accounting: true) { folder, environment, rest in
            try await withTestApp { app in
                let ahead = NIOLockedValueBox<TimeInterval>(0)
                app.clock = PlatformClock { Date().addingTimeInterval(ahead.withLockedValue { $0 }) }
                try await app.loadDemoData(credits: true)
                let variable = "CAMPUSCLOUD_TEST_SLURM_JWT_\(UUID().uuidString.prefix(8).uppercased())"
                setenv(variable, rest.token, 1)
                defer { unsetenv(variable) }
                _ = try await Self.register(app, folder: folder, environment: environment, rest: (rest.url, variable), name: "test-hpc-rest", accounting: true)
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }
                let before = try await ResearchJobTests.allowance(app)

                let response = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "unread", "command": "while [ ! -e go ]; do sleep 0.2; done; echo kept > outputs/kept.txt; sleep 3",
                                                                                          "memoryMB": "100", "wallSeconds": "600"])
                #expect(response.status == .created, "\(response.body.string)")
                let submitted = try response.content.decode(ResearchJobDTO.self)
                let running = try await Self.wait(app, submitted.id, within: 60) { $0.status != "queued" }
                #expect(running.status == "running", "\(running) \(TestSlurmCluster.state(folder, environment: environment))")
                // It ends only once slurmdbd is down (however late a loaded machine's looks come).
                try await TestSlurmCluster.stop("slurmdbd", in: folder)
                let cluster = try #require(try await SlurmCluster.query(on: app.db).first())
                try Data().write(to: SlurmStaging.work(SlurmJobs.folder(submitted.id, in: cluster)).appendingPathComponent("go"))
                let slurmID = String(try #require(running.slurmJobID))
                var left = false
                for _ in 0..<60 where !left {
                    try await Task.sleep(for: .seconds(1))
                    left = try await SlurmCommand.run(["squeue", "-h", "-j", slurmID, "-t", "PD,R,CG,S"], environment: environment).isEmpty
                }
                #expect(left, "\(TestSlurmCluster.state(folder, environment: environment))")
                // Gone from the queue, its record unreadable: looks go on, and it is not judged yet. The first such
                // look is on the job's row (a poller that restarts carries the hour on), not moved by later looks.
                try await Task.sleep(for: .seconds(4))
                #expect(try await ResearchJobTests.job(app, submitted.id).status == "running")
                let unreadSince = try await ResearchJob.find(submitted.id, on: app.db)?.slurmUnreadSince
                #expect(unreadSince != nil)
                try await Task.sleep(for: .seconds(5))
                #expect(try await ResearchJob.find(submitted.id, on: app.db)?.slurmUnreadSince == unreadSince)

                ahead.withLockedValue { $0 = SlurmJobs.unreadableAfter + 60 }
                let ended = try await Self.wait(app, submitted.id, within: 60) { $0.status != "queued" && $0.status != "running" }
                #expect(ended.status == "failed" && ended.problem?.contains("could not be read from the cluster's accounting") == true, "\(ended)")
                #expect(ended.outputs.map(\.path) == ["outputs/kept.txt"], "\(ended.outputs)")
                // What it asked for, from its start until it was found gone: at least the 3 s it slept, not the hour.
                #expect(ended.charged.micro >= Self.cost(coreSeconds: 3, memoryMBSeconds: 300)
                        && ended.charged.micro < Self.cost(coreSeconds: 60, memoryMBSeconds: 6_000), "\(ended)")
                // Looks go on; it is not settled again, and nothing stays held.
                try await Task.sleep(for: .seconds(3))
                let after = try await ResearchJobTests.allowance(app)
                #expect(after.held == before.held && after.spent - before.spent == ended.charged.micro)
                working.cancel()
                await working.value
            }
        }
    }

    /// Every job of a cluster runs as its one service account. In the platform's sandbox (here required) a job reaches
    /// no other job: not the other's folder on the shared filesystem, nor the scheduler (munge's socket and the
    /// cluster's files are out of its sight), so it can neither cancel the other job nor submit one of its own. With
    /// the sandbox off, the same account can do all of it (aJobThatRewritesItsRecord… submits and renames).
    @Test func aJobInTheSandboxCannotReachAnotherJobOrTheScheduler() async throws {
        try await TestSlurmCluster.with { folder, environment in
            try await withTestApp { app in
                try await app.loadDemoData(credits: true)
                let cluster = try await Self.register(app, folder: folder, environment: environment, sandbox: "required")
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }

                let victimResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "victim", "command": "sleep 15; cp secret.txt outputs/kept.txt",
                                                                                                 "memoryMB": "100", "wallSeconds": "120"],
                                                                       files: ["secret.txt": Data("the victim's secret".utf8)])
                #expect(victimResponse.status == .created, "\(victimResponse.body.string)")
                let victim = try victimResponse.content.decode(ResearchJobDTO.self)
                let victimName = SlurmJobs.schedulerName(victim.id)
                let victimFolder = URL(fileURLWithPath: cluster.stagingFolder).appendingPathComponent(victimName).path
                let script = """
                    echo "secret: $(cat \(victimFolder)/work/secret.txt 2>/dev/null || echo none)" > outputs/report.txt
                    if (echo stolen > \(victimFolder)/work/secret.txt) 2>/dev/null; then echo "write: done"; else echo "write: refused"; fi >> outputs/report.txt
                    if scancel --name \(victimName) 2>/dev/null; then echo "scancel: done"; else echo "scancel: refused"; fi >> outputs/report.txt
                    if sbatch --job-name free-ride -o /dev/null --wrap 'sleep 100' >/dev/null 2>&1; then echo "sbatch: done"; else echo "sbatch: refused"; fi >> outputs/report.txt
                    """
                let thiefResponse = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "thief", "command": script, "memoryMB": "100", "wallSeconds": "120"])
                #expect(thiefResponse.status == .created, "\(thiefResponse.body.string)")
                let thief = try thiefResponse.content.decode(ResearchJobDTO.self)
                let thiefEnded = try await Self.wait(app, thief.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                #expect(thiefEnded.status == "succeeded", "\(thiefEnded)")
                let stolen = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(thief.id)/outputs.zip", headers: try await app.bearer("ta@demo.test"))
                let report = try SafeArchive.read(Data(buffer: stolen.body), limits: ResearchJobs.inputLimits)["outputs/report.txt"].map { String(decoding: $0, as: UTF8.self) }
                #expect(report == "secret: none\nwrite: refused\nscancel: refused\nsbatch: refused\n", "\(report ?? "no report")")
                let log = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(thief.id)/logs", headers: try await app.bearer("ta@demo.test")).body.string
                #expect(log.contains("runs in the platform's sandbox"), "\(log)")

                // The other job ran to its end with its own input untouched; nothing else reached the scheduler.
                let victimEnded = try await Self.wait(app, victim.id, within: 90) { $0.status != "queued" && $0.status != "running" }
                #expect(victimEnded.status == "succeeded", "\(victimEnded)")
                let kept = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(victim.id)/outputs.zip", headers: try await app.bearer("ta@demo.test"))
                #expect(try SafeArchive.read(Data(buffer: kept.body), limits: ResearchJobs.inputLimits)["outputs/kept.txt"] == Data("the victim's secret".utf8))
                let names = try await SlurmCommand.run(["squeue", "-h", "-o", "%j"], environment: environment)
                #expect(!names.contains("free-ride"), "\(names)")
                working.cancel()
                await working.value
            }
        }
    }
}

/// The pages: administrators add a cluster on theirs (every problem listed, the form kept), a programme manager sends a
/// project's jobs to it from the project's page (whose job form then offers the cluster's cores and limits), and no
/// one else can do either. No cluster needs to run for this.
@Suite struct SlurmPageTests {
    @Test func administratorsAddClustersAndProgrammeManagersChooseThemOnTheirPages() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let staging = FileManager.default.temporaryDirectory.appendingPathComponent("cc-staging-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: staging) }
            // The cluster's slurm.conf, which the sandbox reads what to hide from.
            let conf = staging.appendingPathComponent("slurm.conf")
            try Data("ClusterName=hpc\n".utf8).write(to: conf)
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            #expect(try await browser.get("/admin/slurm").status == .notFound)
            try await browser.signIn("admin@demo.test")
            let page = try await browser.get("/admin/slurm")
            #expect(page.status == .ok && page.body.string.contains("No cluster yet") && page.body.string.contains("Add a cluster"))
            var fields = ["name": "hpc", "slurmConf": conf.path, "partition": "campus", "serviceAccount": "nobody", "stagingFolder": staging.path,
                          "completionLog": "/var/log/slurm/jobcomp.log", "maxCores": "lots", "maxMemoryMB": "4096", "maxGPUs": "0", "maxMinutes": "120",
                          "pollSeconds": "5"]
            let bad = try await browser.post("/admin/slurm/clusters", fields)
            #expect(bad.status == .unprocessableEntity && bad.body.string.contains("maxCores is a whole number") && bad.body.string.contains(staging.path))
            fields["maxCores"] = "8"
            fields["stagingFolder"] = "relative/folder"
            let badFolder = try await browser.post("/admin/slurm/clusters", fields)
            #expect(badFolder.status == .unprocessableEntity && badFolder.body.string.contains("stagingFolder is the absolute path"))
            #expect(try await SlurmCluster.query(on: app.db).count() == 0)
            fields["stagingFolder"] = staging.path
            let added = try await browser.post("/admin/slurm/clusters", fields)
            #expect(added.status == .seeOther, "\(added.body.string)")
            let listed = try await browser.get("/admin/slurm")
            #expect(listed.body.string.contains("hpc") && listed.body.string.contains("8 cores"))
            let cluster = try #require(try await SlurmCluster.query(on: app.db).first())

            // A member of the project cannot choose; the programme's manager can, and the job form follows.
            let project = try await ResearchJobTests.project(app)
            let projectID = try project.requireID()
            try await browser.signIn("ta@demo.test")
            #expect(!(try await browser.get("/projects/\(projectID)")).body.string.contains("Where the project's jobs run"))
            #expect(try await browser.post("/projects/\(projectID)/compute", ["slurmCluster": cluster.id!.uuidString]).status == .notFound)
            #expect(try await ResearchProject.find(projectID, on: app.db)?.slurmClusterID == nil)
            try await browser.signIn("admin@demo.test")
            #expect(try await browser.get("/projects/\(projectID)").body.string.contains("Where the project's jobs run"))
            let chosen = try await browser.post("/projects/\(projectID)/compute", ["slurmCluster": cluster.id!.uuidString])
            #expect(chosen.status == .seeOther)
            #expect(try await ResearchProject.find(projectID, on: app.db)?.slurmClusterID == cluster.id)
            try await browser.signIn("ta@demo.test")
            let form = try await browser.get("/projects/\(projectID)").body.string
            #expect(form.contains("Jobs run on the Slurm cluster hpc") && form.contains("name=\"cores\"") && form.contains("max=\"7200\""))
            try await browser.signIn("admin@demo.test")
            #expect(try await browser.post("/projects/\(projectID)/compute", ["slurmCluster": "platform"]).status == .seeOther)
            #expect(try await ResearchProject.find(projectID, on: app.db)?.slurmClusterID == nil)
        }
    }

    /// Administrators change a cluster's settings (API and page) and remove it. While a job is live on it, what the
    /// platform follows the job by (the slurm.conf, service account, staging folder, completion log) stays; limits and
    /// the sandbox change. A cluster a project still uses, or with a live job, stays; once neither, it goes, and its
    /// ended jobs show they ran on a removed cluster. No one else may do any of it.
    @Test func administratorsChangeAndRemoveClustersButNotUnderLiveJobs() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("cc-staging-\(UUID().uuidString.prefix(8))")
            let (staging, moved) = (base.appendingPathComponent("a"), base.appendingPathComponent("b"))
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: moved, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: base) }
            let conf = base.appendingPathComponent("slurm.conf")
            try Data("ClusterName=hpc\n".utf8).write(to: conf)
            var settings: [String: Any?] = ["name": "hpc", "slurmConf": conf.path, "partition": "campus", "serviceAccount": "nobody", "stagingFolder": staging.path,
                                            "completionLog": "/var/log/slurm/jobcomp.log", "maxCores": 8, "maxMemoryMB": 4096, "maxMinutes": 120]
            let added = try await SlurmJobTests.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", settings)
            #expect(added.status == .created, "\(added.body.string)")
            let cluster = try added.content.decode(SlurmClusterDTO.self)
            #expect(cluster.sandbox == "required")
            // The sandbox needs the cluster's slurm.conf (what to hide); without one this host can read it is refused.
            var unreadable = settings
            (unreadable["name"], unreadable["slurmConf"]) = ("blind", base.appendingPathComponent("missing.conf").path)
            let blind = try await SlurmJobTests.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", unreadable)
            #expect(blind.status == .conflict && blind.body.string.contains("what the sandbox hides"), "\(blind.body.string)")
            var other = settings
            other["name"] = "other"
            #expect(try await SlurmJobTests.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", other).status == .created)

            // Only administrators; another cluster's name is taken; a malformed setting is 422 and changes nothing.
            settings["maxCores"] = 16
            settings["sandbox"] = "required"
            #expect(try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(cluster.id)", as: "instructor@demo.test", settings).status == .notFound)
            #expect(try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(UUID())", as: "admin@demo.test", settings).status == .notFound)
            var taken = settings
            taken["name"] = "other"
            #expect(try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(cluster.id)", as: "admin@demo.test", taken).status == .conflict)
            var malformed = settings
            malformed["sandbox"] = "sometimes"
            let refused = try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(cluster.id)", as: "admin@demo.test", malformed)
            #expect(refused.status == .unprocessableEntity && refused.body.string.contains("sandbox is one of"), "\(refused.body.string)")
            #expect(try await SlurmCluster.find(cluster.id, on: app.db)?.maxCores == 8)
            // slurmrestd's address and token variable are one value (`rest`): half of it is unreadable (400); a path, or a port past
            // 65535 is malformed (422, as the API document says); a variable this platform lacks is 409.
            let variable = "CAMPUSCLOUD_TEST_UNSET_\(UUID().uuidString.prefix(8).uppercased())"
            for (rest, status, words) in [(["url": "https://slurm.example.edu:6820"], HTTPStatus.badRequest, "tokenVariable' is missing"),
                                          (["url": "https://slurm.example.edu:6820/slurm", "tokenVariable": variable], .unprocessableEntity, "no path"),
                                          (["url": "http://slurm:65536", "tokenVariable": variable], .unprocessableEntity, "rest.url"),
                                          (["url": "https://slurm.example.edu:6820/", "tokenVariable": "lower"], .unprocessableEntity, "rest.tokenVariable"),
                                          (["url": "https://slurm.example.edu:6820/", "tokenVariable": variable], .conflict, "is not set")] {
                var withREST = settings
                withREST["rest"] = rest
                let answer = try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(cluster.id)", as: "admin@demo.test", withREST)
                #expect(answer.status == status && answer.body.string.contains(words), "\(rest): \(answer.body.string)")
            }
            #expect(try await SlurmCluster.find(cluster.id, on: app.db)?.restURL == nil)
            let changed = try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(cluster.id)", as: "admin@demo.test", settings)
            #expect(changed.status == .ok, "\(changed.body.string)")
            #expect(try changed.content.decode(SlurmClusterDTO.self).maxCores == 16 && (try? changed.content.decode(SlurmClusterDTO.self).sandbox) == "required")

            // The project uses it, and a job of it is live there (a stored job, moved onto the cluster).
            let project = try await ResearchJobTests.project(app)
            let projectID = try project.requireID()
            let job = try (try await ResearchJobTests.submit(app, as: "ta@demo.test", ["command": "true", "wallSeconds": "60"])).content.decode(ResearchJobDTO.self)
            try await QueuedJob.query(on: app.db).delete()
            try await ResearchJob.query(on: app.db).filter(\.$id == job.id).set(\.$slurmClusterID, to: cluster.id).update()
            #expect(try await SlurmJobTests.json(app, .PUT, "api/v1/projects/\(projectID)/compute", as: "admin@demo.test", ["slurmCluster": cluster.id.uuidString]).status == .ok)
            var relocated = settings
            relocated["stagingFolder"] = moved.path
            let underLiveJob = try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(cluster.id)", as: "admin@demo.test", relocated)
            #expect(underLiveJob.status == .conflict && underLiveJob.body.string.contains("queued or running"), "\(underLiveJob.body.string)")
            #expect(try await SlurmCluster.find(cluster.id, on: app.db)?.stagingFolder == staging.path)
            settings["maxMinutes"] = 240
            #expect(try await SlurmJobTests.json(app, .PUT, "api/v1/slurm-clusters/\(cluster.id)", as: "admin@demo.test", settings).status == .ok)

            func remove(as email: String) async throws -> TestingHTTPResponse {
                try await app.testing().sendRequest(.DELETE, "api/v1/slurm-clusters/\(cluster.id)", headers: try await app.bearer(email))
            }
            #expect(try await remove(as: "instructor@demo.test").status == .notFound)
            let used = try await remove(as: "admin@demo.test")
            #expect(used.status == .conflict && used.body.string.contains("project(s) send their jobs") && used.body.string.contains("queued or running"), "\(used.body.string)")
            #expect(try await SlurmJobTests.json(app, .PUT, "api/v1/projects/\(projectID)/compute", as: "admin@demo.test", ["slurmCluster": nil]).status == .ok)
            let live = try await remove(as: "admin@demo.test")
            #expect(live.status == .conflict && !live.body.string.contains("project(s)"), "\(live.body.string)")

            // The job ends: the staging folder may move now (on the page), and then the cluster goes (on the page).
            try await ResearchJob.query(on: app.db).filter(\.$id == job.id).set(\.$status, to: .succeeded).update()
            let browser = try Browser(app)
            try await browser.signIn("admin@demo.test")
            let page = try await browser.get("/admin/slurm")
            #expect(page.body.string.contains("Change or remove hpc") && page.body.string.contains("value=\"240\""), "\(page.body.string)")
            var form = ["name": "hpc", "partition": "campus", "serviceAccount": "nobody", "stagingFolder": moved.path, "completionLog": "/var/log/slurm/jobcomp.log",
                        "maxCores": "16", "maxMemoryMB": "4096", "maxGPUs": "0", "maxMinutes": "lots", "pollSeconds": "5", "sandbox": "off"]
            let badForm = try await browser.post("/admin/slurm/clusters/\(cluster.id)", form)
            // Refused, shown again open with what was sent.
            #expect(badForm.status == .unprocessableEntity && badForm.body.string.contains("maxMinutes is a whole number")
                    && badForm.body.string.contains("<details open>") && badForm.body.string.contains("value=\"lots\""), "\(badForm.body.string)")
            form["maxMinutes"] = "240"
            // The form's two slurmrestd fields: one without the other is refused.
            form["restURL"] = "https://slurm.example.edu:6820"
            let halfREST = try await browser.post("/admin/slurm/clusters/\(cluster.id)", form)
            #expect(halfREST.status == .unprocessableEntity && halfREST.body.string.contains("rest.tokenVariable is missing"), "\(halfREST.body.string)")
            form["restURL"] = nil
            #expect(try await browser.post("/admin/slurm/clusters/\(cluster.id)", form).status == .seeOther)
            let saved = try #require(try await SlurmCluster.find(cluster.id, on: app.db))
            #expect(saved.stagingFolder == moved.path && saved.sandboxMode == .off)
            try await browser.signIn("instructor@demo.test")
            #expect(try await browser.post("/admin/slurm/clusters/\(cluster.id)/remove", [:]).status == .notFound)
            try await browser.signIn("admin@demo.test")
            #expect(try await browser.post("/admin/slurm/clusters/\(cluster.id)/remove", [:]).status == .seeOther)
            #expect(try await SlurmCluster.find(cluster.id, on: app.db) == nil)
            #expect(try await ResearchJobTests.job(app, job.id).runsOn == "a removed cluster")
        }
    }
}
