// Lab hosts on other machines (issue 20): a `campuscloud worker --labs N` process, on its own data folder and uids,
// runs the sessions the web tier starts there; the web tier relays the terminal's WebSocket and JupyterLab's HTTP to
// it with the session's key, which never reaches the lab's program; the host refuses anyone without that key; a
// stop goes through it, and the files land in the shared homes folder.
import AsyncHTTPClient
import Fluent
import Foundation
import Glibc
import NIOCore
import Sandbox
import Testing
import Vapor
import VaporTesting
import WebSocketKit
@testable import App

@Suite(.serialized) struct LabHostTests {
    /// A stand-in for JupyterLab (installed by the lab's set-up script): says its version, and answers every request
    /// on its socket with what it was sent.
    static let fakeJupyter = #"""
mkdir -p /usr/local/bin && cat > /usr/local/bin/jupyter-lab <<'EOF'
#!/usr/bin/python3
import http.server, os, socketserver, sys, time
START = time.time()
if "--version" in sys.argv:
    print("4.0.0-stand-in"); sys.exit(0)
path = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--sock=")][0]
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/cookie"):
            self.send_response(200)
            self.send_header("Set-Cookie", "campuscloud_session=planted; Path=/")
            self.send_header("Set-Cookie", "_xsrf=lab-own; Path=/")
            self.send_header("Set-Cookie", "wide=1; Path=/; Domain=localhost")
            self.send_header("Clear-Site-Data", '"cookies"')
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        if "/files/" in self.path:
            self.send_response(200)
            self.send_header("Content-Security-Policy", "frame-ancestors 'self'; sandbox allow-scripts")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"file")
            return
        body = ("stand-in saw " + self.path + " cookie=" + str(self.headers.get("Cookie")) + " key=" + str(self.headers.get("X-CampusCloud-Lab-Key")) + " started=" + str(START)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_GET
    def address_string(self):
        return "lab"
if os.path.exists(path):
    os.unlink(path)
socketserver.UnixStreamServer(path, Echo).serve_forever()
EOF
chmod 755 /usr/local/bin/jupyter-lab
"""#

    @Test func aLabHostInAnotherProcessRunsSessionsTheWebTierRelaysWithTheSessionsKey() async throws {
        let (folder, database) = try WorkerProcess.folder()
        defer { WorkerProcess.remove(folder) }
        let homes = folder.appendingPathComponent("lab-homes").path
        // The web tier runs no sessions itself.
        try await withTestApp(database: database, adjust: { ($0.labSessions, $0.labHomes) = (0, homes) }) { app in
            try await app.loadDemoData()
            let course = try await app.course("CS101")
            let (instructor, student) = (try await app.bearer("instructor@demo.test"), try await app.bearer("student1@demo.test"))
            let (shell, _) = try await LabSessionTests.terminalLab(app)
            let shellID = try shell.requireID()
            let created = try await LabSessionTests.send(app, .POST, "api/v1/courses/\(try course.requireID())/labs", LabEnvironmentTests.json(
                ["name": "Notebooks", "kind": "jupyterlab", "setupScript": Self.fakeJupyter, "openTo": "students"]), as: instructor)
            #expect(created.status == .created, "\(created.body.string)")
            let notebooksID = try LabEnvironmentTests.lab(created).id
            try await app.drainGradingQueue()
            #expect(try await LabEnvironment.find(notebooksID, on: app.db)?.setupStatus == .ready)

            // No lab host yet: a start is refused, saying why, and nothing is held or written.
            let refused = try await LabSessionTests.send(app, .POST, "api/v1/labs/\(shellID)/sessions", as: student)
            #expect(refused.status == .conflict && refused.body.string.contains("lab host"), "\(refused.body.string)")
            #expect(try await LabSession.query(on: app.db).count() == 0)

            // The lab host: another process, its own data folder and uids, the same secret and homes folder.
            let process = try WorkerProcess.start(["--concurrency", "0", "--labs", "3", "--labs-listen", "127.0.0.1:0"], app: app, folder: folder,
                                                  environment: ["CAMPUSCLOUD_LAB_HOMES": homes, "CAMPUSCLOUD_SANDBOX_UIDS": "62000-62099", "LOG_LEVEL": "warning"])
            defer { WorkerProcess.stop(process) }
            var host: (name: String, address: String)?
            for _ in 0..<300 where host == nil {
                try await Task.sleep(for: .milliseconds(100))
                if let row = try await app.db.sqlDatabase().raw("SELECT name, address FROM lab_hosts").first() {
                    host = (try row.decode(column: "name", as: String.self), try row.decode(column: "address", as: String.self))
                }
            }
            let labHost = try #require(host, "the lab host never said it was alive")
            #expect(labHost.name != app.labHost.name && labHost.address.hasPrefix("http://127.0.0.1:"))

            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = app.http.server.shared.localAddress!.port!
            let browser = try Browser(app)
            try await browser.signIn("student1@demo.test")
            let cookie = try #require(browser.cookie)

            // A terminal there, through the web tier's WebSocket.
            _ = try await browser.get(SitePath.lab(.id(shellID)).url)
            #expect(try await browser.post(SitePath.startLab(.id(shellID)).url, [:]).status == .seeOther)
            let terminal = try #require(try await LabSession.query(on: app.db).filter(\.$lab.$id == shellID).first())
            let terminalID = try terminal.requireID()
            #expect(terminal.host == labHost.name && terminal.status == .running, "\(terminal.stopReason ?? "")")
            try await LabSessionTests.openTerminal(app, port: port, session: terminalID, cookie: cookie) { ws, screen in
                try await LabSessionTests.type(ws, "echo $((6*7)) > answer.txt; echo written-$(cat answer.txt)")
                #expect(await screen.wait(for: "written-42"), "\(screen.contents)")
            }

            // JupyterLab there, through the web tier's HTTP relay: the platform's cookie and the session's key stay
            // out of the lab; JupyterLab's own cookies pass.
            let notebook = try await LabSessionTests.send(app, .POST, "api/v1/labs/\(notebooksID)/sessions", as: student)
            #expect(notebook.status == .created, "\(notebook.body.string)")
            let notebookID = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: notebook.body)).id
            var seen = (HTTPResponseStatus.serviceUnavailable, "")
            for _ in 0..<300 where seen.0 != .ok {
                seen = try await LabSessionTests.browse(app, port: port, .GET, SitePath.labProxy(.id(notebookID)).url + "api/status?x=1",
                                                        cookie: cookie + "; _xsrf=lab-own")
                if seen.0 != .ok { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(seen.0 == .ok && seen.1.hasPrefix("stand-in saw \(SitePath.labProxy(.id(notebookID)).url)api/status?x=1 cookie=_xsrf=lab-own key=None "), "\(seen)")
            // Another student: 404 at the web tier, before the lab host is asked.
            let other = try Browser(app)
            try await other.signIn("student2@demo.test")
            #expect(try await LabSessionTests.browse(app, port: port, .GET, SitePath.labProxy(.id(notebookID)).url + "api/status", cookie: try #require(other.cookie)).0 == .notFound)

            // The lab host itself: nothing without the session's key, nor with another session's.
            func direct(_ method: HTTPMethod, _ path: String, key: String?, body: String = #"{"reason": "attacker"}"#) async throws -> (HTTPResponseStatus, String) {
                var request = HTTPClientRequest(url: labHost.address + path)
                request.method = method
                if let key { request.headers.add(name: LabHosts.keyHeader, value: key) }
                if method == .POST { request.headers.add(name: .contentType, value: "application/json"); request.body = .bytes(ByteBuffer(string: body)) }
                let response = try await app.http.client.shared.execute(request, timeout: .seconds(30))
                return (response.status, String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            let secret = app.platformSecret
            let (relayKey, controlKey) = (LabHosts.key(for: notebookID, .relay, secret: secret), LabHosts.key(for: notebookID, .control, secret: secret))
            let labPath = SitePath.labProxy(.id(notebookID)).url + "api/status"
            for key in [nil, LabHosts.key(for: terminalID, .relay, secret: secret), controlKey,
                        LabHosts.key(for: notebookID, .relay, secret: String(repeating: "x", count: 40))] {
                #expect(try await direct(.GET, labPath, key: key).0 == .forbidden)
                #expect(try await direct(.GET, labPath.uppercased(), key: key).0 != .ok)
            }
            for action in ["ready", "begin", "give-back", "stop", "keep"] {
                for key in [nil, relayKey, LabHosts.key(for: terminalID, .control, secret: secret)] {
                    #expect(try await direct(.POST, LabHostRoutes.controlPath(notebookID, action), key: key).0 == .forbidden, "\(action)")
                }
            }
            #expect(try await direct(.GET, LabHostRoutes.controlPath(notebookID, "idle"), key: relayKey).0 == .forbidden)
            #expect(try await direct(.GET, SitePath.labTerminal(.id(terminalID)).url, key: LabHosts.key(for: terminalID, .control, secret: secret)).0 == .forbidden)
            #expect(try await direct(.GET, "/api/v1/courses", key: nil).0 == .notFound)  // a lab host serves nothing else
            // With the right key, a second start of a session that runs, or one with a token the host never gave, does nothing.
            let replay = try await direct(.POST, LabHostRoutes.controlPath(notebookID, "begin"), key: controlKey,
                                          body: #"{"token": "\#(UUID().uuidString)"}"#)
            #expect(replay.0 == .conflict, "\(replay)")
            let reuse = try await direct(.POST, LabHostRoutes.controlPath(notebookID, "ready"), key: controlKey,
                                         body: #"{"lab": "\#(notebooksID.uuidString)", "user": "\#(terminal.$user.id.uuidString)"}"#)
            #expect(reuse.0 == .conflict && reuse.1.contains("already started"), "\(reuse)")
            #expect(try await LabSession.find(notebookID, on: app.db)?.status == .running)
            let right = try await direct(.GET, SitePath.labProxy(.id(notebookID)).url + "x", key: relayKey)
            #expect(right.0 == .ok && right.1.contains("stand-in saw"))
            // What the lab answers cannot reach into the platform's origin: its session cookie, its storage.
            var cookieRequest = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(SitePath.labProxy(.id(notebookID)).url)cookie")
            cookieRequest.headers.add(name: "Cookie", value: cookie)
            let planted = try await app.http.client.shared.execute(cookieRequest, timeout: .seconds(30))
            let setCookies = planted.headers["Set-Cookie"]
            #expect(planted.status == .ok && !setCookies.contains { $0.contains("planted") || $0.contains("wide=") } && setCookies.contains { $0.hasPrefix("_xsrf=lab-own") }
                    && planted.headers["Clear-Site-Data"].isEmpty, "\(planted.headers)")

            // Stops go through the lab host: the session is finished there, its files in the shared homes folder.
            #expect(try await LabSessionTests.send(app, .POST, "api/v1/lab-sessions/\(terminalID)/stop", as: student).status == .ok)
            let stopped = try #require(try await LabSession.find(terminalID, on: app.db))
            #expect(stopped.status == .stopped && stopped.stopReason == "Stopped by you.")
            let user = terminal.$user.id
            #expect(FileManager.default.contents(atPath: homes + "/\(shellID.uuidString.lowercased())/\(user.uuidString.lowercased())/answer.txt") == Data("42\n".utf8))
            #expect(try await LabSessionTests.send(app, .POST, "api/v1/lab-sessions/\(notebookID)/stop", as: student).status == .ok)
            #expect(try await LabSession.find(notebookID, on: app.db)?.status == .stopped)

            // Sessions prepared ahead on the lab host: counted on the lab's page, and the next start takes one (its
            // program was running before the start was asked for).
            #expect(try await LabSessionTests.send(app, .PATCH, "api/v1/labs/\(notebooksID)", #"{"readySessions": 1}"#, as: instructor).status == .ok)
            var readyNow = 0
            for _ in 0..<300 where readyNow < 1 {
                try await Task.sleep(for: .milliseconds(200))
                readyNow = try LabEnvironmentTests.lab(try await LabSessionTests.send(app, .GET, "api/v1/labs/\(notebooksID)", as: instructor)).readyNow ?? 0
            }
            #expect(readyNow == 1)
            let asked = Date().timeIntervalSince1970
            let taken = try await LabSessionTests.send(app, .POST, "api/v1/labs/\(notebooksID)/sessions", as: student)
            #expect(taken.status == .created, "\(taken.body.string)")
            let takenID = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: taken.body)).id
            let answer = try await LabSessionTests.browse(app, port: port, .GET, SitePath.labProxy(.id(takenID)).url + "api/status", cookie: cookie)
            let started = Double(answer.1.components(separatedBy: "started=").last ?? "") ?? .infinity
            #expect(answer.0 == .ok && started < asked, "\(answer)")

            // The host stopping (SIGTERM) is clean: it says it takes no more, stops its session (files kept), exits.
            #expect(WorkerProcess.stop(process) == 0)
            let last = try #require(try await LabSession.find(takenID, on: app.db))
            #expect(last.status == .stopped && last.stopReason == "The lab host stopped; your files are kept.", "\(last.stopReason ?? "")")
            #expect(try await LabSession.query(on: app.db).filter(\.$status == .running).count() == 0)
            #expect(try await app.db.sqlDatabase().raw("SELECT capacity FROM lab_hosts").first()?.decode(column: "capacity", as: Int.self) == 0)
            let after = try await LabSessionTests.send(app, .POST, "api/v1/labs/\(shellID)/sessions", as: student)
            #expect(after.status == .conflict && after.body.string.contains("lab host"), "\(after.body.string)")
        }
    }
}
