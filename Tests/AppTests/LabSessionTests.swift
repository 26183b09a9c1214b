// Lab sessions (issue 20, second slice): a student's terminal runs in the real sandbox and is reached over the
// platform's WebSocket, only by its owner and only from the platform's pages; the home folder outlives the session;
// time is charged minute by minute from the allowance, a warning comes under 5 minutes and the session stops at
// zero having charged exactly the allowance; a session whose host died is charged once, up to its last report.
import AsyncHTTPClient
import Fluent
import Grading
import Foundation
import Glibc
import Labs
import Ledger
import NIOConcurrencyHelpers
import NIOCore
import Testing
import Vapor
import VaporTesting
import WebSocketKit
@testable import App

/// A clock the test moves by hand.
final class HandClock: Sendable {
    private let time: NIOLockedValueBox<Date>
    init(_ start: Date) { time = NIOLockedValueBox(start) }
    var now: Date { time.withLockedValue { $0 } }
    func advance(_ seconds: TimeInterval) { time.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }
    var clock: PlatformClock { PlatformClock { [self] in now } }
}

@Suite(.serialized) struct LabSessionTests {
    static func terminalLab(_ app: Application, price perHour: String? = nil, at time: Date = Date()) async throws -> (LabEnvironment, Course) {
        let course = try await app.course("CS101")
        let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        var input = LabInput()
        (input.name, input.kind, input.openTo) = ("Shell", "terminal", "students")
        let lab = try await LabEnvironments.create(in: course, input, by: instructor, at: time, writes: app.writes)
        if let perHour {
            try await LedgerPrice(meter: Meter.labHour.name, price: Credits.parse(perHour)!.micro, effectiveFrom: time.addingTimeInterval(-86_400)).create(on: app.db)
        }
        return (lab, course)
    }

