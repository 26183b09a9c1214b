// A second machine, for real: `campuscloud worker` runs in a network namespace of its own, joined to the test's by a
// veth pair, and reaches PostgreSQL only across that link (through a forwarder on the test's side of it, as a
// database host's address would be reached); `campuscloud serve` works on this side. 100 hand-ins are graded across
// both and the second machine is killed (SIGKILL) mid-run: every hand-in still ends with exactly one result and one
// charge. A research job the second machine was running when killed is run again here, its outputs kept, charged
// once. The ledger is conserved. PostgreSQL only (machines do not share a SQLite file) and as root (network
// namespaces), as CI runs it.
import Fluent
import Foundation
import Ledger
import Sandbox
import SQLKit
import Testing
import Vapor
@testable import App

@Suite(.serialized) struct SecondMachineTests {
    static var available: Bool { TestDatabase.isPostgres && getuid() == 0 }

    /// A network namespace and the veth pair joining it to this one, on a /30 of its own.
    struct Link {
        let namespace: String, hostSide: String, hostAddress: String, peerAddress: String

        static func make() throws -> Link {
            let tag = String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(6))
            let network = "10.231.\(Int.random(in: 1..<250))", subnet = Int.random(in: 0..<64) * 4
            let made = Link(namespace: "cc-m2-\(tag)", hostSide: "ccm2\(tag)", hostAddress: "\(network).\(subnet + 1)",
                            peerAddress: "\(network).\(subnet + 2)")
            let peer = made.peerAddress
            try run("ip", ["netns", "add", made.namespace])
            do {
                try run("ip", ["link", "add", made.hostSide, "type", "veth", "peer", "name", "ccm2p\(tag)"])
                try run("ip", ["link", "set", "ccm2p\(tag)", "netns", made.namespace])
                try run("ip", ["addr", "add", made.hostAddress + "/30", "dev", made.hostSide])
                try run("ip", ["link", "set", made.hostSide, "up"])
                try run("ip", ["netns", "exec", made.namespace, "ip", "addr", "add", peer + "/30", "dev", "ccm2p\(tag)"])
                try run("ip", ["netns", "exec", made.namespace, "ip", "link", "set", "ccm2p\(tag)", "up"])
                try run("ip", ["netns", "exec", made.namespace, "ip", "link", "set", "lo", "up"])
            } catch {
                made.remove()
                throw error
            }
            return made
        }

        func remove() {
            _ = try? Self.run("ip", ["link", "delete", hostSide])
            _ = try? Self.run("ip", ["netns", "delete", namespace])
        }

        /// Runs a command in the namespace; its exit status.
        func status(_ command: [String]) throws -> Int32 {
            try Self.run("nsenter", ["--net=/run/netns/\(namespace)", "--"] + command, allowFailure: true)
        }

