// Research jobs on a real Slurm cluster (TestSlurmCluster), through the platform: an administrator registers the
// cluster, a programme manager sends the project's jobs to it, and then — with the poller running on a worker — a job
// completes with its outputs and is charged its allocated cores and memory × elapsed time at the price list; a queued
// job and a running job are cancelled and charged only what ran; a job past its time limit ends as timeout and is
// charged the limit; a refused hold submits nothing; a job runs as the service account with none of the platform's
// environment, and the links it leaves in outputs/ bring back nothing of the host's; someone outside the project sees
// nothing. Needs root (slurmd, and the service account `nobody`).
import Fluent
import Foundation
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

    @Test func jobsOnTheProjectsClusterAreHeldQueuedFollowedAndChargedWhatRan() async throws {
        try await TestSlurmCluster.with { folder, environment in
            try await withTestApp { app in
                try await app.loadDemoData(credits: true)
                let staging = folder.appendingPathComponent("staging")
                try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
                let cores = ProcessInfo.processInfo.activeProcessorCount
                let settings: [String: Any?] = [
                    "name": "test-hpc", "slurmConf": environment["SLURM_CONF"], "partition": "campus", "serviceAccount": "nobody",
                    "stagingFolder": staging.path, "completionLog": folder.appendingPathComponent("jobcomp.log").path,
                    "maxCores": cores, "maxMemoryMB": 1024, "maxMinutes": 43_200, "pollSeconds": 1,
                ]
                // Only administrators register clusters; a cluster submitting as root is refused.
                #expect(try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "instructor@demo.test", settings).status == .notFound)
                var asRoot = settings
                asRoot["serviceAccount"] = "root"
                let rootRefused = try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", asRoot)
                #expect(rootRefused.status == .unprocessableEntity && rootRefused.body.string.contains("must not be root"))
                let registered = try await Self.json(app, .POST, "api/v1/slurm-clusters", as: "admin@demo.test", settings)
                #expect(registered.status == .created, "\(registered.body.string)")
                let cluster = try registered.content.decode(SlurmClusterDTO.self)

                // A programme manager sends the project's jobs there; a member of the project may not.
                let project = try await ResearchJobTests.project(app)
                let projectID = try project.requireID()
                #expect(try await Self.json(app, .PUT, "api/v1/projects/\(projectID)/compute", as: "ta@demo.test", ["slurmCluster": cluster.id.uuidString]).status == .forbidden)
                let moved = try await Self.json(app, .PUT, "api/v1/projects/\(projectID)/compute", as: "admin@demo.test", ["slurmCluster": cluster.id.uuidString])
                #expect(moved.status == .ok && (try? moved.content.decode(ProjectDTO.self).slurmCluster) == cluster.id, "\(moved.body.string)")

                // The poller runs on a worker, as in a deployment.
                let worker = JobWorker(app: app, name: "slurm-test-worker", lease: 30)
                let working = Task { await worker.work(poll: .milliseconds(200), sweeps: true) }
                defer { working.cancel() }

                // A refused hold submits nothing: two cores for 30 days is far over the TA's allowance.
                let before = try await ResearchJobTests.allowance(app)
                let greedy = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["command": "true", "cores": String(min(2, cores)), "wallSeconds": "2592000"])
                #expect(greedy.status == .conflict, "\(greedy.body.string)")
                let squeued = try SlurmCommand.runBlocking(["squeue", "-h", "-o", "%j"], environment: environment)
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
                    echo to-stdout; echo to-stderr >&2; sleep 2
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
}
