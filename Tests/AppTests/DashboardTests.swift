// The first screen: what is due, latest grades as the student may see them, credits with their use per day, AI and
// lab use this week. Its figures equal the ledger's and the gradebook's; its cost does not grow with the courses.
import Fluent
import Foundation
import Ledger
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct DashboardTests {
    static let visible = #"{"tests": [{"name": "t", "score": 1, "max_score": 1}], "visibility": "visible"}"#
    static let afterPublished = #"{"tests": [{"name": "t", "score": 1, "max_score": 1}], "visibility": "after_published"}"#

    /// A student in `courses` new courses of the demo's programme, each with `assignments` assignments due on the
    /// following days (one graded hand-in each, with a staff comment), an allowance of 10 credits of which 1.5 is
    /// used, and in the first course an AI request and a 30-minute lab session.
    static func student(_ app: Application, _ email: String, courses: Int, assignments: Int, now: Date) async throws -> User {
        let programme = try #require(try await Programme.query(on: app.db).first())
        let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        let student = User(email: email, displayName: email, passwordHash: nil)
        try await student.create(on: app.db)
        let ledger = app.ledger
        try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                  amount: Credits(whole: 100), memo: "grant")
        for c in 1...courses {
            let course = Course(programmeID: try programme.requireID(), code: "\(email.prefix(2).uppercased())\(c)", title: "Course \(c)", term: "2026",
                                startsOn: now.addingTimeInterval(-86_400 * 30), endsOn: now.addingTimeInterval(86_400 * 60))
            try await course.create(on: app.db)
            try await CourseMember(courseID: course.requireID(), userID: student.requireID(), role: .student).create(on: app.db)
            try await CourseMember(courseID: course.requireID(), userID: instructor.requireID(), role: .instructor).create(on: app.db)
            try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                      amount: Credits(whole: 20), memo: "course")
            let allowance = try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 10), actor: nil)
            let hold = try await ledger.reserve(allowance, amount: Credits(whole: 2), reason: "run", key: "\(email)-\(c)")
            _ = try await ledger.settle(hold.requireID(), actual: Credits.parse("1.5")!)
            for a in 1...assignments {
                var input = AssignmentInput()
                (input.title, input.kind, input.pointsPossible) = ("Task \(c).\(a)", "gradescope", 10)
                input.dueAt = ISO8601DateFormatter().string(from: now.addingTimeInterval(Double(a) * 86_400 + 600))
                input.latePolicy = "penalty:10"
                let assignment = try await Assignments.create(in: course, input, by: instructor, on: app.db)
                _ = try await handIn(app, assignment, student, score: Double(a % 10), results: visible, at: now.addingTimeInterval(-Double(a) * 60))
            }
            if c == 1 {
                let key = try await AIKeys.issue(to: student, in: course, name: "dashboard test", origin: .password, on: app.db)
                try await usage(app, key: key.id, student, course, credits: 12_000, at: now.addingTimeInterval(-3_600))
                var labInput = LabInput()
                (labInput.name, labInput.kind, labInput.openTo) = ("Lab \(c)", "terminal", "students")
                let lab = try await LabEnvironments.create(in: course, labInput, by: instructor, at: now, writes: app.writes)
                try await session(app, lab: lab.requireID(), student, from: now.addingTimeInterval(-7_200), to: now.addingTimeInterval(-5_400))
            }
        }
        return student
    }

    @discardableResult
    static func handIn(_ app: Application, _ assignment: Assignment, _ user: User, score: Double, results: String, at: Date,
                       comment: String? = "Well done") async throws -> Submission {
        let submission = Submission()
        submission.$assignment.id = try assignment.requireID()
        submission.$user.id = try user.requireID()
        let attempt = try await Submission.query(on: app.db).filter(\.$assignment.$id == assignment.requireID()).filter(\.$user.$id == user.requireID()).count() + 1
        (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt, submission.gradedAt) = (false, attempt, .graded, at, at.addingTimeInterval(30))
        (submission.cpuMs, submission.wallMs, submission.charged, submission.runs, submission.score, submission.maxScore) = (0, 0, 0, 1, score, 10)
        submission.results = results
        try await submission.create(on: app.db)
        if let comment {
            try await GradeAdjustment(submissionID: submission.requireID(), authorID: assignment.createdBy, points: 0, comment: comment, at: at).create(on: app.db)
        }
        return submission
    }

    static func usage(_ app: Application, key: UUID, _ user: User, _ course: Course, credits: Int64, at: Date, model: String = "demo-small") async throws {
        let row = AIUsage()
        (row.$key.id, row.$user.id, row.$course.id, row.model, row.endpoint) = (key, try user.requireID(), try course.requireID(), model, "chat")
        (row.promptTokens, row.completionTokens, row.credits, row.status, row.outcome) = (10, 20, credits, 200, "ok")
        (row.streamed, row.latencyMs, row.createdAt) = (false, 5, at)
        try await row.create(on: app.db)
    }

    /// A lab session from `from` to `to`, or still running and last seen at `seen`.
    static func session(_ app: Application, lab: UUID, _ user: User, from: Date, to: Date?, seen: Date? = nil) async throws {
        let session = LabSession()
        (session.$lab.id, session.$user.id, session.status, session.host) = (lab, try user.requireID(), to == nil ? .running : .stopped, "test")
        (session.heldFrom, session.heldSeconds, session.holds, session.charged) = (from, 0, 0, 0)
        (session.startedAt, session.endsAt, session.seenAt, session.stoppedAt) = (from, from.addingTimeInterval(14_400), to ?? seen ?? from, to)
        try await session.create(on: app.db)
    }

    @Test func itsCostDoesNotGrowWithCoursesAssignmentsOrHandIns() async throws {
        // The count is read from SQLite's query log; PostgreSQL runs the same code.
        guard !TestDatabase.isPostgres else { return }
        let counter = StatementCounter()
        try await withTestApp(statements: counter) { app in
            try await app.loadDemoData()
            let now = Date(timeIntervalSince1970: app.clock.now().timeIntervalSince1970.rounded(.down))
            let small = try await Self.student(app, "aa@uni.test", courses: 1, assignments: 1, now: now)
            let large = try await Self.student(app, "bb@uni.test", courses: 3, assignments: 6, now: now)
            var (few, many) = (MyDashboardDTO?.none, MyDashboardDTO?.none)
            let one = try await counter.count { few = try await StudentSummary.load(for: small, now: now, on: app.db) }
            let eighteen = try await counter.count { many = try await StudentSummary.load(for: large, now: now, on: app.db) }
            #expect(few?.dueNext.count == 1 && many?.dueNext.count == 10 && many?.latestGrades.count == 5 && many?.allowances.count == 3)
            #expect(one > 0 && one == eighteen, "\(one) statements for 1 course × 1 assignment, \(eighteen) for 3 × 6: \(counter.statements)")
            #expect(one <= 12, "\(counter.statements)")
        }
    }

    @Test func itShowsWhatIsDueGradesAsTheStudentMaySeeThemAndFiguresEqualToTheLedger() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let now = Date(timeIntervalSince1970: app.clock.now().timeIntervalSince1970.rounded(.down))
            let student = try await Self.student(app, "cc@uni.test", courses: 2, assignments: 2, now: now)
            let other = try await Self.student(app, "dd@uni.test", courses: 1, assignments: 1, now: now)
            let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CC1").first())
            let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
            func assignment(_ title: String, due: TimeInterval, late: String) async throws -> Assignment {
                var input = AssignmentInput()
                (input.title, input.kind, input.latePolicy) = (title, "gradescope", late)
                input.dueAt = ISO8601DateFormatter().string(from: now.addingTimeInterval(due))
                return try await Assignments.create(in: course, input, by: instructor, on: app.db)
            }
            // Overdue: still listed while a late hand-in counts; not when late ones are refused or one was handed in.
            _ = try await assignment("Late but open", due: -3_600, late: "penalty:20")
            _ = try await assignment("Closed", due: -3_600, late: "hard")
            let done = try await assignment("Done late", due: -7_200, late: "none")
            try await Self.handIn(app, done, student, score: 1, results: Self.visible, at: now.addingTimeInterval(-60), comment: nil)
            // A score kept until grades are published, graded last.
            let secret = try await assignment("Secret", due: 86_400 * 9, late: "none")
            try await Self.handIn(app, secret, student, score: 7, results: Self.afterPublished, at: now.addingTimeInterval(30), comment: "See me")

            var summary = try await StudentSummary.load(for: student, now: now, on: app.db)
            #expect(summary.dueNext.map(\.title) == ["Late but open", "Task 1.1", "Task 2.1", "Task 1.2", "Task 2.2", "Secret"])
            let late = try #require(summary.dueNext.first)
            #expect(late.secondsLeft == -3_600 && late.latePolicy == "penalty:20" && late.handedIn == 0)
            #expect(summary.dueNext[1].handedIn == 1 && summary.dueNext[1].secondsLeft == 87_000)

            let newest = try #require(summary.latestGrades.first)
            #expect(newest.title == "Secret" && newest.score == nil && newest.maxScore == nil && newest.feedback == ["See me"])
            #expect(summary.latestGrades.dropFirst().allSatisfy { $0.score != nil && $0.feedback.allSatisfy { $0 == "Well done" } })
            secret.gradesPublishedAt = now
            try await secret.save(on: app.db)
            summary = try await StudentSummary.load(for: student, now: now, on: app.db)
            #expect(summary.latestGrades.first?.score == 7)

            // Credits: each allowance's use per day adds up to what the ledger says it spent.
            #expect(summary.allowances.count == 2)
            for allowance in summary.allowances {
                let account = try #require(try await LedgerAccount.find(allowance.accountID, on: app.db))
                #expect(allowance.daily.count == 28 && allowance.daily.last == Credits.parse("1.5"))
                #expect(allowance.daily.reduce(0) { $0 + $1.micro } == account.spent && allowance.spent.micro == account.spent)
                #expect(allowance.free.micro == account.balance)
            }
            // AI and labs: this person's only, within the last seven days.
            #expect(summary.aiRequests == 1 && summary.aiCredits == Credits(micro: 12_000) && summary.labMinutes == 30)
            let key = try #require(try await AIKey.query(on: app.db).filter(\.$user.$id == student.requireID()).first())
            try await Self.usage(app, key: key.requireID(), student, course, credits: 5_000, at: now.addingTimeInterval(-8 * 86_400))
            let lab = try #require(try await LabEnvironment.query(on: app.db).filter(\.$course.$id == course.requireID()).first())
            try await Self.session(app, lab: lab.requireID(), student, from: now.addingTimeInterval(-600), to: nil, seen: now)
            summary = try await StudentSummary.load(for: student, now: now, on: app.db)
            #expect(summary.aiRequests == 1 && summary.labMinutes == 40)
            let theirs = try await StudentSummary.load(for: other, now: now, on: app.db)
            #expect(theirs.dueNext.allSatisfy { $0.course == "DD1" } && theirs.latestGrades.allSatisfy { $0.course == "DD1" })
        }
    }

    @Test func thePageAndTheAPIShowIt() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let now = Date(timeIntervalSince1970: app.clock.now().timeIntervalSince1970.rounded(.down))
            let student = try await Self.student(app, "ee@uni.test", courses: 1, assignments: 2, now: now)
            student.passwordHash = try Bcrypt.hash(DemoData.password, cost: 4)
            try await student.save(on: app.db)
            let api = try await app.testing().sendRequest(.GET, "api/v1/me/dashboard", headers: try await app.bearer("ee@uni.test"))
            #expect(api.status == .ok)
            let body = try api.content.decode(MyDashboardDTO.self)
            #expect(body.dueNext.map(\.title) == ["Task 1.1", "Task 1.2"] && body.aiRequests == 1)

            let browser = try Browser(app)
            _ = try await browser.signIn("ee@uni.test")
            let page = try await browser.get("/dashboard").body.string
            #expect(page.contains("Due next") && page.contains("Task 1.1") && page.contains("1 day left") && page.contains("10% off per day late"))
            #expect(page.contains("Latest grades") && page.contains("Well done") && page.contains("2 / 10"))
            #expect(page.contains(#"<svg xmlns="http://www.w3.org/2000/svg" role="img" class="spark""#) && page.contains("1.5 in all"))
            #expect(page.contains("AI requests: <strong>1</strong>") && page.contains("Lab time: <strong>30</strong> minutes"))
            // Staff see their places, not a student's panels.
            let staff = try Browser(app)
            _ = try await staff.signIn("instructor@demo.test")
            let staffPage = try await staff.get("/dashboard").body.string
            #expect(!staffPage.contains("Due next") && staffPage.contains("Courses"))
        }
    }
}
