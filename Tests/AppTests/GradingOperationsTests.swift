// Grading as the platform runs it: credits reserved before a run and settled by what it used (refused, saying who
// to ask, when the allowance cannot cover it; staff runs charged to the course), regrades, audited adjustments,
// late penalties in the gradebook and its Canvas CSV, and a real `campuscloud worker` process killed mid-run
// whose job another worker finishes exactly once.
import Testing
import Foundation
import Sandbox
import Fluent
import Vapor
import VaporTesting
import Ledger
@testable import App

@Suite(.serialized) struct GradingOperationsTests {
    static func classroom(_ app: Application, run: String = "python3 hello.py", extra: [String: Any] = [:]) async throws -> UUID {
        let tests = #"{"tests": [{"name": "hello", "run": "\#(run)", "output": "Hello", "comparison": "included", "timeout": 1, "points": 5}]}"#
        return try await GradingFlowTests.createAssignment(app, ["title": "Hello \(UUID().uuidString.prefix(4))", "kind": "classroom",
                                                                 "classroomTests": tests, "timeLimitSeconds": 20].merging(extra) { $1 })
    }

    @Test func creditsAreReservedThenSettledAndRefusalsSayWhoToAsk() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let assignmentID = try await Self.classroom(app)
            let course = try await app.course("CS101")
            // A run may cost up to (20 + 1 + 5) s × 0.012 = 0.312 credits; student 1 (1.5 used) is left 0.1 free.
            let student1 = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
            _ = try await app.ledger.setAllowance(of: student1, in: .course(course), to: Credits(micro: 1_500_000 + 100_000), actor: nil)
            let refused = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("student1@demo.test"))
            #expect(refused.status == .conflict)
            #expect(refused.body.string.contains("Ines Instructor"), "\(refused.body.string)")
            #expect(refused.body.string.contains("allowance"))
            #expect(try await Submission.query(on: app.db).count() == 0)

            let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("student2@demo.test"))
            #expect(handIn.status == .created, "\(handIn.body.string)")
            let submission = try #require(try await Submission.query(on: app.db).first())
            let hold = try #require(try await LedgerHold.find(try #require(submission.holdID), on: app.db))
            #expect(hold.status == .open)
            #expect(hold.amount == 300_000)  // the test's job: (20 + 5) s of CPU and wall at 0.01 + 0.002 per second
            try await app.drainGradingQueue()
            let settled = try #require(try await LedgerHold.find(hold.requireID(), on: app.db))
            #expect(settled.status == .settled)
            let graded = try #require(try await Submission.find(submission.requireID(), on: app.db))
            #expect(graded.charged == settled.settledAmount)
            #expect(graded.charged > 0 && graded.charged < hold.amount)
            let allowance = try #require(try await LedgerAccount.find(hold.$account.id, on: app.db))
            #expect(allowance.held == 0)

            // A TA's hand-in is a test run charged to the course's allocation.
            let staffRun = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("ta@demo.test"))
            #expect(staffRun.status == .created)
            let test = try staffRun.content.decode(SubmissionDTO.self)
            #expect(test.isTestRun)
            let staffHold = try #require(try await LedgerHold.find(try #require(try await Submission.find(test.id, on: app.db)?.holdID), on: app.db))
            #expect(try await LedgerAccount.find(staffHold.$account.id, on: app.db)?.kind == .course)
            try await app.drainGradingQueue()
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    @Test func regradesAdjustmentsLatePenaltiesAndTheCanvasExport() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let assignmentID = try await Self.classroom(app, extra: ["latePolicy": "penalty:10", "pointsPossible": 5])
            let student = try await app.bearer("student5@demo.test")
            #expect(try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: student).status == .created)
            #expect(try await app.handIn(assignmentID, files: ["hello.py": Data("print('bye')".utf8)], as: student).status == .created)
            try await app.drainGradingQueue()
            let assignment = try #require(try await Assignment.find(assignmentID, on: app.db))
            let attempts = try await Submission.query(on: app.db).sort(\.$attempt).all()
            #expect(attempts.map(\.score) == [5, 0])

            // The latest counts (0); with "best" the first (5). Adjustments add to the autograder's score, audited.
            let ta = try await app.bearer("ta@demo.test")
            var json = ta
            json.contentType = .json
            let adjusted = try await app.testing().sendRequest(.POST, "api/v1/submissions/\(attempts[1].requireID())/adjustments", headers: json,
                                                               body: ByteBuffer(string: #"{"points": 2, "comment": "Partial credit for the structure."}"#))
            #expect(adjusted.status == .created)
            let dto = try adjusted.content.decode(SubmissionDTO.self)
            #expect(dto.autograderScore == 0)
            #expect(dto.finalScore == 2)
            #expect(dto.adjustments.first?.author == "Tom Assistant")
            let noComment = try await app.testing().sendRequest(.POST, "api/v1/submissions/\(attempts[1].requireID())/adjustments", headers: json,
                                                                body: ByteBuffer(string: #"{"points": 2}"#))
            #expect(noComment.status == .unprocessableEntity)
            #expect(try await GradeAdjustment.query(on: app.db).count() == 1)

            var book = try await GradebookData.load(try await app.course("CS101"), on: app.db)
            let column = try #require(book.columns.firstIndex { $0.assignmentID == assignmentID })
            let row = try #require(book.rows.first { $0.email == "student5@demo.test" })
            #expect(row.scores[column] == 2)
            #expect(row.submissions[column] == 2)
            assignment.counted = .best
            // Due before the hand-ins: one started day late, 10% off.
            assignment.dueAt = attempts[0].submittedAt.addingTimeInterval(-3600)
            try await assignment.save(on: app.db)
            book = try await GradebookData.load(try await app.course("CS101"), on: app.db)
            #expect(book.rows.first { $0.email == "student5@demo.test" }?.scores[column] == 4.5)

            let csv = try await app.testing().sendRequest(.GET, "api/v1/courses/\(try await app.course("CS101").requireID())/gradebook.csv", headers: ta)
            #expect(csv.status == .ok)
            let lines = csv.body.string.components(separatedBy: "\r\n")
            #expect(lines[0].hasPrefix("Student,ID,SIS User ID,SIS Login ID,Section,"))
            #expect(lines[1].hasPrefix("    Points Possible,,,,,5"))
            #expect(lines.contains { $0.hasPrefix("Student 5,,,student5@demo.test,CS101 ") && $0.hasSuffix(",4.5") })
            // The API's book comes in pages of students in name order, each page as the whole book has those rows.
            let bookPath = "api/v1/courses/\(try await app.course("CS101").requireID())/gradebook"
            var paged: [GradebookData.Row] = []
            for number in 1...4 {
                let response = try await app.testing().sendRequest(.GET, "\(bookPath)?page=\(number)&per=8", headers: ta)
                #expect(response.status == .ok)
                let page = try response.content.decode(GradebookData.self)
                #expect(page.metadata?.total == book.rows.count && page.metadata?.per == 8 && page.columns.map(\.assignmentID) == book.columns.map(\.assignmentID))
                paged += page.rows
            }
            #expect(book.rows.count > 24 && book.rows.count <= 32)
            #expect(paged.map(\.userID) == book.rows.map(\.userID) && paged.map(\.scores) == book.rows.map(\.scores)
                    && paged.map(\.submissions) == book.rows.map(\.submissions))
            let pastTheEnd = try await app.testing().sendRequest(.GET, "\(bookPath)?page=9&per=8", headers: ta).content.decode(GradebookData.self)
            #expect(pastTheEnd.rows.isEmpty && pastTheEnd.metadata?.total == book.rows.count)
            #expect(try await app.testing().sendRequest(.GET, "\(bookPath)?page=two", headers: ta).status == .badRequest)
            // A student cannot read the gradebook.
            let denied = try await app.testing().sendRequest(.GET, "api/v1/courses/\(try await app.course("CS101").requireID())/gradebook", headers: student)
            #expect(denied.status == .notFound)

            // Regrade all: every finished hand-in runs again with the current tests; progress counts down to zero.
            let started = try await app.testing().sendRequest(.POST, "api/v1/assignments/\(assignmentID)/regrade", headers: ta)
            #expect(started.status == .ok)
            #expect(try started.content.decode(Grades.RegradeProgress.self).waiting == 2)
            try await app.drainGradingQueue()
            let progress = try await app.testing().sendRequest(.GET, "api/v1/assignments/\(assignmentID)/regrade", headers: ta)
            #expect(try progress.content.decode(Grades.RegradeProgress.self).waiting == 0)
            #expect(try await Submission.query(on: app.db).all().map(\.runs) == [2, 2])
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == GradingJobs.grade).filter(\.$status == .done).count() == 4)
        }
    }

    /// A worker works ahead: while a run is in the sandbox it claims and loads its next job. Stopping, it finishes
    /// the run, records it, and puts the job it claimed ahead back (queued, its attempt not counted); every hand-in
    /// is then graded exactly once. (How many runs finish before the stop lands depends on the machine's load: on a
    /// busy runner the test's own look at the queue may come a run late. What must hold is that nothing stays
    /// claimed: the job taken ahead is queued again, untouched.)
    @Test func aStoppingWorkerPutsBackTheJobItClaimedAhead() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let assignmentID = try await Self.classroom(app, run: "sleep 3; python3 hello.py")
            var submissions: [UUID] = []
            for student in 1...3 {
                let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("student\(student)@demo.test"))
                submissions.append(try handIn.content.decode(SubmissionDTO.self).id)
            }
            let workers = JobWorkers(count: 1, lease: 30, poll: .milliseconds(50))
            workers.start(app)
            var claimed = 0
            for _ in 0..<300 where claimed < 2 {
                try await Task.sleep(for: .milliseconds(100))
                claimed = try await QueuedJob.query(on: app.db).filter(\.$status == .running).count()
            }
            #expect(claimed == 2, "the worker did not claim its next job while the first ran")
            await workers.stop()
            let jobs = try await QueuedJob.query(on: app.db).filter(\.$kind == GradingJobs.grade).all()
            let done = jobs.filter { $0.status == .done }, queued = jobs.filter { $0.status == .queued }
            #expect(done.count >= 1 && queued.count >= 1 && done.count + queued.count == 3, "\(jobs.map(\.status))")
            #expect(done.allSatisfy { $0.attempts == 1 })
            #expect(queued.allSatisfy { $0.attempts == 0 && $0.leaseOwner == nil })
            #expect(try await Submission.query(on: app.db).filter(\.$status == .queued).count() == queued.count)

            try await app.drainGradingQueue()
            for id in submissions {
                let submission = try #require(try await Submission.find(id, on: app.db))
                #expect(submission.status == .graded)
                #expect(submission.score == 5)
                let job = try #require(try await QueuedJob.find(try #require(submission.jobID), on: app.db))
                #expect(job.attempts == 1)
                #expect(try await LedgerEntry.query(on: app.db).filter(\.$holdID == submission.holdID).filter(\.$kind == .settle).count() == 1)
            }
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    @Test func aHandInWakesIdleWorkersAtOnce() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let assignmentID = try await Self.classroom(app)
            // Workers that would look at an empty queue again only after a minute.
            let workers = JobWorkers(count: 2, lease: 30, poll: .seconds(60))
            workers.start(app)
            try await Task.sleep(for: .milliseconds(300))  // both have found nothing and wait
            let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("student1@demo.test"))
            let id = try handIn.content.decode(SubmissionDTO.self).id
            var status = SubmissionStatus.queued
            for _ in 0..<150 where status != .graded {
                try await Task.sleep(for: .milliseconds(100))
                status = try #require(try await Submission.find(id, on: app.db)).status
            }
            await workers.stop()
            #expect(status == .graded, "the hand-in waited for the workers' next look at the queue")
        }
    }

    @Test func aRunWhoseLeaseWentToAnotherWorkerChargesAndRecordsNothing() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let assignmentID = try await Self.classroom(app)
            let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("student1@demo.test"))
            let submissionID = try handIn.content.decode(SubmissionDTO.self).id
            let holdID = try #require(try await Submission.find(submissionID, on: app.db)?.holdID)
            // Worker a runs the job; before it records, its lease runs out and worker b takes the job over.
            let first = JobWorker(app: app, name: "a", lease: 30)
            let claimed = try #require(try await first.claim())
            let record = try #require(await first.run(claimed))
            let jobID = try #require(try await Submission.find(submissionID, on: app.db)?.jobID)
            try await QueuedJob.query(on: app.db).filter(\.$id == jobID).set(\.$leaseExpiresAt, to: Date().addingTimeInterval(-1)).update()
            let second = JobWorker(app: app, name: "b", lease: 30)
            let takenOver = try #require(try await second.claim())
            #expect(takenOver.job.id == jobID)

            await record()  // a's result arrives late: nothing of it is kept, and nothing is charged for it
            #expect(try await LedgerHold.find(holdID, on: app.db)?.status == .open)
            #expect(try await Submission.find(submissionID, on: app.db)?.status == .running)

            if let late = await second.run(takenOver) { await late() }
            let graded = try #require(try await Submission.find(submissionID, on: app.db))
            let hold = try #require(try await LedgerHold.find(holdID, on: app.db))
            #expect(graded.status == .graded)
            #expect(hold.status == .settled)
            #expect(graded.charged == hold.settledAmount)
            #expect(try await LedgerEntry.query(on: app.db).filter(\.$holdID == holdID).filter(\.$kind == .settle).count() == 1)
            #expect(try await QueuedJob.find(jobID, on: app.db)?.attempts == 2)
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    @Test func aKilledWorkerProcessLeavesItsJobToAnotherWhichGradesItOnce() async throws {
        let (folder, database) = try WorkerProcess.folder()
        defer { WorkerProcess.remove(folder) }  // the killed worker could not unmount its job folder
        try await withTestApp(database: database) { app in
            try await app.loadDemoData(credits: true)
            // A run long enough for the worker to be killed in the middle of it, even on a loaded machine (with 3 s
            // the run once finished before the kill on a busy CI runner).
            let assignmentID = try await Self.classroom(app, run: "sleep 8; python3 hello.py")
            let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("student6@demo.test"))
            #expect(handIn.status == .created)
            let submissionID = try handIn.content.decode(SubmissionDTO.self).id
            let process = try WorkerProcess.start(["--concurrency", "1", "--lease-seconds", "2"], app: app, folder: folder,
                                                  environment: ["CAMPUSCLOUD_SANDBOX_UIDS": "62100-62199"])
            // Wait until the other process holds the job and its run has started, then kill it outright.
            var running = false
            for _ in 0..<300 where !running {
                try await Task.sleep(for: .milliseconds(100))
                running = try await Submission.find(submissionID, on: app.db)?.status == .running
            }
            #expect(running, "the worker process never started the job")
            try await Task.sleep(for: .milliseconds(500))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(try await Submission.find(submissionID, on: app.db)?.status == .running)

            // Another worker takes it once the lease has run out, and grades it; the result is recorded once.
            let worker = JobWorker(app: app, name: "second", lease: 30)
            for _ in 0..<100 {
                if try await worker.runOnce() { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let submission = try #require(try await Submission.find(submissionID, on: app.db))
            #expect(submission.status == .graded)
            #expect(submission.score == 5)
            let job = try #require(try await QueuedJob.find(try #require(submission.jobID), on: app.db))
            #expect(job.status == .done)
            #expect(job.attempts == 2)
            #expect(job.leaseOwner == nil)
            let settles = try await LedgerEntry.query(on: app.db).filter(\.$holdID == submission.holdID).filter(\.$kind == .settle).count()
            #expect(settles == 1)
            try await LedgerStoreTests.expectConserved(app)
        }
    }
}
