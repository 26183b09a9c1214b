// Research projects' batch jobs with the real sandbox and ledger: a job is charged what it used and its outputs
// kept; cancelled (queued or running) and failed jobs leave nothing held; credits that do not cover the time
// limit refuse the job with nothing written; another project's member sees nothing. Outputs, project details,
// and the programme report: its numbers equal the ledger's, and the partner's view names no student.
import Fluent
import Foundation
import Grading
import Ledger
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct ResearchJobTests {
    static func project(_ app: Application) async throws -> ResearchProject {
        try #require(try await ResearchProject.query(on: app.db).first())
    }

    static func submit(_ app: Application, as email: String, _ fields: [String: String], files: [String: Data] = [:]) async throws -> TestingHTTPResponse {
        let projectID = try await project(app).requireID()
        return try await app.postMultipart("api/v1/projects/\(projectID)/jobs", fields: fields, files: files, as: try await app.bearer(email))
    }

    static func job(_ app: Application, _ id: UUID, as email: String = "ta@demo.test") async throws -> ResearchJobDTO {
        let response = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(id)", headers: try await app.bearer(email))
        #expect(response.status == .ok, "\(response.body.string)")
        return try response.content.decode(ResearchJobDTO.self)
    }

    /// The TA's allowance in the demo project (200 credits given, 45 spent by the demo).
    static func allowance(_ app: Application) async throws -> LedgerAccount {
        let ta = try #require(try await User.query(on: app.db).filter(\.$email == "ta@demo.test").first())
        return try await app.ledger.allowance(of: ta, in: .project(try await project(app)))
    }

    @Test func aJobRunsInTheSandboxIsChargedWhatItUsedAndKeepsItsOutputs() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let before = try await Self.allowance(app)
            let script = Data("import sys\nrows = open('data.csv').read().split()\nprint('rows', len(rows))\nopen('outputs/count.txt', 'w').write(str(len(rows)))\n".utf8)
            let response = try await Self.submit(app, as: "ta@demo.test", ["name": "count rows", "command": "python3 count.py && echo done >&2", "wallSeconds": "30"],
                                                 files: ["count.py": script, "data.csv": Data("a\nb\nc\n".utf8)])
            #expect(response.status == .created, "\(response.body.string)")
            let queued = try response.content.decode(ResearchJobDTO.self)
            #expect(queued.status == "queued" && queued.inputs == ["count.py", "data.csv"])
            // The most it may cost (30 s of CPU and wall time) is held while it waits.
            let held = try await Self.allowance(app)
            #expect(held.held == before.held + 30 * (10_000 + 2_000))

            try await app.drainGradingQueue()
            let done = try await Self.job(app, queued.id)
            #expect(done.status == "succeeded", "\(done.problem ?? "")")
            #expect(done.exitCode == 0 && done.outputs.map(\.path) == ["count.txt"])
            let log = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(queued.id)/logs", headers: try await app.bearer("mentor@partner.test"))
            #expect(log.body.string.contains("rows 3") && log.body.string.contains("done"))
            let zip = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(queued.id)/outputs.zip", headers: try await app.bearer("instructor@demo.test"))
            #expect(try SafeArchive.read(Data(buffer: zip.body), limits: ResearchJobs.inputLimits)["count.txt"] == Data("3".utf8))
            // Charged exactly what the ledger settled: measured CPU and wall time at the demo's prices; nothing stays held.
            let after = try await Self.allowance(app)
            #expect(after.held == before.held)
            #expect(done.charged.micro > 0 && after.spent - before.spent == done.charged.micro)
            let expected = Int64(done.cpuMs) * 10 + Int64(done.wallMs) * 2
            #expect(done.charged.micro == expected)
            #expect(after.balance == before.balance - done.charged.micro)
            // The pages: the project lists the job; the job's page shows its log, outputs and cost.
            let browser = try Browser(app)
            try await browser.signIn("mentor@partner.test")
            let projectPage = try await browser.get("/projects/\(queued.projectID)")
            #expect(projectPage.status == .ok && projectPage.body.string.contains("count rows") && projectPage.body.string.contains("Run a job"))
            let jobPage = try await browser.get("/jobs/\(queued.id)")
            #expect(jobPage.status == .ok && jobPage.body.string.contains("rows 3") && jobPage.body.string.contains("count.txt"))
            #expect(!jobPage.body.string.contains("Cancel the job"))
            // The page's form queues a job too (multipart, with the CSRF token), and shows problems again. The mentor
            // has no allowance in the project: refused with who to ask; the TA has one.
            let mentorForm = try await browser.upload("/projects/\(queued.projectID)/jobs", field: "files", filename: "note.txt", contents: Data("n".utf8),
                                                      fields: ["command": "cat note.txt", "wallSeconds": "5"])
            #expect(mentorForm.status == .conflict && mentorForm.body.string.contains("Ines Instructor"))
            try await browser.signIn("ta@demo.test")
            let formed = try await browser.upload("/projects/\(queued.projectID)/jobs", field: "files", filename: "note.txt", contents: Data("n".utf8),
                                                  fields: ["command": "cat note.txt", "wallSeconds": "5"])
            #expect(formed.status == .seeOther && formed.headers.first(name: .location)?.hasPrefix("/jobs/") == true, "\(formed.body.string)")
            let badForm = try await browser.upload("/projects/\(queued.projectID)/jobs", field: "files", filename: "note.txt", contents: Data("n".utf8),
                                                   fields: ["command": "", "wallSeconds": "5"])
            #expect(badForm.status == .unprocessableEntity && badForm.body.string.contains("command is missing"))
        }
    }

    @Test func networkForJobsIsTheProjectsSettingChangedByItsPIAndKept() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let project = try await Self.project(app)
            let projectID = try project.requireID()
            let probe = ["name": "net", "command": "python3 -c \"import socket; print(','.join(n for _, n in socket.if_nameindex()))\"",
                         "wallSeconds": "30", "network": "true"]
            // Off by default: a member's job asking for network is refused, naming who can allow it; nothing is held.
            let held = try await Self.allowance(app).held
            let refused = try await Self.submit(app, as: "ta@demo.test", probe)
            #expect(refused.status == .forbidden && refused.body.string.contains("Ines Instructor") && refused.body.string.contains("programme manager"))
            let heldAfter = try await Self.allowance(app).held, written = try await ResearchJob.query(on: app.db).filter(\.$name == "net").count()
            #expect(heldAfter == held && written == 0)
            // A member may not allow it; the PI may, and the change is in the project's history.
            func setNetwork(_ allowed: Bool, as email: String) async throws -> HTTPStatus {
                var headers = try await app.bearer(email)
                headers.contentType = .json
                return try await app.testing().sendRequest(.PUT, "api/v1/projects/\(projectID)/job-network", headers: headers,
                                                          body: ByteBuffer(string: #"{"allowed": \#(allowed)}"#)).status
            }
            #expect(try await setNetwork(true, as: "ta@demo.test") == .notFound)
            #expect(try await setNetwork(true, as: "instructor@demo.test") == .ok)
            let history = try await app.testing().sendRequest(.GET, "api/v1/projects/\(projectID)/history", headers: try await app.bearer("ta@demo.test"))
            #expect(history.body.string.contains("network allowed for the project's jobs") && history.body.string.contains("Ines Instructor"))
            // Now the job runs with a network of its own (an interface besides loopback).
            let accepted = try await Self.submit(app, as: "ta@demo.test", probe)
            #expect(accepted.status == .created, "\(accepted.body.string)")
            try await app.drainGradingQueue()
            let job = try await Self.job(app, try accepted.content.decode(ResearchJobDTO.self).id)
            #expect(job.status == "succeeded", "\(job.problem ?? "")")
            let log = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(job.id)/logs", headers: try await app.bearer("ta@demo.test")).body.string
            #expect(log.contains("lo,"), "\(log)")
            #expect(try await setNetwork(false, as: "admin@demo.test") == .ok)
            #expect(try await Self.submit(app, as: "ta@demo.test", probe).status == .forbidden)
        }
    }

    @Test func aJobWhoseOutputHasNulBytesIsRecordedAndCharged() async throws {
        // PostgreSQL's text refuses NUL: a log holding one would fail the transaction that records and charges the run.
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let response = try await Self.submit(app, as: "ta@demo.test", ["name": "nul", "command": "printf 'a\\000b\\n'; printf 'c\\000d' >&2", "wallSeconds": "20"])
            #expect(response.status == .created, "\(response.body.string)")
            try await app.drainGradingQueue()
            let job = try await Self.job(app, try response.content.decode(ResearchJobDTO.self).id)
            #expect(job.status == "succeeded" && job.charged.micro > 0, "\(job.problem ?? "")")
            let log = try await app.testing().sendRequest(.GET, "api/v1/jobs/\(job.id)/logs", headers: try await app.bearer("ta@demo.test")).body.string
            #expect(log.contains("a\u{FFFD}b") && log.contains("c\u{FFFD}d"), "\(log)")
        }
    }

    @Test func cancellingAQueuedJobFreesItsWholeReserveAndItNeverRuns() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let before = try await Self.allowance(app)
            let response = try await Self.submit(app, as: "ta@demo.test", ["command": "touch outputs/ran"])
            let job = try response.content.decode(ResearchJobDTO.self)
            #expect(try await Self.allowance(app).held > before.held)
            // Someone else in the project cannot cancel it (the mentor); the submitter can.
            let refused = try await app.testing().sendRequest(.POST, "api/v1/jobs/\(job.id)/cancel", headers: try await app.bearer("mentor@partner.test"))
            #expect(refused.status == .notFound)
            let cancel = try await app.testing().sendRequest(.POST, "api/v1/jobs/\(job.id)/cancel", headers: try await app.bearer("ta@demo.test"))
            #expect(cancel.status == .ok)
            #expect(try cancel.content.decode(ResearchJobDTO.self).status == "cancelled")
            let after = try await Self.allowance(app)
            #expect(after.held == before.held && after.balance == before.balance && after.spent == before.spent)
            // The worker finds nothing to run, and a second cancel is refused.
            #expect(try await JobWorker(app: app, name: "w").runOnce() == false)
            #expect(try await Self.job(app, job.id).outputs.isEmpty)
            let again = try await app.testing().sendRequest(.POST, "api/v1/jobs/\(job.id)/cancel", headers: try await app.bearer("ta@demo.test"))
            #expect(again.status == .conflict)
        }
    }

    @Test func cancellingARunningJobStopsItAndChargesOnlyWhatItUsed() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let before = try await Self.allowance(app)
            let response = try await Self.submit(app, as: "ta@demo.test", ["command": "echo started; sleep 300", "wallSeconds": "600"])
            let job = try response.content.decode(ResearchJobDTO.self)
            let worker = Task { try await JobWorker(app: app, name: "w").runOnce() }
            var running = false
            for _ in 0..<300 where !running {
                try await Task.sleep(for: .milliseconds(100))
                running = try await Self.job(app, job.id).status == "running"
            }
            #expect(running)
            let started = ContinuousClock.now
            let cancel = try await app.testing().sendRequest(.POST, "api/v1/jobs/\(job.id)/cancel", headers: try await app.bearer("instructor@demo.test"))
            #expect(cancel.status == .ok)
            #expect(try cancel.content.decode(ResearchJobDTO.self).cancelRequested)
            _ = try await worker.value
            // Well before the job's own end (the worker looks every second; a loaded machine may take longer).
            #expect(ContinuousClock.now - started < .seconds(60))
            let done = try await Self.job(app, job.id)
            #expect(done.status == "cancelled" && done.sandboxStatus == "cancelled")
            #expect(done.wallMs < 90_000)
            let after = try await Self.allowance(app)
            #expect(after.held == before.held)
            #expect(after.spent - before.spent == done.charged.micro)
            #expect(done.charged.micro < 600 * 12_000)
        }
    }

    @Test func failedJobsAndJobsTheQueueGivesUpOnLeaveNothingHeld() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let before = try await Self.allowance(app)
            let failing = try await Self.submit(app, as: "ta@demo.test", ["command": "echo oops >&2; exit 3"]).content.decode(ResearchJobDTO.self)
            try await app.drainGradingQueue()
            let failed = try await Self.job(app, failing.id)
            #expect(failed.status == "failed" && failed.exitCode == 3 && failed.problem?.contains("code 3") == true)
            // A job whose queue entry fails for good (every worker died): the sweep fails it and frees its credits.
            let stuck = try await Self.submit(app, as: "ta@demo.test", ["command": "true"]).content.decode(ResearchJobDTO.self)
            let entry = try #require(try await ResearchJob.find(stuck.id, on: app.db)?.queueJobID)
            try await QueuedJob.query(on: app.db).filter(\.$id == entry).set(\.$status, to: .failed).set(\.$error, to: "the worker died").update()
            try await JobWorker.sweep(app)
            let swept = try await Self.job(app, stuck.id)
            #expect(swept.status == "failed" && swept.problem?.contains("the worker died") == true)
            let after = try await Self.allowance(app)
            #expect(after.held == before.held)
            #expect(after.spent - before.spent == failed.charged.micro)
        }
    }

    @Test func aJobTheCreditsCannotCoverIsRefusedWithNothingWritten() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            // The mentor has no allowance in the project (the default is none): refused, and told whom to ask.
            let refused = try await Self.submit(app, as: "mentor@partner.test", ["command": "true"], files: ["a.txt": Data("x".utf8)])
            #expect(refused.status == .conflict, "\(refused.body.string)")
            #expect(refused.body.string.contains("Ines Instructor"))
            // Only the PI may charge the project's allocation.
            let notPI = try await Self.submit(app, as: "ta@demo.test", ["command": "true", "payFrom": "project"])
            #expect(notPI.status == .forbidden)
            // Bad limits and a bad zip: 422.
            // Over what the platform's workers give a job: well formed, but not for this project (409, saying the limit).
            let tooLong = try await Self.submit(app, as: "ta@demo.test", ["command": "true", "wallSeconds": "99999"])
            #expect(tooLong.status == .conflict && tooLong.body.string.contains("at most 3600 s"))
            #expect(try await Self.submit(app, as: "ta@demo.test", ["command": "true", "wallSeconds": "0"]).status == .unprocessableEntity)
            #expect(try await Self.submit(app, as: "ta@demo.test", ["command": ""]).status == .unprocessableEntity)
            #expect(try await Self.submit(app, as: "ta@demo.test", ["command": "true"], files: ["in.zip": Data("not a zip".utf8)]).status == .unprocessableEntity)
            // A student outside the project: 404.
            #expect(try await Self.submit(app, as: "student1@demo.test", ["command": "true"]).status == .notFound)
            #expect(try await ResearchJob.query(on: app.db).count() == 0)
            #expect(try await ResearchJobFile.query(on: app.db).count() == 0)
            #expect(try await QueuedJob.query(on: app.db).count() == 0)
            #expect(try await LedgerHold.query(on: app.db).filter(\.$status == .open).count() == 0)
            // The PI charges the project's allocation.
            let byPI = try await Self.submit(app, as: "instructor@demo.test", ["command": "true", "payFrom": "project"])
            #expect(byPI.status == .created)
        }
    }

    @Test func aMemberOfAnotherProjectSeesNoneOfThisProjectsJobsOrFiles() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let job = try await Self.submit(app, as: "ta@demo.test", ["command": "true"], files: ["secret.txt": Data("s".utf8)]).content.decode(ResearchJobDTO.self)
            // student1 leads another project of the same programme.
            let programme = try #require(try await Programme.query(on: app.db).first())
            let other = try await Places.createProject(in: programme, ProjectInput(title: "Other", summary: "", status: "active"), on: app.db)
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
            try await ProjectMember(projectID: try other.requireID(), userID: try student.requireID(), role: .pi).create(on: app.db)
            let headers = try await app.bearer("student1@demo.test")
            for path in ["api/v1/jobs/\(job.id)", "api/v1/jobs/\(job.id)/logs", "api/v1/jobs/\(job.id)/outputs.zip",
                         "api/v1/projects/\(job.projectID)/jobs", "api/v1/projects/\(job.projectID)/outputs"] {
                #expect(try await app.testing().sendRequest(.GET, path, headers: headers).status == .notFound, "\(path)")
            }
            #expect(try await app.testing().sendRequest(.POST, "api/v1/jobs/\(job.id)/cancel", headers: headers).status == .notFound)
            // Their own project lists none of it.
            let own = try await app.testing().sendRequest(.GET, "api/v1/projects/\(try other.requireID())/jobs", headers: headers)
            #expect(try own.content.decode(Page<ResearchJobDTO>.self).items.isEmpty)
        }
    }

    @Test func outputsAndProjectDetailsAreRecordedAndChecked() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let projectID = try await Self.project(app).requireID()
            let path = "api/v1/projects/\(projectID)/outputs"
            let paper = try await ResearchProjectTests.send(app, .POST, path, as: "ta@demo.test",
                                                           ["kind": "publication", "title": "Hints that teach", "venue": "SIGCSE", "year": 2027, "doi": "10.1145/123.456"])
            #expect(paper.status == .created, "\(paper.body.string)")
            let bad = try await ResearchProjectTests.send(app, .POST, path, as: "ta@demo.test", ["kind": "poem", "title": "", "year": 20, "doi": "https://x"])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("kind") && bad.body.string.contains("year") && bad.body.string.contains("doi"))
            // The API document says a year is a number: text (even empty, as a form would send it) is refused in JSON.
            for text in ["", "2027"] {
                let wrongType = try await ResearchProjectTests.send(app, .POST, path, as: "ta@demo.test", ["kind": "thesis", "title": "T", "year": text])
                #expect(wrongType.status == .badRequest, "year \"\(text)\": \(wrongType.body.string)")
            }
            // A form sends the year as text, empty when left blank.
            let browser = try Browser(app)
            _ = try await browser.signIn("ta@demo.test")
            for (title, year) in [("Form thesis", "2026"), ("Form dataset", "")] {
                let sent = try await browser.post(SitePath.projectOutputs(.id(projectID)).url, ["kind": "thesis", "title": title, "year": year])
                #expect(sent.status == .seeOther, "\(sent.body.string)")
            }
            let fromForms = try await ProjectOutput.query(on: app.db).filter(\.$title ~~ ["Form thesis", "Form dataset"]).sort(\.$title).all()
            #expect(fromForms.map(\.year) == [nil, 2026])
            for output in fromForms { try await output.delete(on: app.db) }
            let listed = try await app.testing().sendRequest(.GET, path, headers: try await app.bearer("mentor@partner.test")).content.decode([ProjectOutputDTO].self)
            #expect(listed.map(\.title) == ["Hints that teach"] && listed[0].year == 2027)
            // The mentor may not remove the TA's output; the PI may.
            let outputPath = "\(path)/\(listed[0].id)"
            #expect(try await ResearchProjectTests.send(app, .DELETE, outputPath, as: "mentor@partner.test").status == .notFound)
            #expect(try await ResearchProjectTests.send(app, .DELETE, outputPath, as: "instructor@demo.test").status == .noContent)
            // Dates and tags.
            let patch = try await ResearchProjectTests.send(app, .PATCH, "api/v1/projects/\(projectID)", as: "instructor@demo.test",
                                                           ["startsOn": "2026-10-01", "endsOn": "2027-09-30", "tags": "LLMs, education ,, feedback"])
            #expect(patch.status == .ok, "\(patch.body.string)")
            let project = try patch.content.decode(ProjectDTO.self)
            #expect(project.tags == ["LLMs", "education", "feedback"] && project.startsOn?.day == "2026-10-01")
            let backwards = try await ResearchProjectTests.send(app, .PATCH, "api/v1/projects/\(projectID)", as: "instructor@demo.test", ["endsOn": "2026-01-01"])
            #expect(backwards.status == .unprocessableEntity)
        }
    }

    @Test func theReportsNumbersEqualTheLedgersAndThePartnerSeesNoStudentName() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            // Some use: a graded hand-in's worth of credits spent by a student in CS101, and a job in the project.
            let course = try await app.course("CS101")
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student7@demo.test").first())
            let ledger = app.ledger
            let allowance = try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 20), actor: nil)
            let hold = try await ledger.reserve(allowance, amount: Credits(whole: 3), reason: "test", key: "report-test", actor: nil)
            _ = try await ledger.settle(hold.requireID(), actual: Credits(whole: 2))
            _ = try await Self.submit(app, as: "ta@demo.test", ["command": "echo hi"])
            try await app.drainGradingQueue()

            let programme = try #require(try await Programme.query(on: app.db).first())
            let response = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(try programme.requireID())/report",
                                                               headers: try await app.bearer("mentor@partner.test"))
            #expect(response.status == .ok, "\(response.body.string)")
            let report = try response.content.decode(ProgrammeReportDTO.self)
            let credits = try await CreditsViews.programme(programme, on: app.db)
            for allocation in credits.allocations {
                let line = report.courses.first { $0.id == allocation.placeID }?.credits ?? report.projects.first { $0.id == allocation.placeID }?.credits
                #expect(line?.granted == allocation.balance.total, "\(allocation.name)")
                #expect(line?.used == allocation.balance.spent, "\(allocation.name)")
                #expect(line.map { $0.remaining.micro == $0.granted.micro - $0.used.micro } == true)
            }
            #expect(report.credits.granted == credits.granted)
            let spentEverywhere = try await LedgerAccount.query(on: app.db).all().reduce(Int64(0)) { $0 + $1.spent }
            #expect(report.credits.used.micro == spentEverywhere)
            let cs101 = try #require(report.courses.first { $0.code == "CS101" })
            #expect(cs101.students == 30 && report.studentsReached == 30)
            #expect(report.jobsRun == 1 && report.projectsByStatus["active"] == 1)
            // The burn-down ends at what remains.
            #expect(cs101.burnDown.last?.remaining == cs101.credits.remaining)
            #expect(report.burnDown.last?.remaining == report.credits.remaining)

            // No student's name or email anywhere the partner can read the report.
            let students = try await CourseMember.query(on: app.db).filter(\.$role == .student).with(\.$user).all().map(\.user)
            let browser = try Browser(app)
            try await browser.signIn("mentor@partner.test")
            let page = try await browser.get("/programmes/\(try programme.requireID())/report")
            #expect(page.status == .ok)
            let csv = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(try programme.requireID())/report.csv",
                                                          headers: try await app.bearer("mentor@partner.test"))
            #expect(csv.body.string.hasPrefix("kind,name,status,credits_granted"))
            for text in [response.body.string, page.body.string, csv.body.string] {
                for person in students {
                    #expect(!text.contains(person.displayName) && !text.contains(person.email), "\(person.displayName) appears")
                }
            }
        }
    }

    @Test func theDemoProjectHasAnApprovedAllocationFinishedJobsAndOutputs() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            #expect(try await DemoData.loadResearch(app: app) == 8)
            #expect(try await DemoData.loadResearch(app: app) == 0)
            try await app.drainGradingQueue()
            let jobs = try await ResearchJob.query(on: app.db).all()
            #expect(jobs.map(\.status) == [.succeeded, .succeeded], "\(jobs.map { $0.log ?? "" })")
            #expect(jobs.allSatisfy { $0.charged > 0 })
            let summary = try await ResearchJobFile.query(on: app.db).filter(\.$role == .output).filter(\.$path == "summary.json").first()
            #expect(summary.map { String(decoding: $0.contents, as: UTF8.self).contains("\"hints\": 6") } == true)
            let programme = try #require(try await Programme.query(on: app.db).first())
            let report = try await ProgrammeReport.load(programme, on: app.db)
            #expect(report.jobsRun == 2 && report.outputsByKind == ["publication": 1, "dataset": 1, "software": 1, "thesis": 1])
            let requests = try await AllocationRequest.query(on: app.db).all()
            #expect(Set(requests.map(\.status)) == [.approved, .pending])
        }
    }
}
