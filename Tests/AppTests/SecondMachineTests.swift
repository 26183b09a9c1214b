// A second machine, for real: `campuscloud worker` runs in a network namespace of its own, joined to the test's by a
// veth pair, and reaches PostgreSQL only across that link (through a forwarder on the test's side of it, as a
// database host's address would be reached); `campuscloud serve` works on this side. 100 hand-ins are graded across
// both and the second machine is killed (SIGKILL) mid-run: every hand-in still ends with exactly one result and one
// charge. A research job the second machine was running when killed is run again here, its outputs kept, charged
// once. A lab host on the second machine killed with sessions running: one the student stops and one left to the
// sweep each end once, charged up to the host's last report, and the next start goes on to a host that answers, where
// the student's files are. The ledger is conserved. PostgreSQL only (machines do not share a SQLite file) and as root (network
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
        /// The lab homes folder every machine shares (an NFS mount in real life).
        var homes: String { folder.path + "/lab-homes" }

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

        /// `campuscloud worker --labs N` on the second machine: a lab host the web tier reaches across the link.
        func startLabHost(sessions: Int, uids: String) throws -> Process {
            let host = Process()
            host.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            host.arguments = ["--net=/run/netns/\(link.namespace)", "--", CLITests.binary.path, "worker", "--concurrency", "0", "--labs", "\(sessions)",
                              "--labs-listen", "\(link.peerAddress):0"]
            host.environment = ProcessInfo.processInfo.environment.merging([
                "DATABASE_URL": there, "CAMPUSCLOUD_DATA_DIR": folder.path + "/labs-data-\(UUID().uuidString.prefix(8))", "CAMPUSCLOUD_SANDBOX_UIDS": uids,
                "CAMPUSCLOUD_LAB_HOMES": homes, "CAMPUSCLOUD_SECRET": app.platformSecret, "LOG_LEVEL": "error"]) { $1 }
            host.standardOutput = FileHandle.nullDevice
            host.standardError = FileHandle.nullDevice
            try Sandbox.startingProcess { try host.run() }
            return host
        }

        /// The lab host at the second machine's address that is not one of `known`, once it says it is alive.
        func newLabHost(besides known: Set<String>) async throws -> String? {
            for _ in 0..<300 {
                let rows = try await app.db.sqlDatabase().raw("SELECT name, address FROM lab_hosts WHERE capacity > 0").all()
                for row in rows {
                    let name = try row.decode(column: "name", as: String.self), address = try row.decode(column: "address", as: String?.self) ?? ""
                    if !known.contains(name), address.hasPrefix("http://\(link.peerAddress):") { return name }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }

        /// The queue's running jobs held by `process`.
        func running(on process: Process) async throws -> [UUID] {
            let rows = try await app.db.sqlDatabase().raw("SELECT id, lease_owner FROM \(ident: QueuedJob.schema) WHERE status = 'running'").all()
            return try rows.filter { try $0.decode(column: "lease_owner", as: String?.self)?.contains(":\(process.processIdentifier):") == true }
                .map { try $0.decode(column: "id", as: UUID.self) }
        }
    }

    /// The demo on PostgreSQL, the link, the forwarder; checks the second machine reaches the database only across it.
    /// With `labHostsOnly`, the test's application (the web tier) runs no lab sessions itself.
    static func withMachines(labHostsOnly: Bool = false, _ body: (Machines) async throws -> Void) async throws {
        let (folder, _) = try WorkerProcess.folder()
        defer { WorkerProcess.remove(folder) }
        let link = try Link.make()
        defer { link.remove() }
        try await withTestApp(adjust: { if labHostsOnly { ($0.labSessions, $0.labHomes) = (0, folder.path + "/lab-homes") } }) { app in
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

            // Watch who holds what; kill the second machine once it has graded some and holds a running job. The look and the
            // kill must see the same state: the machine is stopped (SIGSTOP) first, so it can record nothing more; what it
            // still holds is read; it is killed if it holds a job besides others it held before, and let go on otherwise.
            var seenOnSecond = Set<UUID>(), heldAtKill: [UUID] = [], killed = false
            let deadline = ContinuousClock.now + .seconds(120)
            while !killed, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                seenOnSecond.formUnion(try await machines.running(on: second))
                let graded = try await Submission.query(on: app.db).filter(\.$id ~~ submissions).filter(\.$status == .graded).count()
                if graded == submissions.count { break }  // all done without a moment to kill it in: fails below
                guard graded >= 20, !seenOnSecond.isEmpty else { continue }
                kill(second.processIdentifier, SIGSTOP)
                try await Task.sleep(for: .milliseconds(300))  // what it sent before it stopped is committed or dropped
                let held = Set(try await machines.running(on: second))
                guard !held.isEmpty, !seenOnSecond.subtracting(held).isEmpty else {
                    kill(second.processIdentifier, SIGCONT)
                    continue
                }
                kill(second.processIdentifier, SIGKILL)
                second.waitUntilExit()
                killed = true
                // What it holds once dead (a lease that ran out while it was stopped may have gone to another worker).
                heldAtKill = try await machines.running(on: second)
                if Set(heldAtKill) != held { print("SecondMachineTests: held \(held.count) when stopped, \(heldAtKill.count) once killed") }
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

    @Test(.enabled(if: available, "PostgreSQL as root: a lab host in a network namespace of its own"), .timeLimit(.minutes(10)))
    func aLabHostOnTheSecondMachineKilledMidSessionEndsEachSessionOnceChargedToItsLastReport() async throws {
        try await Self.withMachines(labHostsOnly: true) { machines in
            let app = machines.app
            let (shell, course) = try await LabSessionTests.terminalLab(app, price: "6")  // 6 credits an hour
            let shellID = try shell.requireID()
            let ledger = app.ledger
            var before: [String: (held: Int64, spent: Int64)] = [:]
            for email in ["student1@demo.test", "student2@demo.test"] {
                let student = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
                let account = try await ledger.allowance(of: student, in: .course(course))
                before[email] = (account.held, account.spent)
            }

            // The lab host on the second machine; the web tier (this application) relays to it across the link.
            let first = try machines.startLabHost(sessions: 2, uids: "62400-62449")
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() } }
            let firstName = try #require(try await machines.newLabHost(besides: []), "the second machine's lab host never said it was alive")
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            let browser = try Browser(app)
            try await browser.signIn("student1@demo.test")
            let cookie = try #require(browser.cookie)
            func start(_ email: String) async throws -> LabSession {
                let started = try await LabSessionTests.send(app, .POST, "api/v1/labs/\(shellID)/sessions", as: try await app.bearer(email))
                #expect(started.status == .created, "\(started.body.string)")
                let id = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: started.body)).id
                return try #require(try await LabSession.find(id, on: app.db))
            }
            // A first session there ends as usual: its home is kept in the shared folder. (A session's files are kept
            // when it ends; one whose host dies keeps what its home held when it started.)
            let earlier = try await start("student1@demo.test")
            let earlierID = try earlier.requireID()
            #expect(earlier.host == firstName)
            try await LabSessionTests.openTerminal(app, port: port, session: earlierID, cookie: cookie) { ws, screen in
                try await LabSessionTests.type(ws, "echo $((6*7)) > answer.txt; echo written-$(cat answer.txt)")
                #expect(await screen.wait(for: "written-42"), "\(screen.contents)")
            }
            #expect(try await LabSessionTests.send(app, .POST, "api/v1/lab-sessions/\(earlierID)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            var ended = [try #require(try await LabSession.find(earlierID, on: app.db))]
            #expect(ended[0].status == .stopped && ended[0].stopReason == "Stopped by you.")

            let mine = try await start("student1@demo.test"), theirs = try await start("student2@demo.test")
            let (mineID, theirsID) = (try mine.requireID(), try theirs.requireID())
            #expect(mine.host == firstName && theirs.host == firstName)
            // A metering pass there records a sign of life after the start; then the second machine dies.
            var seen = false
            for _ in 0..<150 where !seen {
                try await Task.sleep(for: .milliseconds(200))
                let rows = try await LabSession.query(on: app.db).filter(\.$id ~~ [mineID, theirsID]).all()
                seen = rows.count == 2 && rows.allSatisfy { $0.seenAt > $0.startedAt.addingTimeInterval(2) }
            }
            #expect(seen, "the lab host never reported on its sessions")
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()

            // The student stops theirs: the host does not answer, so it ends here, charged up to the host's last report.
            #expect(try await LabSessionTests.send(app, .POST, "api/v1/lab-sessions/\(mineID)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            // The other is left running until its host has been quiet long enough; then the sweep ends it, once.
            #expect(try await LabSessions.sweep(app: app, at: Date()) == 0)
            let quiet = try #require(try await LabSession.find(theirsID, on: app.db))
            #expect(quiet.status == .running)
            #expect(try await LabSessions.sweep(app: app, at: quiet.seenAt.addingTimeInterval(LabSessions.quietSeconds + 1)) == 1)
            #expect(try await LabSessions.sweep(app: app, at: quiet.seenAt.addingTimeInterval(LabSessions.quietSeconds + 1)) == 0)
            for id in [mineID, theirsID] {
                let session = try #require(try await LabSession.find(id, on: app.db))
                ended.append(session)
                #expect(session.status == .stopped && session.stoppedAt == session.seenAt && session.holdID == nil, "\(session.stopReason ?? "")")
                // 6 credits an hour is 1,667 micro-credits a second: charged for the time up to the last report.
                let seconds = session.seenAt.timeIntervalSince(session.startedAt)
                #expect(session.charged > 0 && Double(session.charged) <= (seconds + 1) * 1_667, "\(session.charged) for \(seconds) s")
            }
            #expect(ended[2].stopReason?.contains("lab host stopped") == true)

            // A new start: the dead host still looks alive (it said so under `aliveSeconds` ago) and has the most room,
            // so it is asked first, does not answer, and the start goes on to the one that does; the files are there.
            let second = try machines.startLabHost(sessions: 1, uids: "62450-62499")
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL); second.waitUntilExit() } }
            let secondName = try #require(try await machines.newLabHost(besides: [firstName]))
            let firstSeen = try await app.db.sqlDatabase().raw("SELECT seen_at FROM lab_hosts WHERE name = \(bind: firstName)").first()?.decode(column: "seen_at", as: Date.self)
            #expect(try #require(firstSeen) > Date().addingTimeInterval(-LabHosts.aliveSeconds), "the dead host no longer looks alive: the start below tests nothing")
            let again = try await start("student1@demo.test")
            let againID = try again.requireID()
            #expect(again.host == secondName)
            try await LabSessionTests.openTerminal(app, port: port, session: againID, cookie: cookie) { ws, screen in
                try await LabSessionTests.type(ws, "echo found-$(cat answer.txt)")
                #expect(await screen.wait(for: "found-42"), "\(screen.contents)")
            }
            #expect(try await LabSessionTests.send(app, .POST, "api/v1/lab-sessions/\(againID)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            ended.append(try #require(try await LabSession.find(againID, on: app.db)))

            // Each session's holds settled once, its charge what they settled; nothing still held; spent is the charges.
            for session in ended {
                let sessionID = try session.requireID()
                #expect(session.status == .stopped)
                let holds = try await LedgerHold.query(on: app.db).filter(\.$idempotencyKey ~~ (0..<session.holds).map { LabSessions.holdKey(sessionID, $0 + 1) }).all()
                #expect(holds.count == session.holds && holds.allSatisfy { $0.status == .settled })
                let settles = try await LedgerEntry.query(on: app.db).filter(\.$holdID ~~ holds.compactMap(\.id)).filter(\.$kind == .settle).count()
                #expect(settles == holds.count)
                #expect(holds.reduce(Int64(0)) { $0 + ($1.settledAmount ?? 0) } == session.charged, "session \(sessionID)")
            }
            for (email, charged) in [("student1@demo.test", ended[0].charged + ended[1].charged + ended[3].charged), ("student2@demo.test", ended[2].charged)] {
                let student = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
                let account = try await ledger.allowance(of: student, in: .course(course))
                let was = try #require(before[email])
                #expect(account.held == was.held && account.spent - was.spent == charged, "\(email)")
            }
            try await LedgerStoreTests.expectConserved(app)
        }
    }
}