        @discardableResult
        static func run(_ tool: String, _ arguments: [String], allowFailure: Bool = false) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [tool] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try Sandbox.startingProcess { try process.run() }
            process.waitUntilExit()
            if !allowFailure && process.terminationStatus != 0 {
                throw LinkFailure(description: "\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
            }
            return process.terminationStatus
        }
    }

    struct LinkFailure: Error, CustomStringConvertible { let description: String }

    /// Forwards TCP from `address` (a free port) to 127.0.0.1:`port`: the database host as the second machine sees it.
    static func forwarder(on address: String, to port: Int) throws -> (Process, Int) {
        let script = """
            import socket, sys, threading
            server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((sys.argv[1], 0)); server.listen(256); print(server.getsockname()[1], flush=True)
            def pipe(a, b):
                try:
                    while True:
                        data = a.recv(65536)
                        if not data: break
                        b.sendall(data)
                except OSError: pass
                for s in (a, b):
                    try: s.shutdown(socket.SHUT_RDWR)
                    except OSError: pass
            def serve(client):
                try: upstream = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
                except OSError: client.close(); return
                threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
                pipe(upstream, client)
            while True:
                client, _ = server.accept()
                threading.Thread(target=serve, args=(client,), daemon=True).start()
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, address, String(port)]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try Sandbox.startingProcess { try process.run() }
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line.append(byte) }
        guard let listening = Int(String(decoding: line, as: UTF8.self)) else { throw LinkFailure(description: "the forwarder did not start") }
        return (process, listening)
    }

    /// The test's application, and how to start this machine's platform and the second machine's worker.
    struct Machines {
        let app: Application
        let folder: URL
        let link: Link
        /// The database as this machine and as the second machine reach it.
        let here: String, there: String

        func startServe(workers: Int = 2) throws -> Process {
            try LedgerCrashTests.start(["serve", "--hostname", "127.0.0.1", "--port", "\(try LabOriginTests.freePort())"], environment: [
                "DATABASE_URL": here, "CAMPUSCLOUD_DATA_DIR": folder.path + "/server-data", "CAMPUSCLOUD_GRADING_WORKERS": "\(workers)",
                "CAMPUSCLOUD_SANDBOX_UIDS": "62300-62399", "CAMPUSCLOUD_SECRET": app.platformSecret, "LOG_LEVEL": "error"])
        }

        /// `campuscloud worker` on the second machine; its jobs' lease owner contains `:<pid>:`.
        func startSecond() throws -> Process {
            let second = Process()
            second.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            second.arguments = ["--net=/run/netns/\(link.namespace)", "--", CLITests.binary.path, "worker", "--concurrency", "2", "--lease-seconds", "2"]
            second.environment = ProcessInfo.processInfo.environment.merging([
                "DATABASE_URL": there, "CAMPUSCLOUD_DATA_DIR": folder.path + "/worker-data", "CAMPUSCLOUD_SANDBOX_UIDS": "62200-62299",
                "CAMPUSCLOUD_SECRET": app.platformSecret, "LOG_LEVEL": "error"]) { $1 }
            second.standardOutput = FileHandle.nullDevice
            second.standardError = FileHandle.nullDevice
            try Sandbox.startingProcess { try second.run() }
            return second
        }

        /// The queue's running jobs held by `process`.
        func running(on process: Process) async throws -> [UUID] {
            let rows = try await app.db.sqlDatabase().raw("SELECT id, lease_owner FROM \(ident: QueuedJob.schema) WHERE status = 'running'").all()
            return try rows.filter { try $0.decode(column: "lease_owner", as: String?.self)?.contains(":\(process.processIdentifier):") == true }
                .map { try $0.decode(column: "id", as: UUID.self) }
        }
    }

    /// The demo on PostgreSQL, the link, the forwarder; checks the second machine reaches the database only across it.
    static func withMachines(_ body: (Machines) async throws -> Void) async throws {
        let (folder, _) = try WorkerProcess.folder()
        defer { WorkerProcess.remove(folder) }
        let link = try Link.make()
        defer { link.remove() }
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            guard case .postgres(let raw, _, _, _) = app.platformConfig.database, var url = URLComponents(string: raw) else {
                Issue.record("not PostgreSQL")
                return
            }
            let databasePort = url.port ?? 5432
            let (forwarder, forwardedPort) = try Self.forwarder(on: link.hostAddress, to: databasePort)
            defer { kill(forwarder.processIdentifier, SIGKILL); forwarder.waitUntilExit() }
            // The second machine reaches the database at the link's address, and not at this machine's loopback.
            #expect(try link.status(["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', \(databasePort)), timeout=2)"]) != 0)
            #expect(try link.status(["python3", "-c", "import socket; socket.create_connection(('\(link.hostAddress)', \(forwardedPort)), timeout=2)"]) == 0)
            url.host = link.hostAddress
            url.port = forwardedPort
            try await body(Machines(app: app, folder: folder, link: link, here: raw, there: url.string!))
        }
    }

    @Test(.enabled(if: available, "PostgreSQL as root: a worker in a network namespace of its own"), .timeLimit(.minutes(10)))
    func aSecondMachineKilledMidRunLeavesEveryHandInOneResultAndOneCharge() async throws {
        try await Self.withMachines { machines in
            let app = machines.app
            // 100 hand-ins from 20 students (each within the demo's allowance), queued before any worker starts.
            // Each run takes a moment (a third of a second), so the second machine is killed in the middle of some.
            let tests = #"{"tests": [{"name": "hello", "run": "sleep 0.3; python3 hello.py", "output": "Hello", "comparison": "included", "timeout": 10, "points": 5}]}"#
            let assignmentID = try await GradingFlowTests.createAssignment(app, ["title": "Hello across machines", "kind": "classroom",
                                                                                 "classroomTests": tests, "timeLimitSeconds": 20])
            var submissions: [UUID] = []
            for index in 1...20 {
                let headers = try await app.bearer("student\(index)@demo.test")
                for _ in 0..<5 {
                    let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: headers)
                    #expect(handIn.status == .created, "\(handIn.body.string)")
                    submissions.append(try handIn.content.decode(SubmissionDTO.self).id)
                }
            }
            #expect(submissions.count == 100)

            // This machine: the platform with two workers. The second: a worker with two.
            let server = try machines.startServe()
            defer { WorkerProcess.stop(server) }
            let second = try machines.startSecond()
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL); second.waitUntilExit() } }

            // Watch who holds what; kill the second machine once it has graded some and holds a running job.
            var seenOnSecond = Set<UUID>(), heldAtKill: [UUID] = []
            for _ in 0..<1200 where heldAtKill.isEmpty {
                try await Task.sleep(for: .milliseconds(50))
                let onSecond = try await machines.running(on: second)
                seenOnSecond.formUnion(onSecond)
                let graded = try await Submission.query(on: app.db).filter(\.$id ~~ submissions).filter(\.$status == .graded).count()
                if graded >= 20, !onSecond.isEmpty, seenOnSecond.count > onSecond.count {
                    kill(second.processIdentifier, SIGKILL)
                    second.waitUntilExit()
                    // Read once it is dead: what it still holds (a job may have finished between the look and the kill).
                    heldAtKill = try await machines.running(on: second)
                    if heldAtKill.isEmpty { Issue.record("every job the second machine held finished before it was killed") }
                    break
                }
            }
            #expect(!heldAtKill.isEmpty, "the second machine never held a job mid-run alongside finished ones")

            // The platform finishes everything, the killed machine's jobs once their leases have run out.
            var left = submissions.count
            for _ in 0..<900 where left > 0 {
                try await Task.sleep(for: .milliseconds(200))
                left = try await Submission.query(on: app.db).filter(\.$id ~~ submissions).filter(\.$status != .graded).count()
            }
            #expect(left == 0, "\(left) hand-ins were not graded")
            let graded = try await Submission.query(on: app.db).filter(\.$id ~~ submissions).all()
            #expect(graded.allSatisfy { $0.status == .graded && $0.score == 5 })
            for submission in graded {
                let holdID = try #require(submission.holdID)
                let hold = try #require(try await LedgerHold.find(holdID, on: app.db))
                let settles = try await LedgerEntry.query(on: app.db).filter(\.$holdID == holdID).filter(\.$kind == .settle).count()
                let submissionID = try submission.requireID()
                #expect(hold.status == .settled && settles == 1 && submission.charged == hold.settledAmount, "hand-in \(submissionID)")
                let results = try await SubmissionTest.query(on: app.db).filter(\.$submission.$id == submissionID).count()
                #expect(results == 1, "hand-in \(submissionID) has \(results) test results")
            }
            // The jobs the second machine held when it died were run again, here, and recorded once.
            for jobID in heldAtKill {
                let job = try #require(try await QueuedJob.find(jobID, on: app.db))
                #expect(job.status == .done && job.attempts == 2 && job.leaseOwner == nil)
            }
            // Both machines graded: jobs the second machine finished before it died kept its one attempt.
            let finishedThere = try await QueuedJob.query(on: app.db).filter(\.$id ~~ Array(seenOnSecond.subtracting(heldAtKill)))
                .filter(\.$attempts == 1).filter(\.$status == .done).count()
            #expect(finishedThere > 0)
            print("SecondMachineTests: the second machine finished \(finishedThere) jobs and held \(heldAtKill.count) when killed; all \(graded.count) graded once")
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    @Test(.enabled(if: available, "PostgreSQL as root: a worker in a network namespace of its own"), .timeLimit(.minutes(10)))
    func aResearchJobWhoseSecondMachineDiesIsRunAgainHereAndChargedOnce() async throws {
        try await Self.withMachines { machines in
            let app = machines.app
            let before = try await ResearchJobTests.allowance(app)
            let script = Data("import time\ntime.sleep(3)\nopen('outputs/count.txt', 'w').write(str(len(open('data.csv').read().split())))\n".utf8)
            let response = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "count slowly", "command": "python3 count.py", "wallSeconds": "60"],
                                                             files: ["count.py": script, "data.csv": Data("a\nb\nc\n".utf8)])
            #expect(response.status == .created, "\(response.body.string)")
            let jobID = try response.content.decode(ResearchJobDTO.self).id
            // Only the second machine works at first: it takes the job; it is killed while the job runs.
            let second = try machines.startSecond()
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL); second.waitUntilExit() } }
            var taken = false
            for _ in 0..<600 where !taken {
                try await Task.sleep(for: .milliseconds(50))
                let running = try await ResearchJob.find(jobID, on: app.db)?.status == .running
                taken = try await !machines.running(on: second).isEmpty && running
            }
            #expect(taken, "the second machine never ran the job")
            try await Task.sleep(for: .milliseconds(500))
            kill(second.processIdentifier, SIGKILL)
            second.waitUntilExit()
            #expect(try await ResearchJob.find(jobID, on: app.db)?.status == .running)

            // This machine's platform takes it over once the lease has run out, runs it again and charges it once.
            let server = try machines.startServe(workers: 1)
            defer { WorkerProcess.stop(server) }
            var finished: ResearchJob?
            for _ in 0..<600 where finished == nil {
                try await Task.sleep(for: .milliseconds(200))
                finished = try await ResearchJob.find(jobID, on: app.db).flatMap { $0.status.isFinished ? $0 : nil }
            }
            let job = try #require(finished, "the job never finished")
            #expect(job.status == .succeeded, "\(job.problem ?? "")")
            let queued = try #require(try await QueuedJob.find(try #require(job.queueJobID), on: app.db))
            #expect(queued.status == .done && queued.attempts == 2)
            let done = try await ResearchJobTests.job(app, jobID)
            #expect(done.outputs.map(\.path) == ["count.txt"])
            let holdID = try #require(job.holdID)
            let hold = try #require(try await LedgerHold.find(holdID, on: app.db))
            let settles = try await LedgerEntry.query(on: app.db).filter(\.$holdID == holdID).filter(\.$kind == .settle).count()
            #expect(hold.status == .settled && settles == 1 && hold.settledAmount == job.charged && job.charged > 0)
            let after = try await ResearchJobTests.allowance(app)
            #expect(after.held == before.held && after.spent - before.spent == job.charged)
            try await LedgerStoreTests.expectConserved(app)
        }
    }
}