    /// Gives the student an allowance of `credits` in the course (granted to the programme and allocated first).
    static func fund(_ app: Application, _ course: Course, _ email: String, _ credits: Int64) async throws -> LedgerAccount {
        let ledger = app.ledger
        let programme = try #require(try await Programme.find(course.$programme.id, on: app.db))
        try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme), amount: Credits(whole: 100), memo: "test")
        try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)), amount: Credits(whole: 100), memo: "test")
        let student = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
        return try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: credits), actor: nil)
    }

    /// What a terminal WebSocket receives, collected.
    final class Screen: Sendable {
        private let text = NIOLockedValueBox("")
        func add(_ buffer: ByteBuffer) { text.withLockedValue { $0 += String(decoding: buffer.readableBytesView, as: UTF8.self) } }
        var contents: String { text.withLockedValue { $0 } }
        func wait(for words: String, seconds: Double = 40) async -> Bool {
            for _ in 0..<Int(seconds * 10) {
                if contents.contains(words) { return true }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
    }

    static func openTerminal(_ app: Application, port: Int, session: UUID, cookie: String, origin: String? = nil,
                             _ body: @escaping @Sendable (WebSocket, Screen) async throws -> Void) async throws {
        var headers: HTTPHeaders = ["Cookie": cookie]
        headers.add(name: "Origin", value: origin ?? "http://127.0.0.1:\(port)")
        let screen = Screen()
        let done = NIOLockedValueBox<Result<Void, any Error>?>(nil)
        try await WebSocket.connect(to: "ws://127.0.0.1:\(port)\(SitePath.labTerminal(.id(session)).url)", headers: headers, on: app.eventLoopGroup) { ws in
            let handlerSet = ws.eventLoop.submit { ws.onBinary { _, buffer in screen.add(buffer) } }
            _ = try? await handlerSet.get()
            do { try await body(ws, screen); done.withLockedValue { $0 = .success(()) } } catch { done.withLockedValue { $0 = .failure(error) } }
            try? await ws.close()
        }
        for _ in 0..<600 where done.withLockedValue({ $0 }) == nil { try await Task.sleep(for: .milliseconds(100)) }
        try #require(done.withLockedValue { $0 }).get()
    }

    /// The platform served on a free port, and `email`'s session of the lab started from the lab's page.
    static func serveAndStart(_ app: Application, lab labID: UUID, as email: String = "student1@demo.test") async throws
        -> (port: Int, student: Browser, session: LabSession) {
        try await app.server.start(address: .hostname("127.0.0.1", port: 0))
        let student = try Browser(app)
        try await student.signIn(email)
        _ = try await student.get(SitePath.lab(.id(labID)).url)
        let started = try await student.post(SitePath.startLab(.id(labID)).url, [:])
        #expect(started.status == .seeOther, "\(started.body.string)")
        let session = try #require(try await LabSession.query(on: app.db).filter(\.$lab.$id == labID).first())
        return (app.http.server.shared.localAddress!.port!, student, session)
    }

    static func type(_ ws: WebSocket, _ line: String) async throws {
        try await ws.send(String(decoding: try JSONSerialization.data(withJSONObject: ["input": line + "\r"]), as: UTF8.self))
    }

    @Test func aStudentsTerminalRunsInTheSandboxOnlyForThemAndKeepsTheirFiles() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (lab, _) = try await Self.terminalLab(app)
            let labID = try lab.requireID()
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            _ = try await student.get(SitePath.lab(.id(labID)).url)
            let started = try await student.post(SitePath.startLab(.id(labID)).url, [:])
            #expect(started.status == .seeOther, "\(started.body.string)")
            let session = try #require(try await LabSession.query(on: app.db).filter(\.$lab.$id == labID).first())
            let sessionID = try session.requireID()
            #expect(started.headers.first(name: .location) == SitePath.labSession(.id(sessionID)).url)
            let page = try await student.get(SitePath.labSession(.id(sessionID)).url)
            let reason = try await LabSession.find(sessionID, on: app.db)?.stopReason
            #expect(page.status == .ok && page.body.string.contains(SitePath.labTerminal(.id(sessionID)).url), "\(reason ?? "")")
            // A second start while one runs is refused.
            let again = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student1@demo.test"))
            #expect(again.status == .conflict)

            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "echo $((6*7)) > answer.txt; echo written-$(cat answer.txt)")
                #expect(await screen.wait(for: "written-42"), "\(screen.contents)")
                // The shell is not the host's: not root, no host files, no network to the platform itself.
                try await Self.type(ws, "echo uid-$(id -u); ls /root >/dev/null 2>&1 || echo no-root-folder")
                #expect(await screen.wait(for: "no-root-folder"), "\(screen.contents)")
                #expect(!screen.contents.contains("uid-0"))
                try await Self.type(ws, "python3 -c \"import socket; socket.create_connection(('127.0.0.1', \(port)), 2)\" 2>/dev/null && echo REACHED$((1+1)) || echo UNREACHABLE$((1+1))")
                #expect(await screen.wait(for: "UNREACHABLE2"), "\(screen.contents)")
                #expect(!screen.contents.contains("REACHED2"))
            }

            // Someone else: the page, the API and the terminal answer 404; a page on another site cannot open it.
            let other = try Browser(app)
            try await other.signIn("student2@demo.test")
            #expect(try await other.get(SitePath.labSession(.id(sessionID)).url).status == .notFound)
            #expect(try await Self.send(app, .GET, "api/v1/lab-sessions/\(sessionID)", as: try await app.bearer("student2@demo.test")).status == .notFound)
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(sessionID)/stop", as: try await app.bearer("instructor@demo.test")).status == .notFound)
            await #expect(throws: (any Error).self) {
                try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(other.cookie)) { _, _ in }
            }
            await #expect(throws: (any Error).self) {
                try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie), origin: "http://evil.test") { _, _ in }
            }

            // Stopped: the home keeps the file; a new session finds it.
            _ = try await student.get(SitePath.labSession(.id(sessionID)).url)
            #expect(try await student.post(SitePath.stopLabSession(.id(sessionID)).url, [:]).status == .seeOther)
            let stopped = try #require(try await LabSession.find(sessionID, on: app.db))
            #expect(stopped.status == .stopped && stopped.stopReason == "Stopped by you.")
            let home = app.labHost.homeFolder(lab: labID, user: session.$user.id)
            #expect(FileManager.default.contents(atPath: home + "/answer.txt") == Data("42\n".utf8))
            let restarted = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student1@demo.test"))
            #expect(restarted.status == .created, "\(restarted.body.string)")
            let second = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: restarted.body)).id
            try await Self.openTerminal(app, port: port, session: second, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "echo found-$(cat answer.txt)")
                #expect(await screen.wait(for: "found-42"), "\(screen.contents)")
            }
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(second)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(second)/stop", as: try await app.bearer("student1@demo.test")).status == .conflict)
        }
    }

    /// Runs the host's preparing pass until `count` of the lab's sessions are ready (and no more are starting).
    static func prepared(_ app: Application, _ lab: UUID, count: Int) async throws -> Set<UUID> {
        for _ in 0..<300 {
            try await app.labHost.prepare(at: Date())
            let ready = await app.labHost.prepared(of: lab), all = await app.labHost.prepared(of: lab, readyOnly: false)
            if ready.count == count && all.count == count { return Set(ready) }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(count) prepared sessions never became ready")
        return []
    }

    @Test func preparedSessionsStartAtOnceWithThePersonsHomeReachNoOneBeforeAndRetireWhenTheLabChanges() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (lab, _) = try await Self.terminalLab(app)
            let labID = try lab.requireID()
            try await LabHomes.setStartFiles(lab, zip: try SafeArchive.make(["README.txt": Data("from-the-start-files\n".utf8),
                                                                             "x/planted.txt": Data("home\n".utf8)]), at: Date(), on: app.db)
            let instructor = try await app.bearer("instructor@demo.test")
            #expect(try await Self.send(app, .PATCH, "api/v1/labs/\(labID)", #"{"readySessions": 51}"#, as: instructor).status == .unprocessableEntity)
            #expect(try await Self.send(app, .PATCH, "api/v1/labs/\(labID)", #"{"readySessions": 2}"#, as: instructor).status == .ok)
            let first = try await Self.prepared(app, labID, count: 2)
            let shown = try await Self.send(app, .GET, "api/v1/labs/\(labID)", as: instructor)
            let dto = try JSONDecoder.iso.decode(LabDTO.self, from: Data(buffer: shown.body))
            #expect(dto.readySessions == 2 && dto.readyNow == 2)
            // Prepared sessions are nobody's: no row, and nobody reaches them.
            #expect(try await LabSession.query(on: app.db).count() == 0)
            // What runs in a prepared session may leave links in its folder where the home's folders will go (here
            // `x`, to a folder of the host's): the home is copied in as the session's own user, so nothing lands on
            // the host.
            let hostFolder = NSTemporaryDirectory() + "cc-host-\(UUID().uuidString.prefix(8))"
            #expect(mkdir(hostFolder, 0o755) == 0)
            defer { try? FileManager.default.removeItem(atPath: hostFolder) }
            for id in first { symlink(hostFolder, app.sandbox.sandbox.sessionFolder(named: LabHost.folderName(id)) + "/x") }

            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            let cookie = try #require(student.cookie)
            await #expect(throws: (any Error).self) {
                try await Self.openTerminal(app, port: port, session: try #require(first.first), cookie: cookie) { _, _ in }
            }

            // A start takes one: the session has its id, the start files are there and writable by the session.
            let bearer = try await app.bearer("student1@demo.test")
            let started = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: bearer)
            #expect(started.status == .created, "\(started.body.string)")
            let sessionID = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: started.body)).id
            #expect(first.contains(sessionID))
            #expect(await app.labHost.prepared(of: labID) == [try #require(first.subtracting([sessionID]).first)])
            // A start that is refused (one is running; no allowance left) gives nothing away.
            #expect(try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: bearer).status == .conflict)
            #expect(await app.labHost.readyCount(of: labID) == 1)
            try await LedgerPrice(meter: Meter.labHour.name, price: Credits.parse("6")!.micro, effectiveFrom: Date().addingTimeInterval(-60)).create(on: app.db)
            _ = try await Self.fund(app, try await app.course("CS101"), "student3@demo.test", 0)
            let broke = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student3@demo.test"))
            #expect(broke.status == .conflict && broke.body.string.contains("more than your allowance has left"), "\(broke.body.string)")
            #expect(await app.labHost.readyCount(of: labID) == 1)
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: cookie) { ws, screen in
                try await Self.type(ws, "cat README.txt; echo more >> README.txt && echo appended-$(wc -l < README.txt); echo 42 > kept.txt; echo uid-$(id -u)")
                #expect(await screen.wait(for: "appended-2"), "\(screen.contents)")
                #expect(screen.contents.contains("from-the-start-files") && !screen.contents.contains("uid-0"), "\(screen.contents)")
            }
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(sessionID)/stop", as: bearer).status == .ok)
            let studentID = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first()).requireID()
            let home = app.labHost.homeFolder(lab: labID, user: studentID)
            #expect(FileManager.default.contents(atPath: home + "/kept.txt") == Data("42\n".utf8))
            #expect((try? FileManager.default.contentsOfDirectory(atPath: hostFolder)) == [])
            #expect(FileManager.default.contents(atPath: home + "/x/planted.txt") == Data("home\n".utf8))
            #expect(FileManager.default.contents(atPath: home + "/README.txt") == Data("from-the-start-files\nmore\n".utf8))
            // Kept whole: nothing to tell.
            let ended = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: try await Self.send(app, .GET, "api/v1/lab-sessions/\(sessionID)", as: bearer).body))
            #expect(ended.status == .stopped && ended.homeSaveProblem == nil, "\(ended)")

            // The host makes up the number again; a change to the lab retires those prepared before it.
            let refilled = try await Self.prepared(app, labID, count: 2)
            #expect(refilled.isSuperset(of: first.subtracting([sessionID])))
            #expect(try await Self.send(app, .PATCH, "api/v1/labs/\(labID)", #"{"memoryMB": 256}"#, as: instructor).status == .ok)
            let changed = try await Self.prepared(app, labID, count: 2)
            #expect(changed.isDisjoint(with: refilled))
            #expect(try await Self.send(app, .PATCH, "api/v1/labs/\(labID)", #"{"readySessions": 0}"#, as: instructor).status == .ok)
            _ = try await Self.prepared(app, labID, count: 0)
            // Their sandboxes end: their folders are gone.
            var left = changed.union(refilled)
            for _ in 0..<100 where !left.isEmpty {
                left = left.filter { FileManager.default.fileExists(atPath: app.sandbox.sandbox.sessionFolder(named: LabHost.folderName($0))) }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(left.isEmpty)
        }
    }

    @Test func homesStartFromTheStartFilesKeepTheirQuotaDownloadAndReset() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (lab, _) = try await Self.terminalLab(app)
            let labID = try lab.requireID()
            lab.homeQuotaMB = 10
            try await lab.save(on: app.db)
            let (instructor, token) = (try await app.bearer("instructor@demo.test"), try await app.bearer("student1@demo.test"))
            var upload = instructor
            upload.contentType = .zip
            let zip = try SafeArchive.make(["welcome.txt": Data("hello\n".utf8), "data/points.csv": Data("x,y\n1,2\n".utf8)])
            let stored = try await app.testing().sendRequest(.PUT, "api/v1/labs/\(labID)/start-files", headers: upload, body: ByteBuffer(data: zip))
            #expect(stored.status == .ok)
            let withFiles = try JSONDecoder.iso.decode(LabDTO.self, from: Data(buffer: stored.body))
            #expect(withFiles.startFiles == ["data/points.csv", "welcome.txt"])
            let hostile = try await app.testing().sendRequest(.PUT, "api/v1/labs/\(labID)/start-files", headers: upload,
                                                             body: ByteBuffer(data: try SafeArchive.make(["../escape.txt": Data("x".utf8)], keepingNames: true)))
            #expect(hostile.status == .unprocessableEntity)
            var byStudent = token
            byStudent.contentType = .zip
            #expect(try await app.testing().sendRequest(.PUT, "api/v1/labs/\(labID)/start-files", headers: byStudent, body: ByteBuffer(data: zip)).status == .notFound)

            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            _ = try await student.get(SitePath.lab(.id(labID)).url)
            #expect(try await student.post(SitePath.startLab(.id(labID)).url, [:]).status == .seeOther)
            let sessionID = try #require(try await LabSession.query(on: app.db).first()).requireID()
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "cat welcome.txt data/points.csv | wc -l | sed 's/^/LINES-/'; echo mine > mine.txt")
                #expect(await screen.wait(for: "LINES-3"), "\(screen.contents)")
                // Past the quota, writes fail inside the lab.
                try await Self.type(ws, "head -c 20000000 /dev/zero > big.bin 2>/dev/null && echo WROTE$((1+1)) || echo FULL$((1+1)); rm -f big.bin")
                #expect(await screen.wait(for: "FULL2"), "\(screen.contents)")
            }
            // Resetting while the session runs is refused: it writes the home back when it ends.
            #expect(try await Self.send(app, .POST, "api/v1/labs/\(labID)/home/reset", as: token).status == .conflict)
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(sessionID)/stop", as: token).status == .ok)
            let home = try JSONDecoder.iso.decode(LabHomeDTO.self, from: Data(buffer: try await Self.send(app, .GET, "api/v1/labs/\(labID)/home", as: token).body))
            // The three files, and whatever bash kept as it ended (its history, when it was told to hang up).
            #expect(home.files >= 3 && home.usedBytes > 0 && home.quotaBytes == 10 << 20 && !home.sessionRunning, "\(home)")
            let download = try await Self.send(app, .GET, "api/v1/labs/\(labID)/home.zip", as: token)
            #expect(download.status == .ok)
            let files = try SafeArchive.read(Data(buffer: download.body))
            #expect(files["mine.txt"] == Data("mine\n".utf8) && files["welcome.txt"] != nil && files["big.bin"] == nil)
            // Another student's home is their own (empty).
            let theirs = try JSONDecoder.iso.decode(LabHomeDTO.self, from: Data(buffer: try await Self.send(app, .GET, "api/v1/labs/\(labID)/home", as: try await app.bearer("student2@demo.test")).body))
            #expect(theirs.files == 0)
            // Reset: the next session starts from the start files again.
            #expect(try await Self.send(app, .POST, "api/v1/labs/\(labID)/home/reset", as: token).status == .noContent)
            let restarted = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: token)
            let second = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: restarted.body)).id
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(second)/stop", as: token).status == .ok)
            let fresh = app.labHost.homeFolder(lab: labID, user: try #require(try await LabSession.find(second, on: app.db)).$user.id)
            #expect(FileManager.default.fileExists(atPath: fresh + "/welcome.txt") && !FileManager.default.fileExists(atPath: fresh + "/mine.txt"))
        }
    }

    @Test func labTimeIsChargedEachMinuteWarnsAndStopsAtZeroHavingChargedExactlyTheAllowance() async throws {
        let clock = HandClock(ISO8601DateFormatter().date(from: "2026-10-05T10:00:00Z")!)
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            let (lab, course) = try await Self.terminalLab(app, price: "6", at: clock.now)  // 0.1 credits a minute
            let allowance = try await Self.fund(app, course, "student1@demo.test", 1)       // ten minutes
            let student = try await app.bearer("student1@demo.test")
            let started = try await Self.send(app, .POST, "api/v1/labs/\(try lab.requireID())/sessions", as: student)
            #expect(started.status == .created, "\(started.body.string)")
            let sessionID = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: started.body)).id
            func view() async throws -> LabSessionDTO {
                try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: try await Self.send(app, .GET, "api/v1/lab-sessions/\(sessionID)", as: student).body))
            }
            func balance() async throws -> (free: Int64, held: Int64) {
                let account = try #require(try await LedgerAccount.find(allowance.requireID(), on: app.db))
                return (account.balance, account.held)
            }
            // The whole allowance is held (it pays for less than 30 minutes).
            #expect(try await balance() == (0, 1_000_000))
            #expect(try await view().secondsLeft == 600)

            for minute in 1...4 {
                clock.advance(60)
                try await app.labHost.meter(at: clock.now)
                #expect(try await view().charged == Credits(micro: Int64(minute) * 100_000))
            }
            #expect(try await view().warning == nil)
            clock.advance(120)
            try await app.labHost.meter(at: clock.now)
            let warned = try await view()
            #expect(warned.secondsLeft == 240 && warned.warning?.contains("runs out in 4 min") == true, "\(warned)")
            // Three more minutes, then the tenth: nothing is left to hold and the session stops.
            for _ in 0..<3 {
                clock.advance(60)
                try await app.labHost.meter(at: clock.now)
            }
            #expect(try await view().status == .running)
            clock.advance(60)
            try await app.labHost.meter(at: clock.now)
            let ended = try await view()
            #expect(ended.status == .stopped && ended.stopReason == "The allowance ran out.", "\(ended)")
            #expect(ended.charged == Credits(whole: 1))
            #expect(try await balance() == (0, 0))
            #expect(try await LedgerHold.query(on: app.db).filter(\.$account.$id == allowance.requireID()).filter(\.$status == .open).count() == 0)
            // Spent exactly once: what the journal settled is the allowance, and ending again changes nothing.
            let settled = try await LedgerEntry.query(on: app.db).filter(\.$kind == .settle).filter(\.$fromAccountID == allowance.requireID()).all().reduce(0) { $0 + $1.amount }
            #expect(settled == 1_000_000)
            try await LabSessions.finish(sessionID, reason: "again", app: app, at: clock.now)
            #expect(try await LabSessions.tick(sessionID, app: app, at: clock.now) == .gone)
            #expect(try await view().stopReason == "The allowance ran out.")
            // With nothing left, a new session is refused with who to ask.
            let refused = try await Self.send(app, .POST, "api/v1/labs/\(try lab.requireID())/sessions", as: student)
            #expect(refused.status == .conflict && refused.body.string.contains("allowance"), "\(refused.body.string)")
        }
    }

    /// An environment that charges CPU time and memory: each hold covers the session at its caps (the worst it could
    /// use), each minute's settle takes what the host measured from the session's cgroup — a real program burning CPU
    /// and holding 100 MB — and the stop settles the rest; the charge is exactly the figures at the prices.
    @Test func cpuAndMemoryAreChargedAsMeasuredFromTheSessionsCgroup() async throws {
        let clock = HandClock(Date(timeIntervalSince1970: Double(Int(Date().timeIntervalSince1970))))
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            let (lab, course) = try await Self.terminalLab(app, price: "6", at: clock.now)  // 0.1 credits a minute
            let labID = try lab.requireID()
            (lab.chargeCPU, lab.chargeMemory) = (true, true)  // terminal defaults: half a core, 512 MB
            try await lab.save(on: app.db)
            for (meter, price) in [(Meter.labCPUHour, "36"), (.labMemoryGBHour, "3.6")] {  // 0.01 a CPU-second, 0.001 a GB-second
                try await LedgerPrice(meter: meter.name, price: Credits.parse(price)!.micro, effectiveFrom: clock.now.addingTimeInterval(-86_400)).create(on: app.db)
            }
            let allowance = try await Self.fund(app, course, "student1@demo.test", 20)
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            _ = try await student.get(SitePath.lab(.id(labID)).url)
            #expect(try await student.post(SitePath.startLab(.id(labID)).url, [:]).status == .seeOther)
            let sessionID = try #require(try await LabSession.query(on: app.db).first()).requireID()
            func account() async throws -> LedgerAccount { try #require(try await LedgerAccount.find(allowance.requireID(), on: app.db)) }
            // The first hold: 30 minutes at the caps — 6 + 0.5 × 36 + 0.5 × 3.6 = 25.8 credits an hour, so 12.9.
            #expect(try await account().held == 12_900_000)
            // The session keeps the terms it started under: the lab changed meanwhile changes its next sessions only.
            (lab.chargeCPU, lab.cpuMillis) = (false, 4_000)
            try await lab.save(on: app.db)

            // A program that holds 100 MB, burns CPU for 3 s and goes on holding the memory, sampled once it holds it
            // (it says so: on a loaded machine Python takes a while to start) and a (platform) minute later.
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "python3 -c 'import time; b = b\"x\" * (100 << 20); print(\"HE\" + \"LD\", flush=True); t = time.time(); "
                                        + "[0 for _ in iter(lambda: time.time() - t < 3, False)]; time.sleep(20)' &")
                #expect(await screen.wait(for: "HELD"), "\(screen.contents)")
                try await Task.sleep(for: .seconds(1.5))
                try await app.labHost.meter(at: clock.now)
                // Not yet a tick: the pass records the figures (the sweep's, should the host die), charging nothing.
                let passed = try #require(try await LabSession.find(sessionID, on: app.db))
                #expect(passed.cpuMs > 0 && passed.heldCPUMs == 0 && passed.charged == 0, "\(passed.cpuMs)")
                try await Task.sleep(for: .seconds(2.5))
                clock.advance(60)
                try await app.labHost.meter(at: clock.now)  // the minute's tick
            }
            let ticked = try #require(try await LabSession.find(sessionID, on: app.db))
            // Measured: the CPU it burnt (at most half a core; on a busy machine less), and 100 MB held, sampled at the
            // minute's two ends (their mean over the minute).
            #expect(ticked.cpuMs > 300 && ticked.cpuMs < 60 * 500, "\(ticked.cpuMs) ms")
            #expect(ticked.memoryMBSeconds > 100 * 25 && ticked.memoryMBSeconds < 512 * 60, "\(ticked.memoryMBSeconds) MB-s")
            let rate = LabRate(perHour: Credits(whole: 6), perCPUHour: Credits(whole: 36), perGBHour: Credits.parse("3.6")!, cpuMillis: 500, memoryMB: 512)
            let firstMinute = LabMetering.cost(LabUsage(seconds: 60, cpuMs: ticked.cpuMs, memoryMBSeconds: ticked.memoryMBSeconds), rate: rate)
            #expect(ticked.charged == firstMinute.micro, "charged \(ticked.charged), the figures say \(firstMinute.micro)")
            #expect(ticked.charged > 100_000 + ticked.cpuMs * 10 - 1_000)  // more than the time alone, by the CPU at least
            #expect((ticked.heldCPUMs, ticked.heldMemoryMBSeconds) == (ticked.cpuMs, ticked.memoryMBSeconds))
            // The next hold covers the next 30 minutes at the (session's) caps again, from what is left.
            #expect(try await account().held == 12_900_000)
            let view = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: try await student.get(SitePath.labSessionStatus(.id(sessionID)).url).body))
            #expect(view.cpuSeconds == (Double(ticked.cpuMs) / 100).rounded() / 10 && view.cpuSeconds > 0.2)

            // Stopped half a minute later, quietly: the last stretch is settled from the final figures, once.
            clock.advance(30)
            _ = try await student.get(SitePath.labSession(.id(sessionID)).url)
            #expect(try await student.post(SitePath.stopLabSession(.id(sessionID)).url, [:]).status == .seeOther)
            let ended = try #require(try await LabSession.find(sessionID, on: app.db))
            #expect(ended.status == .stopped && ended.holdID == nil)
            let last = LabMetering.cost(LabUsage(seconds: 30, cpuMs: ended.cpuMs - ticked.cpuMs, memoryMBSeconds: ended.memoryMBSeconds - ticked.memoryMBSeconds), rate: rate)
            #expect(ended.charged == ticked.charged + last.micro, "\(ended.charged) after \(ticked.charged) and \(last)")
            #expect(ended.cpuMs - ticked.cpuMs < 1_000)  // the program burns no more: it sleeps, beside an idle shell
            let settled = try await LedgerEntry.query(on: app.db).filter(\.$kind == .settle).filter(\.$fromAccountID == allowance.requireID()).all().reduce(0) { $0 + $1.amount }
            let after = try await account()
            #expect(settled == ended.charged && after.held == 0 && after.balance == 20_000_000 - ended.charged)
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    @Test func whatALastKeepLeftOutIsToldByNameAndAFailedOneSaysTheLastSaveStands() {
        #expect(LabHost.lastKeepProblem(.kept(leftOut: []), quotaMB: 10) == nil)
        #expect(LabHost.lastKeepProblem(.kept(leftOut: ["data/b.bin"]), quotaMB: 10)
                == "When the lab stopped, not every file fit its 10 MB disk (a sparse file counts whole): \"data/b.bin\" was not kept. The rest were kept, in name order while they fit.")
        #expect(LabHost.lastKeepProblem(.kept(leftOut: ["a", "b", "c", "d", "e"]), quotaMB: 10)?.contains(": \"a\", \"b\", \"c\" and 2 more were not kept.") == true)
        let failed = LabHost.lastKeepProblem(.failed("cannot make /srv/homes/x.new-1: No space left on device"), quotaMB: 10) ?? ""
        #expect(failed.contains("could not be kept") && failed.contains("as they were last saved") && !failed.contains("/srv"), "\(failed)")
    }

    /// A running session's home is saved every few minutes (should its host die, the person's files are as of the
    /// last save), whole — what was removed since is gone from the copy too — with nothing but its files and folders:
    /// a link to a host file, a pipe, the program's socket and a folder swapped for a link to /etc over and over
    /// while saves run bring nothing of the host's; it is read with the session's own rights (a file unreadable to it
    /// refuses the save). The session runs on; its last keep takes its files in name order while they fit, and its
    /// person is told what it left out. (As root, as CI runs.)
    @Test func aRunningSessionsHomeIsSavedEveryFewMinutesWithOnlyItsOwnFiles() async throws {
        let clock = HandClock(Date())
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            let (lab, _) = try await Self.terminalLab(app, at: clock.now)
            let labID = try lab.requireID(), quota = lab.homeQuotaMB
            let (port, student, session) = try await Self.serveAndStart(app, lab: labID)
            let sessionID = try session.requireID()
            let home = app.labHost.homeFolder(lab: labID, user: session.$user.id)
            func saved(_ path: String) -> String? { FileManager.default.contents(atPath: home + "/" + path).map { String(decoding: $0, as: UTF8.self) } }
            func entries() -> [String] { (FileManager.default.enumerator(atPath: home)?.allObjects as? [String] ?? []).sorted() }

            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "mkdir -p notes && echo saved-$((40+2)) > notes/a.txt && ln -s /etc/shadow shadow && ln -s / root && mkfifo pipe && echo MADE$((1+1))")
                #expect(await screen.wait(for: "MADE2"), "\(screen.contents)")
            }
            // Not yet due: nothing is saved a moment after the start (and the page says so).
            func status() async throws -> LabSessionDTO {
                try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: try await student.get(SitePath.labSessionStatus(.id(sessionID)).url).body))
            }
            await app.labHost.saveHomes(at: clock.now)
            #expect(saved("notes/a.txt") == nil)
            #expect(try await status().homeSavedAt == nil)
            #expect(try await student.get(SitePath.labSession(.id(sessionID)).url).body.string.contains("not yet (every five minutes"))
            clock.advance(LabHost.homeSaveSeconds)
            await app.labHost.saveHomes(at: clock.now)
            #expect(saved("notes/a.txt") == "saved-42\n", "\(entries())")
            // The person sees when.
            let firstSave = clock.now
            #expect(try await status().homeSavedAt.map { abs($0.timeIntervalSince(firstSave)) < 1 } == true)
            #expect(entries() == ["notes", "notes/a.txt"], "\(entries())")
            let stillRunning = await app.labHost.isRunning(sessionID)
            let row = try await LabSession.find(sessionID, on: app.db)
            #expect(stillRunning && row?.status == .running)

            // Read with the session's own rights, not root's: with a file it made unreadable to itself, the save is
            // refused and the last one stands (not a home with that file left out); readable again, it is saved.
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "echo mine > locked.txt && chmod 000 locked.txt && echo more > notes/b.txt && echo LOCKED$((1+1))")
                #expect(await screen.wait(for: "LOCKED2"), "\(screen.contents)")
            }
            clock.advance(LabHost.homeSaveSeconds)
            await app.labHost.saveHomes(at: clock.now)
            #expect(entries() == ["notes", "notes/a.txt"], "\(entries())")
            // A refused save does not say it saved; it says why, on the page too, naming the file.
            #expect(try await status().homeSavedAt.map { abs($0.timeIntervalSince(firstSave)) < 1 } == true)
            let unreadable = try await status().homeSaveProblem ?? ""
            #expect(unreadable.contains("not every file could be read: \"locked.txt\" (permission denied)") && unreadable.contains("Your last save stands"), "\(unreadable)")
            #expect(try await student.get(SitePath.labSession(.id(sessionID)).url).body.string.contains("not every file could be read: &quot;locked.txt&quot; (permission denied)"))
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "chmod 644 locked.txt && echo OPENED$((1+1))")
                #expect(await screen.wait(for: "OPENED2"), "\(screen.contents)")
            }
            clock.advance(LabHost.homeSaveSeconds)
            await app.labHost.saveHomes(at: clock.now)
            #expect(entries() == ["locked.txt", "notes", "notes/a.txt", "notes/b.txt"] && saved("locked.txt") == "mine\n", "\(entries())")
            // Saved again: the problem is gone.
            #expect(try await status().homeSaveProblem == nil)

            // Saved whole: what was removed is gone from the copy. More than the home keeps (a sparse file counts
            // whole) is refused, and said so, until there is room again. A folder swapped for a link to /etc while
            // saves run brings none of /etc.
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "rm -r notes locked.txt; echo later > later.txt; truncate -s \(quota - 1)M big1.bin big2.bin; echo REMOVED$((1+1))")
                #expect(await screen.wait(for: "REMOVED2"), "\(screen.contents)")
            }
            clock.advance(LabHost.homeSaveSeconds)
            await app.labHost.saveHomes(at: clock.now)
            #expect(entries() == ["locked.txt", "notes", "notes/a.txt", "notes/b.txt"], "\(entries())")
            let tooMuch = try await status().homeSaveProblem ?? ""
            // (Rounded up: later.txt's few bytes make it more than 2q − 2 MB.)
            #expect(tooMuch.contains("they add up to \(2 * quota - 1) MB, more than the \(quota) MB the home keeps"), "\(tooMuch)")
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "rm big1.bin big2.bin; echo ROOM$((1+1))")
                #expect(await screen.wait(for: "ROOM2"), "\(screen.contents)")
            }
            clock.advance(LabHost.homeSaveSeconds)
            await app.labHost.saveHomes(at: clock.now)
            #expect(entries() == ["later.txt"], "\(entries())")
            #expect(try await status().homeSaveProblem == nil)
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "mkdir swap && echo mine > swap/own.txt; "
                                    + "printf 'import os\\nwhile 1:\\n    os.rename(\"swap\", \"swap.d\"); os.symlink(\"/etc\", \"swap\"); os.unlink(\"swap\"); os.rename(\"swap.d\", \"swap\")\\n' > /tmp/swap.py; "
                                    + "python3 /tmp/swap.py >/dev/null 2>&1 & echo SWAPPING$((1+1))")
                #expect(await screen.wait(for: "SWAPPING2"), "\(screen.contents)")
            }
            for _ in 0..<20 {
                clock.advance(LabHost.homeSaveSeconds)
                await app.labHost.saveHomes(at: clock.now)
                let found = entries()
                #expect(saved("later.txt") == "later\n", "\(found)")
                #expect(found.allSatisfy { ["later.txt", "swap", "swap/own.txt", "swap.d", "swap.d/own.txt"].contains($0) }, "\(found)")
            }

            // Stopped: its last keep takes its files in name order while they fit its disk (two sparse files, each a
            // MB under it, cannot both), and the person is told which were left out, on the session's page too.
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "kill %1; wait; echo last > last.txt; truncate -s \(quota - 1)M zz1.bin zz2.bin; echo LAST$((1+1))")
                #expect(await screen.wait(for: "LAST2"), "\(screen.contents)")
            }
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(sessionID)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            #expect(saved("last.txt") == "last\n" && saved("later.txt") == "later\n", "\(entries())")
            #expect(entries().contains("zz1.bin") && !entries().contains("zz2.bin"), "\(entries())")
            let ended = try await status()
            let leftOut = ended.homeSaveProblem ?? ""
            #expect(ended.status == .stopped && leftOut.contains("not every file fit its \(quota) MB disk") && leftOut.contains("\"zz2.bin\" was not kept")
                    && !leftOut.contains("zz1.bin"), "\(leftOut)")
            #expect(try await student.get(SitePath.labSession(.id(sessionID)).url).body.string.contains("&quot;zz2.bin&quot; was not kept"))
        }
    }

    @Test func anIdleSessionCountsDownThenStopsButOneWhoseProgramsAreBusyDoesNot() async throws {
        let clock = HandClock(Date(timeIntervalSince1970: Double(Int(Date().timeIntervalSince1970))))  // whole seconds, as the API writes times
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            let (lab, _) = try await Self.terminalLab(app, at: clock.now)
            lab.idleMinutes = 5
            try await lab.save(on: app.db)
            let (port, student, session) = try await Self.serveAndStart(app, lab: try lab.requireID())
            let sessionID = try session.requireID()
            let start = clock.now
            func idleStopsAt() async throws -> Date? {
                try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: try await student.get(SitePath.labSessionStatus(.id(sessionID)).url).body)).idleStopsAt
            }
            // Nothing done: the countdown shows when the session will stop; "I'm still here" starts it again.
            clock.advance(60)
            try await app.labHost.meter(at: clock.now)
            #expect(try await idleStopsAt().map { Int($0.timeIntervalSince(start)) } == 300)
            _ = try await student.get(SitePath.labSession(.id(sessionID)).url)
            #expect(try await student.post(SitePath.keepLabSession(.id(sessionID)).url, [:]).status == .seeOther)
            #expect(try await idleStopsAt().map { Int($0.timeIntervalSince(start)) } == 360)

            // A program left running with nobody typing: busy, so not idle, however long nobody types.
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "(while :; do :; done) & echo STARTED$((1+1))")
                #expect(await screen.wait(for: "STARTED2"), "\(screen.contents)")
            }
            try await app.labHost.meter(at: clock.now)
            try await Task.sleep(for: .seconds(2))
            clock.advance(400)
            try await app.labHost.meter(at: clock.now)
            #expect(try await LabSession.find(sessionID, on: app.db)?.status == .running)

            // Once it is stopped and nothing else happens for the idle time, the session ends, its files kept.
            try await Self.openTerminal(app, port: port, session: sessionID, cookie: try #require(student.cookie)) { ws, screen in
                try await Self.type(ws, "kill %1; echo > still-here.txt; echo KILLED$((1+1))")
                #expect(await screen.wait(for: "KILLED2"), "\(screen.contents)")
            }
            try await Task.sleep(for: .seconds(1))
            try await app.labHost.meter(at: clock.now)
            try await Task.sleep(for: .seconds(2))
            clock.advance(301)
            try await app.labHost.meter(at: clock.now)
            let ended = try #require(try await LabSession.find(sessionID, on: app.db))
            #expect(ended.status == .stopped && ended.stopReason?.contains("idle for 5 minutes") == true, "\(ended.stopReason ?? "")")
            #expect(FileManager.default.fileExists(atPath: app.labHost.homeFolder(lab: try lab.requireID(), user: ended.$user.id) + "/still-here.txt"))
        }
    }

    @Test func hostileCodeInALabIsContained() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (lab, _) = try await Self.terminalLab(app)
            let labID = try lab.requireID()
            (lab.memoryMB, lab.processes) = (128, 64)
            try await lab.save(on: app.db)
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            func session(_ email: String) async throws -> (UUID, String) {
                let browser = try Browser(app)
                try await browser.signIn(email)
                _ = try await browser.get(SitePath.lab(.id(labID)).url)
                let started = try await browser.post(SitePath.startLab(.id(labID)).url, [:])
                let location = started.headers.first(name: .location) ?? ""
                let id = try #require(UUID(uuidString: String(location.split(separator: "/").last ?? "")), "\(started.body.string)")
                return (id, try #require(browser.cookie))
            }
            let (other, otherCookie) = try await session("student2@demo.test")
            try await Self.openTerminal(app, port: port, session: other, cookie: otherCookie) { ws, screen in
                try await Self.type(ws, "echo s2-secret > other-secret.txt; echo SAVED$((1+1))")
                #expect(await screen.wait(for: "SAVED2"), "\(screen.contents)")
            }
            let (mine, cookie) = try await session("student1@demo.test")
            let hostSocket = try HostSocket()
            defer { hostSocket.close() }
            try await Self.openTerminal(app, port: port, session: mine, cookie: cookie) { ws, screen in
                // Its own processes only, and no way to the other session's files.
                try await Self.type(ws, "[ $(ls /proc | grep -c '^[0-9]') -lt 20 ] && echo PROCS-FEW$((1+1)) || echo PROCS-MANY$((1+1))")
                #expect(await screen.wait(for: "PROCS-FEW2"), "\(screen.contents)")
                try await Self.type(ws, "echo FOUND-$(find / -name other-secret.txt 2>/dev/null | wc -l)-END")
                #expect(await screen.wait(for: "FOUND-0-END"), "\(screen.contents)")
                // The terminal's socket swapped for a link to a socket of the host's: the platform, as root, must
                // not follow it (it would carry the next terminal's bytes to any host daemon).
                try await Self.type(ws, "rm -f ~/.terminal.sock; ln -s \(hostSocket.path) ~/.terminal.sock; echo LINKED$((1+1))")
                #expect(await screen.wait(for: "LINKED2"), "\(screen.contents)")
                // A memory bomb is killed at the lab's memory; the shell lives on.
                try await Self.type(ws, "python3 -c 'b = bytearray(600 * 1024 * 1024); b[::4096] = b\"x\" * len(b[::4096])'; echo BOMB-EXIT-$?-ALIVE")
                #expect(await screen.wait(for: "-ALIVE"), "\(screen.contents)")
                #expect(!screen.contents.contains("BOMB-EXIT-0-ALIVE"))
                // A fork bomb meets the lab's process limit.
                try await Self.type(ws, "bash -c ':(){ :|:& };:' 2>/dev/null; echo FORKED$((1+1))")
                #expect(await screen.wait(for: "FORKED2"), "\(screen.contents)")
            }
            // A second terminal of the session is refused, and the host's socket was never reached.
            await #expect(throws: (any Error).self) {
                try await Self.openTerminal(app, port: port, session: mine, cookie: cookie) { ws, screen in
                    try await Self.type(ws, "echo SECOND")
                    if !(await screen.wait(for: "SECOND", seconds: 3)) { throw CancellationError() }
                }
            }
            #expect(!hostSocket.wasReached, "the platform connected to a host socket through the student's link")
            let procs = try #require(try await LabSession.find(mine, on: app.db)).status
            #expect(procs == .running)
            // Stopping it ends every process of it, and the machine starts the next session as before.
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(mine)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            #expect(try await LabSession.find(mine, on: app.db)?.status == .stopped)
            let (again, againCookie) = try await session("student1@demo.test")
            try await Self.openTerminal(app, port: port, session: again, cookie: againCookie) { ws, screen in
                try await Self.type(ws, "echo FRESH$((1+1))")
                #expect(await screen.wait(for: "FRESH2"), "\(screen.contents)")
            }
            await app.labHost.stopAll(reason: "test")
        }
    }

    @Test func aClassStartsTogetherAtItsTimeChargedToTheCourse() async throws {
        let clock = HandClock(ISO8601DateFormatter().date(from: "2026-10-05T09:50:00Z")!)
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            let (lab, course) = try await Self.terminalLab(app, price: "6", at: clock.now)
            _ = try await Self.fund(app, course, "student1@demo.test", 0)
            let labID = try lab.requireID(), instructor = try await app.bearer("instructor@demo.test")
            let path = "api/v1/labs/\(labID)/class-start"
            #expect(try await Self.send(app, .POST, path, #"{"at": "2026-10-05T10:00", "students": "nobody@demo.test"}"#, as: instructor).status == .unprocessableEntity)
            #expect(try await Self.send(app, .POST, path, #"{"at": "2026-10-04T10:00"}"#, as: instructor).status == .unprocessableEntity)
            #expect(try await Self.send(app, .POST, path, #"{}"#, as: try await app.bearer("student1@demo.test")).status == .notFound)
            let scheduled = try await Self.send(app, .POST, path, #"{"at": "2026-10-05T10:00", "students": "student1@demo.test\nstudent2@demo.test", "chargeCourse": true}"#, as: instructor)
            #expect(scheduled.status == .accepted, "\(scheduled.body.string)")
            try await app.drainGradingQueue()
            #expect(try await LabSession.query(on: app.db).count() == 0)  // not yet
            clock.advance(11 * 60)
            try await app.drainGradingQueue()
            let sessions = try await LabSession.query(on: app.db).filter(\.$status == .running).all()
            #expect(sessions.count == 2)
            // Paid by the course: student1's allowance is empty, yet the session runs on a hold of the course's allocation.
            let allocation = try await app.ledger.allocation(of: .course(course))
            for session in sessions {
                let hold = try #require(try await LedgerHold.find(try #require(session.holdID), on: app.db))
                #expect(hold.$account.id == (try allocation.requireID()))
            }
            for session in sessions { await app.labHost.stop(try session.requireID(), reason: "test") }
            #expect(try await LabSession.query(on: app.db).filter(\.$status == .running).count() == 0)
        }
    }

    /// A running session of student1 in a terminal lab at 6 credits an hour and 0.01 a CPU-second, on `host`, held
    /// for (3 credits, 30 minutes) from `now`, last reported by its host 2 minutes later with 20 CPU-seconds used
    /// since the hold; with the allowance (5 credits) it is paid from.
    static func heldSession(_ app: Application, on host: String, at now: Date) async throws -> (LabSession, LedgerAccount) {
        let (lab, course) = try await Self.terminalLab(app, price: "6", at: now)
        try await LedgerPrice(meter: Meter.labCPUHour.name, price: Credits(whole: 36).micro, effectiveFrom: now.addingTimeInterval(-86_400)).create(on: app.db)
        let allowance = try await Self.fund(app, course, "student1@demo.test", 5)
        let student = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
        let hold = try await app.ledger.reserve(allowance, amount: Credits(whole: 3), reason: "lab", key: LabSessions.holdKey(UUID(), 1))
        let session = LabSession()
        (session.$lab.id, session.$user.id, session.status, session.host, session.holdID) = (try lab.requireID(), try student.requireID(), .running, host, try hold.requireID())
        (session.heldFrom, session.heldSeconds, session.holds, session.charged) = (now, 1_800, 1, 0)
        (session.startedAt, session.endsAt, session.seenAt) = (now, now.addingTimeInterval(7_200), now.addingTimeInterval(120))
        (session.chargeCPU, session.cpuMillis, session.memoryMB) = (true, lab.cpuMillis, lab.memoryMB)  // the terms it started under
        (session.cpuMs, session.heldCPUMs) = (31_000, 11_000)
        try await session.create(on: app.db)
        return (session, allowance)
    }

    @Test func aSessionWhoseHostDiedIsChargedOnceUpToItsLastReport() async throws {
        let clock = HandClock(ISO8601DateFormatter().date(from: "2026-10-05T10:00:00Z")!)
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            // A session another host started and held for, which then went quiet 2 minutes after its last hold,
            // its last metering pass having recorded 20 CPU-seconds since.
            let (session, allowance) = try await Self.heldSession(app, on: "gone-host", at: clock.now)
            clock.advance(200)
            #expect(try await LabSessions.sweep(app: app, at: clock.now) == 0)  // not quiet long enough yet
            clock.advance(600)
            #expect(try await LabSessions.sweep(app: app, at: clock.now) == 1)
            #expect(try await LabSessions.sweep(app: app, at: clock.now) == 0)
            let ended = try #require(try await LabSession.find(session.requireID(), on: app.db))
            // Two minutes of time (0.2) and 20 CPU-seconds (0.2).
            #expect(ended.status == .stopped && ended.charged == 400_000 && ended.stopReason?.contains("lab host stopped") == true, "\(ended.charged)")
            let account = try #require(try await LedgerAccount.find(allowance.requireID(), on: app.db))
            #expect(account.balance == 4_600_000 && account.held == 0 && account.spent == 400_000)
        }
    }

    /// A host that looked like it had room but answers "full" when asked (its room was counted before another start
    /// took it) is passed over, and the session starts on the next; when none has room, the person is told the
    /// full host's reason, and nothing is held or written.
    @Test func aStartPassesOverAHostThatAnswersFull() async throws {
        // The web tier runs at most one session itself.
        try await withTestApp(adjust: { $0.labSessions = 1 }) { app in
            try await app.loadDemoData()
            let (lab, _) = try await Self.terminalLab(app)
            let labID = try lab.requireID()
            // The stand-in lab host: it answers every "ready" with the refusal a full host gives.
            let asked = NIOLockedValueBox(0)
            let full = try await Application.make(.testing)
            full.http.server.configuration.hostname = "127.0.0.1"
            full.http.server.configuration.port = 0
            full.post("**") { _ async throws -> Response in
                asked.withLockedValue { $0 += 1 }
                return try Response(status: .conflict, body: .init(data: JSONEncoder().encode(["reason": "This lab host is running all the sessions it may (4)."])))
            }
            /// The sessions started here stopped, and the stand-in host too, whatever happened.
            func cleanUp() async throws {
                for running in try await LabSession.query(on: app.db).filter(\.$status == .running).all() {
                    await app.labHost.stop(try running.requireID(), reason: "test")
                }
                await full.server.shutdown()
                try await full.asyncShutdown()
            }
            do {
                try await full.server.start()
                let fullPort = try #require(full.http.server.shared.localAddress?.port)
                // Said alive with more room than this process, so it is asked first.
                try await app.db.sqlDatabase().raw("""
                    INSERT INTO lab_hosts (name, address, capacity, ready, seen_at)
                    VALUES ('full-host', \(bind: "http://127.0.0.1:\(fullPort)"), 4, '[]', \(bind: Date()))
                    """).run()

                let started = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student1@demo.test"))
                #expect(started.status == .created, "\(started.body.string)")
                let session = try #require(try await LabSession.query(on: app.db).filter(\.$lab.$id == labID).first())
                #expect(session.host == app.labHost.name && session.status == .running)
                #expect(asked.withLockedValue { $0 } == 1, "the full host was asked first")

                // This process is full now too: the full host's reason, and no session or hold for student2.
                let student2 = try #require(try await User.query(on: app.db).filter(\.$email == "student2@demo.test").first())
                let holdsBefore = try await LedgerHold.query(on: app.db).count()
                let refused = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student2@demo.test"))
                #expect(refused.status == .conflict && refused.body.string.contains("running all the sessions it may (4)"), "\(refused.body.string)")
                #expect(asked.withLockedValue { $0 } == 2)
                #expect(try await LabSession.query(on: app.db).filter(\.$user.$id == student2.requireID()).count() == 0)
                #expect(try await LedgerHold.query(on: app.db).count() == holdsBefore)
            } catch {
                try await cleanUp()
                throw error
            }
            try await cleanUp()
        }
    }

    /// A session its own host (this process) does not run (it lost the sandbox, say in a restart): stopping it ends
    /// the row here, charged up to the stop (the host answered, so the time is known to be the session's), once.
    @Test func aSessionItsHostDoesNotRunIsEndedOnStopAndChargedUpToTheStop() async throws {
        let clock = HandClock(ISO8601DateFormatter().date(from: "2026-10-05T10:00:00Z")!)
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            let (session, allowance) = try await Self.heldSession(app, on: app.labHost.name, at: clock.now)
            clock.advance(600)
            #expect(await LabHostLink.local(app.labHost).stop(try session.requireID(), reason: "asked", app: app) == .notRunning)
            try await LabSessions.stop(session, reason: "stopped by its owner", app: app, at: clock.now)
            try await LabSessions.stop(session, reason: "stopped by its owner", app: app, at: clock.now.addingTimeInterval(60))  // again: nothing more
            let ended = try #require(try await LabSession.find(session.requireID(), on: app.db))
            // Ten minutes of time (1.0; up to its last report would be 0.2) and 20 CPU-seconds (0.2).
            #expect(ended.status == .stopped && ended.charged == 1_200_000 && ended.stopReason == "stopped by its owner", "\(ended.charged)")
            let account = try #require(try await LedgerAccount.find(allowance.requireID(), on: app.db))
            #expect(account.balance == 3_800_000 && account.held == 0 && account.spent == 1_200_000)
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    static func send(_ app: Application, _ method: HTTPMethod, _ path: String, _ json: String? = nil, as headers: HTTPHeaders) async throws -> TestingHTTPResponse {
        try await LabEnvironmentTests.send(app, method, path, json, as: headers)
    }

    /// JupyterLab installed from the wheels scripts/install-deps keeps under /usr (no network needed).
    static let jupyterSetup = "pip install --no-index --find-links /usr/local/share/campuscloud/wheels jupyterlab"

    /// A request through the running server, as a browser of the platform sends it (its cookie, its Origin).
    static func browse(_ app: Application, port: Int, _ method: HTTPMethod, _ path: String, cookie: String, origin: Bool = true, json: String? = nil) async throws -> (HTTPResponseStatus, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Cookie", value: cookie)
        if origin { request.headers.add(name: "Origin", value: "http://127.0.0.1:\(port)") }
        if let json { request.headers.add(name: "Content-Type", value: "application/json"); request.body = .bytes(ByteBuffer(string: json)) }
        let response = try await app.http.client.shared.execute(request, timeout: .seconds(60))
        return (response.status, String(buffer: try await response.body.collect(upTo: 16 << 20)))
    }

    @Test func aStudentsJupyterLabRunsCodeThroughTheProxyAndNoOneElseReachesIt() async throws {
        #expect(FileManager.default.fileExists(atPath: "/usr/local/share/campuscloud/wheels/.complete"), "run scripts/install-deps (as root) first: it keeps JupyterLab's wheels")
        try await withTestApp { app in
            try await app.loadDemoData()
            let course = try await app.course("CS101")
            let instructor = try await app.bearer("instructor@demo.test")
            let created = try await Self.send(app, .POST, "api/v1/courses/\(try course.requireID())/labs",
                                              LabEnvironmentTests.json(["name": "Notebooks", "kind": "jupyterlab", "openTo": "students", "setupScript": Self.jupyterSetup]), as: instructor)
            let labID = try JSONDecoder.iso.decode(LabDTO.self, from: Data(buffer: created.body)).id
            try await app.drainGradingQueue()
            let lab = try #require(try await LabEnvironment.find(labID, on: app.db))
            #expect(lab.setupStatus == .ready, "\(lab.setupLog ?? "")")
            #expect(lab.setupLog?.contains("--- check: jupyter-lab --version ---") == true)

            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            let cookie = try #require(student.cookie)
            let started = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student1@demo.test"))
            #expect(started.status == .created, "\(started.body.string)")
            let sessionID = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: started.body)).id
            let base = SitePath.labProxy(.id(sessionID)).url
            // JupyterLab answers its first page through the proxy once it has started; until then the proxy says
            // it is starting (503, try again), never that it failed.
            var page: (HTTPResponseStatus, String) = (.badGateway, "")
            var before: Set<UInt> = []
            for _ in 0..<120 where page.0 != .ok {
                page = try await Self.browse(app, port: port, .GET, base + "lab", cookie: cookie)
                if page.0 != .ok { before.insert(page.0.code); try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(page.0 == .ok && page.1.contains("JupyterLab"), "\(page)")
            #expect(before.isSubset(of: [503]), "\(before)")
            // Someone else reaches nothing; a request that changes something from elsewhere is refused.
            let other = try Browser(app)
            try await other.signIn("student2@demo.test")
            #expect(try await Self.browse(app, port: port, .GET, base + "lab", cookie: try #require(other.cookie)).0 == .notFound)
            #expect(try await Self.browse(app, port: port, .POST, base + "api/kernels", cookie: cookie, origin: false, json: "{}").0 == .forbidden)

            // A kernel runs print(6*7) and says 42 over its WebSocket.
            let kernel = try await Self.browse(app, port: port, .POST, base + "api/kernels", cookie: cookie, json: #"{"name": "python3"}"#)
            #expect(kernel.0 == .created, "\(kernel)")
            let kernelID = try #require((try JSONSerialization.jsonObject(with: Data(kernel.1.utf8)) as? [String: Any])?["id"] as? String)
            let said = NIOLockedValueBox("")
            var headers: HTTPHeaders = ["Cookie": cookie]
            headers.add(name: "Origin", value: "http://127.0.0.1:\(port)")
            let finished = NIOLockedValueBox(false)
            try await WebSocket.connect(to: "ws://127.0.0.1:\(port)\(base)api/kernels/\(kernelID)/channels", headers: headers, on: app.eventLoopGroup) { ws in
                _ = try? await ws.eventLoop.submit { ws.onText { _, text in said.withLockedValue { $0 += text } } }.get()
                let message: [String: Any] = [
                    "header": ["msg_id": UUID().uuidString, "username": "student", "session": UUID().uuidString, "msg_type": "execute_request", "version": "5.3"],
                    "parent_header": [:], "metadata": [:], "channel": "shell",
                    "content": ["code": "print(6*7)", "silent": false, "store_history": false, "user_expressions": [:], "allow_stdin": false],
                ]
                // Once the kernel says it is idle (its first messages), ask it to run the cell.
                for _ in 0..<300 where !said.withLockedValue({ $0.contains("idle") }) { try? await Task.sleep(for: .milliseconds(100)) }
                try? await ws.send(String(decoding: try! JSONSerialization.data(withJSONObject: message), as: UTF8.self))
                for _ in 0..<400 where !said.withLockedValue({ $0.contains(#""text": "42\n""#) || $0.contains(#""text":"42\n""#) }) {
                    try? await Task.sleep(for: .milliseconds(100))
                }
                // The connection stays open as long as the page does (it once was cut after 30 seconds).
                try? await Task.sleep(for: .seconds(35))
                var later = message
                later["header"] = ["msg_id": UUID().uuidString, "username": "student", "session": UUID().uuidString, "msg_type": "execute_request", "version": "5.3"]
                later["content"] = ["code": "print(6*7+1)", "silent": false, "store_history": false, "user_expressions": [:], "allow_stdin": false]
                try? await ws.send(String(decoding: try! JSONSerialization.data(withJSONObject: later), as: UTF8.self))
                for _ in 0..<200 where !said.withLockedValue({ $0.contains(#""text": "43\n""#) || $0.contains(#""text":"43\n""#) }) {
                    try? await Task.sleep(for: .milliseconds(100))
                }
                try? await ws.close()
                finished.withLockedValue { $0 = true }
            }
            // As long as the steps above may take together (idle 30 s, 42 within 40 s, 35 s open, 43 within 20 s), and a
            // little more: on a loaded runner a shorter wait read the output before the second answer came.
            for _ in 0..<1300 where !finished.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(100)) }
            let output = said.withLockedValue { $0 }
            #expect(output.contains(#""text": "42\n""#) || output.contains(#""text":"42\n""#), "\(output.suffix(2000))")
            #expect(output.contains(#""text": "43\n""#) || output.contains(#""text":"43\n""#), "\(output.suffix(2000))")
            // A file saved through JupyterLab is kept when the session stops.
            let saved = try await Self.browse(app, port: port, .PUT, base + "api/contents/notes.txt", cookie: cookie,
                                              json: #"{"type": "file", "format": "text", "content": "six times seven"}"#)
            #expect(saved.0 == .created || saved.0 == .ok, "\(saved)")
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(sessionID)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            #expect(try await Self.browse(app, port: port, .GET, base + "lab", cookie: cookie).0 == .conflict)

            // With a session prepared ahead, the next start answers its first page at once, at the session's own
            // address, with the file from last time.
            let instructorBearer = try await app.bearer("instructor@demo.test")
            #expect(try await Self.send(app, .PATCH, "api/v1/labs/\(labID)", #"{"readySessions": 1}"#, as: instructorBearer).status == .ok)
            let prepared = try await Self.prepared(app, labID, count: 1)
            let again = try await Self.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student1@demo.test"))
            #expect(again.status == .created, "\(again.body.string)")
            let second = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: again.body)).id
            #expect(prepared == [second])
            let secondBase = SitePath.labProxy(.id(second)).url
            let firstPage = try await Self.browse(app, port: port, .GET, secondBase + "lab", cookie: cookie)
            #expect(firstPage.0 == .ok && firstPage.1.contains("JupyterLab"), "\(firstPage)")
            let notes = try await Self.browse(app, port: port, .GET, secondBase + "api/contents/notes.txt", cookie: cookie)
            #expect(notes.0 == .ok && notes.1.contains("six times seven"), "\(notes)")
            #expect(try await Self.browse(app, port: port, .GET, secondBase + "lab", cookie: try #require(other.cookie)).0 == .notFound)
            #expect(try await Self.send(app, .POST, "api/v1/lab-sessions/\(second)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            #expect(try await Self.send(app, .PATCH, "api/v1/labs/\(labID)", #"{"readySessions": 0}"#, as: instructorBearer).status == .ok)
            _ = try await Self.prepared(app, labID, count: 0)
        }
    }
}

/// A Unix socket of the host's that records whether anyone connected (the target of a link a student plants).
final class HostSocket: @unchecked Sendable {
    let path = "/tmp/cc-host-\(UUID().uuidString.prefix(8)).sock"
    private let fd: Int32

    init() throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard bound == 0, listen(fd, 8) == 0 else { throw CancellationError() }
        chmod(path, 0o777)
    }

    var wasReached: Bool {
        let client = accept(fd, nil, nil)
        if client >= 0 { Glibc.close(client); return true }
        return false
    }

    func close() {
        Glibc.close(fd)
        unlink(path)
    }
}
