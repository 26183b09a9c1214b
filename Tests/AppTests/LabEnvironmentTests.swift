// Lab environments (issue 20, first slice): instructors define them per course, their set-up script builds an
// environment layer for real in the sandbox, staff try them before students see them, and bad input writes nothing.
import Fluent
import Foundation
import Labs
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct LabEnvironmentTests {
    static func send(_ app: Application, _ method: HTTPMethod, _ path: String, _ json: String? = nil, as headers: HTTPHeaders) async throws -> TestingHTTPResponse {
        var all = headers
        all.contentType = .json
        return try await app.testing().sendRequest(method, path, headers: all, body: json.map { ByteBuffer(string: $0) })
    }

    static func lab(_ response: TestingHTTPResponse) throws -> LabDTO {
        try JSONDecoder.iso.decode(LabDTO.self, from: Data(buffer: response.body))
    }

    static func json(_ value: Any) -> String { String(decoding: try! JSONSerialization.data(withJSONObject: value), as: UTF8.self) }

    @Test func staffPrepareALabTheSetUpBuildsItsLayerAndStudentsSeeItOnceOpened() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let course = try await app.course("CS101")
            let courseID = try course.requireID()
            let (instructor, ta, student) = (try await app.bearer("instructor@demo.test"), try await app.bearer("ta@demo.test"), try await app.bearer("student1@demo.test"))
            let script = "mkdir -p /usr/local/share/cc-lab && echo prepared > /usr/local/share/cc-lab/marker && echo built-the-layer"
            let created = try await Self.send(app, .POST, "api/v1/courses/\(courseID)/labs",
                                              Self.json(["name": "Shell basics", "kind": "terminal", "setupScript": script, "schedule": "mon,wed 09:00-11:00"]), as: instructor)
            #expect(created.status == .created, "\(created.body.string)")
            let lab = try Self.lab(created)
            #expect(lab.setupStatus == .pending && lab.setupVersion == 1 && lab.openTo == .staff)
            #expect(lab.limits == LabLimits.defaults(for: .terminal))
            #expect(lab.schedule == "mon 09:00-11:00\nwed 09:00-11:00")

            // Open to staff only: a TA tries it, a student finds nothing.
            #expect(try await Self.send(app, .GET, "api/v1/labs/\(lab.id)", as: ta).status == .ok)
            #expect(try await Self.send(app, .GET, "api/v1/labs/\(lab.id)", as: student).status == .notFound)
            #expect(try await Self.send(app, .GET, "api/v1/courses/\(courseID)/labs", as: student).body.string == "[]")
            // Students and TAs cannot create or change labs.
            #expect(try await Self.send(app, .POST, "api/v1/courses/\(courseID)/labs", Self.json(["name": "Mine", "kind": "terminal"]), as: student).status == .notFound)
            #expect(try await Self.send(app, .PATCH, "api/v1/labs/\(lab.id)", Self.json(["openTo": "students"]), as: ta).status == .notFound)

            // The set-up runs for real in the sandbox, once, into a layer of this version.
            try await app.drainGradingQueue()
            let ready = try Self.lab(try await Self.send(app, .GET, "api/v1/labs/\(lab.id)", as: ta))
            #expect(ready.setupStatus == .ready, "\(ready.setupLog ?? "")")
            #expect(ready.setupLog?.contains("built-the-layer") == true)
            let layer = try #require(app.sandbox.sandbox.layer(id: "lab-\(lab.id.uuidString.lowercased())-v1"))
            #expect(FileManager.default.contents(atPath: layer.path + "/upper/usr/local/share/cc-lab/marker") == Data("prepared\n".utf8))

            // Opened to students: they see it, without the script or its log.
            let opened = try await Self.send(app, .PATCH, "api/v1/labs/\(lab.id)", Self.json(["openTo": "students"]), as: instructor)
            #expect(opened.status == .ok)
            #expect(try Self.lab(opened).setupVersion == 1)  // no new set-up: the script did not change
            let seen = try await Self.send(app, .GET, "api/v1/courses/\(courseID)/labs", as: student)
            let labs = try JSONDecoder.iso.decode([LabDTO].self, from: Data(buffer: seen.body))
            #expect(labs.map(\.id) == [lab.id])
            #expect(labs[0].setupScript == nil && labs[0].setupLog == nil)
            // Another course's student does not.
            let other = try await User.query(on: app.db).filter(\.$email == "student30@demo.test").first()
            let otherInCourse = try await CourseMember.query(on: app.db).filter(\.$user.$id == other!.requireID()).filter(\.$course.$id == courseID).count()
            if otherInCourse == 0 {
                #expect(try await Self.send(app, .GET, "api/v1/labs/\(lab.id)", as: try await app.bearer("student30@demo.test")).status == .notFound)
            }
        }
    }

    @Test func badInputIsRefusedWholeAndWritesNothing() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let courseID = try await app.course("CS101").requireID()
            let instructor = try await app.bearer("instructor@demo.test")
            let path = "api/v1/courses/\(courseID)/labs"
            let bad = try await Self.send(app, .POST, path, Self.json(["name": " ", "kind": "vm", "cpuMillis": 5, "memoryMB": 1_000_000,
                                                                        "schedule": "funday 09:00-10:00\nmon 11:00-10:00", "openTo": "everyone"]), as: instructor)
            #expect(bad.status == .unprocessableEntity)
            for words in ["name is missing", "kind 'vm'", "cpuMillis must be", "memoryMB must be", "schedule line 1", "schedule line 2", "openTo 'everyone'"] {
                #expect(bad.body.string.contains(words), "\(words) in \(bad.body.string)")
            }
            // Limits that only clash with each other, an empty JupyterLab set-up, an unknown field, a wrong type.
            let clash = try await Self.send(app, .POST, path, Self.json(["name": "A", "kind": "terminal", "idleMinutes": 60, "longestMinutes": 30]), as: instructor)
            #expect(clash.status == .unprocessableEntity && clash.body.string.contains("idleMinutes is longer than longestMinutes"))
            let empty = try await Self.send(app, .POST, path, Self.json(["name": "B", "kind": "jupyterlab", "setupScript": "  \n"]), as: instructor)
            #expect(empty.status == .unprocessableEntity && empty.body.string.contains("pip install jupyterlab"))
            #expect(try await Self.send(app, .POST, path, Self.json(["name": "C", "kind": "terminal", "image": "ubuntu"]), as: instructor).status == .unprocessableEntity)
            #expect(try await Self.send(app, .POST, path, #"{"name": "D", "kind": "terminal", "memoryMB": "lots"}"#, as: instructor).status == .badRequest)
            #expect(try await Self.send(app, .POST, path, "{not json", as: instructor).status == .badRequest)
            #expect(try await LabEnvironment.query(on: app.db).count() == 0)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LabSetupHandler.kind).count() == 0)

            // A second lab of the same name in the course: 409, nothing written.
            let first = try await Self.send(app, .POST, path, Self.json(["name": "Notebooks", "kind": "jupyterlab"]), as: instructor)
            #expect(first.status == .created)
            #expect(try Self.lab(first).setupScript == "pip install jupyterlab\n")
            let twice = try await Self.send(app, .POST, path, Self.json(["name": "Notebooks", "kind": "terminal"]), as: instructor)
            #expect(twice.status == .conflict)
            #expect(try await LabEnvironment.query(on: app.db).count() == 1)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LabSetupHandler.kind).count() == 1)
            // The kind cannot change; a bad change changes nothing.
            let id = try Self.lab(first).id
            let change = try await Self.send(app, .PATCH, "api/v1/labs/\(id)", Self.json(["kind": "terminal", "name": "Renamed"]), as: instructor)
            #expect(change.status == .unprocessableEntity)
            #expect(try await LabEnvironment.find(id, on: app.db)?.name == "Notebooks")
            // Someone else's id, or not an id.
            #expect(try await Self.send(app, .GET, "api/v1/labs/\(UUID())", as: instructor).status == .notFound)
            #expect(try await Self.send(app, .GET, "api/v1/labs/not-an-id", as: instructor).status == .notFound)
        }
    }

    @Test func aFailedSetUpSaysWhyAndANewScriptSupersedesTheOld() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let courseID = try await app.course("CS101").requireID()
            let instructor = try await app.bearer("instructor@demo.test")
            let path = "api/v1/courses/\(courseID)/labs"
            // A script that fails: the log shows its error and exit code.
            let broken = try Self.lab(try await Self.send(app, .POST, path, Self.json(["name": "Broken", "kind": "terminal", "setupScript": "echo no-such-package >&2; exit 4"]), as: instructor))
            // JupyterLab whose set-up does not install it: refused after the check.
            let noJupyter = try Self.lab(try await Self.send(app, .POST, path, Self.json(["name": "No Jupyter", "kind": "jupyterlab", "setupScript": "echo skipped"]), as: instructor))
            // A script replaced before its set-up ran: only the new version is built.
            let changing = try Self.lab(try await Self.send(app, .POST, path, Self.json(["name": "Changing", "kind": "terminal", "setupScript": "echo first-version"]), as: instructor))
            let changed = try await Self.send(app, .PATCH, "api/v1/labs/\(changing.id)", Self.json(["setupScript": "echo second-version"]), as: instructor)
            #expect(try Self.lab(changed).setupVersion == 2)
            // Asking again while one waits: 409.
            #expect(try await Self.send(app, .POST, "api/v1/labs/\(changing.id)/setup", as: instructor).status == .conflict)

            try await app.drainGradingQueue()
            let failed = try #require(try await LabEnvironment.find(broken.id, on: app.db))
            #expect(failed.setupStatus == .failed)
            #expect(failed.setupLog?.contains("no-such-package") == true && failed.setupLog?.contains("exit code: 4") == true, "\(failed.setupLog ?? "")")
            let jupyter = try #require(try await LabEnvironment.find(noJupyter.id, on: app.db))
            #expect(jupyter.setupStatus == .failed)
            #expect(jupyter.setupLog?.contains("JupyterLab does not start from this environment") == true, "\(jupyter.setupLog ?? "")")
            let second = try #require(try await LabEnvironment.find(changing.id, on: app.db))
            #expect(second.setupStatus == .ready && second.setupVersion == 2)
            #expect(second.setupLog?.contains("second-version") == true && second.setupLog?.contains("first-version") == false)
            #expect(app.sandbox.sandbox.layer(id: "lab-\(changing.id.uuidString.lowercased())-v1") == nil)
            let superseded = try await QueuedJob.query(on: app.db).filter(\.$kind == LabSetupHandler.kind).all().compactMap(\.result)
            #expect(superseded.contains("superseded by a newer set-up"))

            // Once it ended, the set-up can run again as a new version.
            let again = try await Self.send(app, .POST, "api/v1/labs/\(changing.id)/setup", as: instructor)
            #expect(again.status == .ok)
            let rerun = try Self.lab(again)
            #expect(rerun.setupVersion == 3 && rerun.setupStatus == .pending)
            // A terminal without a script has nothing to set up.
            let bare = try Self.lab(try await Self.send(app, .POST, path, Self.json(["name": "Bare", "kind": "terminal"]), as: instructor))
            #expect(bare.setupStatus == .notNeeded)
            #expect(try await Self.send(app, .POST, "api/v1/labs/\(bare.id)/setup", as: instructor).status == .conflict)
        }
    }

    @Test func theDemoHasANotebookLabInCS101AndAShellInCS340OnceOnly() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            #expect(try await DemoData.loadLabs(app: app) == 2)
            #expect(try await DemoData.loadLabs(app: app) == 0)
            let labs = try await LabEnvironment.query(on: app.db).with(\.$course).all()
            let byName = Dictionary(uniqueKeysWithValues: labs.map { ($0.name, $0) })
            let notebooks = try #require(byName[DemoData.notebookLab]), shell = try #require(byName[DemoData.shellLab])
            #expect(notebooks.course.code == "CS101" && notebooks.kind == .jupyterlab && notebooks.setupStatus == .pending && notebooks.openTo == .students)
            #expect(shell.course.code == "CS340" && shell.kind == .terminal && shell.setupStatus == .notNeeded)
            #expect(LabHomes.startFileNames(notebooks) == ["welcome.ipynb"] && LabHomes.startFileNames(shell) == ["README.txt"])
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LabSetupHandler.kind).count() == 1)
        }
    }

    @Test func thePagesCreateShowAndChangeALab() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let course = try await app.course("CS101")
            let courseID = try course.requireID()
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            _ = try await browser.get(SitePath.course(.id(courseID)).url)
            let refused = try await browser.post(SitePath.courseLabs(.id(courseID)).url, ["name": "", "kind": "terminal"])
            #expect(refused.status == .unprocessableEntity && refused.body.string.contains("name is missing"))
            let created = try await browser.post(SitePath.courseLabs(.id(courseID)).url, ["name": "Data notebooks", "kind": "jupyterlab"])
            #expect(created.status == .seeOther)
            let lab = try #require(try await LabEnvironment.query(on: app.db).filter(\.$name == "Data notebooks").first())
            let coursePage = try await browser.get(SitePath.course(.id(courseID)).url)
            #expect(coursePage.body.string.contains("Data notebooks") && coursePage.body.string.contains("its set-up is running"))
            let page = try await browser.get(SitePath.lab(.id(lab.id!)).url)
            #expect(page.body.string.contains("pip install jupyterlab") && page.body.string.contains("staff only"))
            let saved = try await browser.post(SitePath.lab(.id(lab.id!)).url, ["name": "Data notebooks", "openTo": "students", "schedule": "tue 10:00-12:00",
                                                                              "memoryMB": "3072", "network": "true"])
            #expect(saved.status == .seeOther)
            let changed = try #require(try await LabEnvironment.find(lab.id, on: app.db))
            #expect(changed.openTo == .students && changed.memoryMB == 3072 && changed.network && changed.schedule == "tue 10:00-12:00")
            #expect(changed.setupVersion == 1)  // the script was not sent, so it did not change
            let badSave = try await browser.post(SitePath.lab(.id(lab.id!)).url, ["memoryMB": "1"])
            #expect(badSave.status == .unprocessableEntity && badSave.body.string.contains("memoryMB must be"))

            // A student sees the lab, its limits and schedule, not its script; a student's form post is refused.
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            let studentPage = try await student.get(SitePath.lab(.id(lab.id!)).url)
            #expect(studentPage.status == .ok && studentPage.body.string.contains("tue 10:00-12:00"))
            #expect(!studentPage.body.string.contains("pip install jupyterlab"))
            #expect(try await student.post(SitePath.lab(.id(lab.id!)).url, ["openTo": "staff"]).status == .notFound)
            #expect(try await student.post(SitePath.labSetup(.id(lab.id!)).url, [:]).status == .notFound)
            // Without the form's CSRF token nothing changes.
            #expect(try await browser.post(SitePath.lab(.id(lab.id!)).url, ["openTo": "staff"], csrf: .some(nil)).status == .forbidden)
            #expect(try await LabEnvironment.find(lab.id, on: app.db)?.openTo == .students)
        }
    }
}

extension JSONDecoder {
    static var iso: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension LabDTO {
    var limits: LabLimits { LabLimits(cpuMillis: cpuMillis, memoryMB: memoryMB, processes: processes, homeQuotaMB: homeQuotaMB, idleMinutes: idleMinutes, longestMinutes: longestMinutes) }
}
