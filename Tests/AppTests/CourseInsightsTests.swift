// How the class is doing: every figure equal to the gradebook's or the ledger's, pass rates on each student's latest
// graded attempt, the cost fixed whatever the course's size, and only the course's graders let in.
import Fluent
import Foundation
import Grading
import Insight
import Ledger
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct CourseInsightsTests {
    struct World {
        var course: Course
        var students: [User]
        var assignments: [Assignment]
        var release: Date
    }

    static func results(_ tests: [(String, Bool)]) -> String {
        let list = tests.map { #"{"name": "\#($0.0)", "score": \#($0.1 ? 1 : 0), "max_score": 1}"# }.joined(separator: ", ")
        return #"{"tests": [\#(list)], "visibility": "visible"}"#
    }

    /// A course of `students` students ("Pupil 1"…) and `assignments` assignments of 10 points released at
    /// `release`; each student hands in each assignment: a first attempt failing "edge" (score 1 of 2), then for
    /// even-numbered students a second passing both (2 of 2, a full score) `n` hours after release.
    static func world(_ app: Application, _ code: String, students count: Int, assignments: Int) async throws -> World {
        let programme = try #require(try await Programme.query(on: app.db).first())
        let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        let release = Date(timeIntervalSince1970: (app.clock.now().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400 - 5 * 86_400)
        let course = Course(programmeID: try programme.requireID(), code: code, title: "Insight", term: "2026", startsOn: release, endsOn: release.addingTimeInterval(90 * 86_400))
        try await course.create(on: app.db)
        try await CourseMember(courseID: course.requireID(), userID: instructor.requireID(), role: .instructor).create(on: app.db)
        var students: [User] = []
        for index in 1...count {
            let student = User(email: "\(code.lowercased())-\(index)@uni.test", displayName: "Pupil \(index)", passwordHash: nil)
            try await student.create(on: app.db)
            try await CourseMember(courseID: course.requireID(), userID: student.requireID(), role: .student).create(on: app.db)
            students.append(student)
        }
        var made: [Assignment] = []
        for a in 1...assignments {
            var input = AssignmentInput()
            (input.title, input.kind, input.pointsPossible) = ("Part \(a)", "gradescope", 10)
            input.releaseAt = ISO8601DateFormatter().string(from: release)
            let assignment = try await Assignments.create(in: course, input, by: instructor, on: app.db)
            for (index, student) in students.enumerated() {
                let first = try await DashboardTests.handIn(app, assignment, student, score: 1, results: results([("basic", true), ("edge", false)]),
                                                            at: release.addingTimeInterval(3_600), comment: nil)
                first.maxScore = 2
                try await first.save(on: app.db)
                try await SubmissionTests.replace(for: first.requireID(), results: first.results, on: app.db)
                if (index + 1) % 2 == 0 {
                    let second = try await DashboardTests.handIn(app, assignment, student, score: 2, results: results([("basic", true), ("edge", true)]),
                                                                 at: release.addingTimeInterval(Double(index + 1) * 3_600), comment: nil)
                    second.maxScore = 2
                    try await second.save(on: app.db)
                    try await SubmissionTests.replace(for: second.requireID(), results: second.results, on: app.db)
                }
            }
            made.append(assignment)
        }
        return World(course: course, students: students, assignments: made, release: release)
    }

    @Test func everyFigureEqualsTheGradebooksAndTheLedgers() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app, "IN1", students: 5, assignments: 2)
            let (course, students) = (world.course, world.students)
            // Pupil 1 was given 3 points on their only attempt of Part 1; a staff test run counts nowhere.
            let firstOfPupil1 = try #require(try await Submission.query(on: app.db).filter(\.$user.$id == students[0].requireID())
                .filter(\.$assignment.$id == world.assignments[0].requireID()).first())
            try await GradeAdjustment(submissionID: firstOfPupil1.requireID(), authorID: world.assignments[0].createdBy, points: 3, comment: "style", at: world.release)
                .create(on: app.db)
            let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
            let run = try await DashboardTests.handIn(app, world.assignments[0], instructor, score: 0, results: Self.results([("edge", false)]), at: world.release, comment: nil)
            run.isTestRun = true
            try await run.save(on: app.db)
            // Credits: each pupil spends n × 0.5 from an allowance of 10.
            let ledger = app.ledger, programme = try #require(try await Programme.find(course.$programme.id, on: app.db))
            try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme), amount: Credits(whole: 100), memo: "g")
            try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)), amount: Credits(whole: 60), memo: "a")
            for (index, student) in students.enumerated() {
                let account = try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 10), actor: nil)
                let amount = Credits(micro: Int64(index + 1) * 500_000)
                _ = try await ledger.settle(try await ledger.reserve(account, amount: amount, reason: "run", key: "insight-\(index)").requireID(), actual: amount)
            }
            // AI: two requests of Pupil 2's on two models; a lab session of 45 minutes of Pupil 3's.
            let key = try await AIKeys.issue(to: students[1], in: course, name: "insight", origin: .password, on: app.db)
            try await DashboardTests.usage(app, key: key.id, students[1], course, credits: 7_000, at: world.release)
            try await DashboardTests.usage(app, key: key.id, students[1], course, credits: 3_000, at: world.release)
            var labInput = LabInput()
            (labInput.name, labInput.kind, labInput.openTo) = ("Insight lab", "terminal", "students")
            let lab = try await LabEnvironments.create(in: course, labInput, by: instructor, at: world.release, writes: app.writes)
            try await DashboardTests.session(app, lab: lab.requireID(), students[2], from: world.release, to: world.release.addingTimeInterval(2_700))

            let now = app.clock.now()
            let overview = try await CourseInsights.overview(course, now: now, on: app.db)
            let gradebook = try await GradebookData.load(course, on: app.db)
            #expect(overview.students == 5 && overview.people.map(\.name) == (1...5).map { "Pupil \($0)" })
            for (index, assignment) in overview.assignments.enumerated() {
                let counted = gradebook.rows.compactMap { $0.scores[index] }
                #expect(assignment.scored == counted.count && assignment.distribution.reduce(0, +) == counted.count)
                #expect(assignment.medianScore == Stats.median(counted))
                // Latest graded attempts: pupils 2 and 4 passed "edge" on their second try; 1, 3 and 5 have failed it.
                #expect(assignment.tests == [.init(name: "edge", passed: 2, total: 5), .init(name: "basic", passed: 5, total: 5)])
                // Full scores 2 h and 4 h after release: a median of 3 h.
                #expect(assignment.fullScores == 2 && assignment.medianHoursToFullScore == 3)
            }
            // Pupil 1's Part 1: 1 + 3 points; the gradebook says so too.
            #expect(gradebook.rows[0].scores[0] == 4)
            #expect(overview.assignments[0].medianScore == 2)
            // Hand-ins: 5 + 2 per assignment, on the release day; the test run not among them.
            #expect(overview.handInsByDay.reduce(0) { $0 + $1.count } == 14)
            #expect(overview.handInsByDay.first?.day == Stats.dayString(world.release))
            for (index, person) in overview.people.enumerated() {
                let account = try #require(try await LedgerAccount.query(on: app.db).filter(\.$userID == students[index].requireID()).filter(\.$kind == .allowance).first())
                #expect(person.creditsUsed.micro == account.spent && account.spent == Int64(index + 1) * 500_000)
                #expect(person.handIns == gradebook.rows[index].submissions.reduce(0, +))
            }
            #expect(overview.people.map(\.aiRequests) == [0, 2, 0, 0, 0] && overview.people.map(\.labMinutes) == [0, 0, 45, 0, 0])
            #expect(overview.aiByModel == [.init(model: "demo-small", requests: 2, tokens: 60, credits: Credits(micro: 10_000))])

            // One student's view: their counted scores, the tests their latest attempt failed.
            let pupil1 = try await StudentInsights.overview(course, userID: students[0].requireID(), now: now, on: app.db)
            #expect(pupil1.assignments.map(\.score) == gradebook.rows[0].scores)
            #expect(pupil1.assignments.allSatisfy { $0.failing == ["edge"] && $0.testsRun == 2 && $0.attempts == 1 })
            let pupil2 = try await StudentInsights.overview(course, userID: students[1].requireID(), now: now, on: app.db)
            #expect(pupil2.assignments.allSatisfy { $0.failing.isEmpty && $0.attempts == 2 } && pupil2.creditsUsed == Credits(whole: 1))
            #expect(pupil2.creditsFree == Credits(whole: 9) && pupil2.aiByModel.first?.requests == 2)
            // Not a student here (the instructor, or a student of another course): not found.
            for id in [try instructor.requireID(), try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first()).requireID()] {
                await #expect(throws: Abort.self) { _ = try await StudentInsights.overview(course, userID: id, now: now, on: app.db) }
            }
        }
    }

    @Test func itsCostDoesNotGrowWithTheCourse() async throws {
        // The count is read from SQLite's query log; PostgreSQL runs the same code.
        guard !TestDatabase.isPostgres else { return }
        let counter = StatementCounter()
        try await withTestApp(statements: counter) { app in
            try await app.loadDemoData()
            let small = try await Self.world(app, "SM1", students: 2, assignments: 1)
            let large = try await Self.world(app, "LG1", students: 9, assignments: 4)
            let now = app.clock.now()
            let few = try await counter.count { _ = try await CourseInsights.overview(small.course, now: now, on: app.db) }
            let many = try await counter.count { _ = try await CourseInsights.overview(large.course, now: now, on: app.db) }
            #expect(few > 0 && few == many, "\(few) statements for 2 × 1, \(many) for 9 × 4: \(counter.statements)")
            let one = try await counter.count { _ = try await StudentInsights.overview(small.course, userID: small.students[0].requireID(), now: now, on: app.db) }
            let other = try await counter.count { _ = try await StudentInsights.overview(large.course, userID: large.students[5].requireID(), now: now, on: app.db) }
            #expect(one > 0 && one == other, "\(one) and \(other): \(counter.statements)")
        }
    }

    @Test func thePagesTheJSONAndTheCSVAgree() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app, "IN2", students: 3, assignments: 1)
            let id = try world.course.requireID()
            let instructor = try await app.bearer("instructor@demo.test")
            let json = try await app.testing().sendRequest(.GET, "api/v1/courses/\(id)/overview", headers: instructor)
            #expect(json.status == .ok)
            let overview = try json.content.decode(CourseOverviewDTO.self)
            #expect(overview.assignments.first?.tests.first == .init(name: "edge", passed: 1, total: 3))
            let csv = try await app.testing().sendRequest(.GET, "api/v1/courses/\(id)/overview.csv", headers: instructor)
            #expect(csv.headers.contentType?.subType == "csv")
            let text = csv.body.string
            #expect(text.hasPrefix("section,assignment,item,value\r\n") && text.contains("test passed,Part 1,edge,1 of 3\r\n"))
            #expect(text.contains("hand-ins per day,,\(Stats.dayString(world.release)),4\r\n"))

            let browser = try Browser(app)
            _ = try await browser.signIn("instructor@demo.test")
            // A staff member of CS101 only: the new course is the demo instructor's too (world makes them its instructor).
            let page = try await browser.get("/courses/\(id)/overview")
            #expect(page.status == .ok)
            let html = page.body.string
            #expect(html.contains("How the class is doing") && html.contains("<svg") && html.contains("edge: 2 of 3 failing"))
            #expect(html.contains(#"href="/courses/\#(id)/students/\#(try world.students[0].requireID())">Pupil 1</a>"#))
            let student = try await browser.get("/courses/\(id)/students/\(try world.students[0].requireID())").body.string
            #expect(student.contains("Pupil 1") && student.contains(#"<span class="tag">edge</span>"#) && student.contains("1 of 2 passed"))
            // A student of the course sees neither.
            let pupil = try Browser(app)
            world.students[0].passwordHash = try Bcrypt.hash(DemoData.password, cost: 4)
            try await world.students[0].save(on: app.db)
            _ = try await pupil.signIn(world.students[0].email)
            #expect(try await pupil.get("/courses/\(id)/overview").status == .notFound)
            #expect(try await pupil.get("/courses/\(id)/students/\(try world.students[1].requireID())").status == .notFound)
            #expect(try await pupil.get("/courses/\(id)/students/\(try world.students[0].requireID())").status == .notFound)
        }
    }

    @Test func resultsFromBeforeTheTableAreCopiedIn() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app, "IN3", students: 2, assignments: 1)
            let before = try await SubmissionTest.query(on: app.db).count()
            #expect(before == 6)
            try await CreateSubmissionTest().revert(on: app.db)
            try await CreateSubmissionTest().prepare(on: app.db)
            let rows = try await SubmissionTest.query(on: app.db).all()
            #expect(rows.count == before && rows.filter(\.passed).count == 4)
            let overview = try await CourseInsights.overview(world.course, now: app.clock.now(), on: app.db)
            #expect(overview.assignments.first?.tests.first == .init(name: "edge", passed: 1, total: 2))
        }
    }
}

@Suite struct CourseInsightSnapshotTests {
    @Test func theOverviewIsKeptFifteenMinutesAndRefreshedOnRequest() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let clock = MovableClock(app)
            let world = try await CourseInsightsTests.world(app, "SN1", students: 2, assignments: 1)
            let id = try world.course.requireID()
            let headers = try await app.bearer("instructor@demo.test")
            func overview(_ query: String = "") async throws -> CourseOverviewDTO {
                let response = try await app.testing().sendRequest(.GET, "api/v1/courses/\(id)/overview\(query)", headers: headers)
                #expect(response.status == .ok && response.headers.contentType == .json)
                return try response.content.decode(CourseOverviewDTO.self)
            }
            let first = try await overview()
            #expect(first.students == 2)
            // A third student hands in: the kept overview says 2 until it is 15 minutes old, or a refresh is asked for.
            let student = User(email: "sn1-3@uni.test", displayName: "Pupil 3", passwordHash: nil)
            try await student.create(on: app.db)
            try await CourseMember(courseID: id, userID: student.requireID(), role: .student).create(on: app.db)
            clock.advance(14 * 60)
            let kept = try await overview()
            #expect(kept.students == 2 && kept.asOf == first.asOf)
            let refreshed = try await overview("?refresh=true")
            #expect(refreshed.students == 3 && refreshed.asOf > first.asOf)
            // Asked again within the minute, the overview just computed is answered, not computed once more.
            clock.advance(30)
            #expect(try await overview("?refresh=true").asOf == refreshed.asOf)
            clock.advance(10 * 60)
            #expect(try await overview().students == 3)
            let student4 = User(email: "sn1-4@uni.test", displayName: "Pupil 4", passwordHash: nil)
            try await student4.create(on: app.db)
            try await CourseMember(courseID: id, userID: student4.requireID(), role: .student).create(on: app.db)
            clock.advance(15 * 60 + 1)
            let aged = try await overview()
            #expect(aged.students == 4 && aged.asOf > first.asOf)
            // Many views computing at once keep one row.
            clock.advance(16 * 60)
            let (now, course) = (app.clock.now(), world.course)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 { group.addTask { _ = try await CourseInsightSnapshots.current(course, now: now, refresh: true, on: app.db) } }
                try await group.waitForAll()
            }
            let rows = try await app.db.sqlDatabase().raw("SELECT count(*) AS n FROM course_insights WHERE course_id = \(bind: id)").first()
            #expect(try rows?.decode(column: "n", as: Int.self) == 1)
            // A slower computation that began earlier lands last: the newer overview stays.
            let newer = try await CourseInsightSnapshots.current(world.course, now: now, on: app.db)
            _ = try await CourseInsightSnapshots.current(world.course, now: now.addingTimeInterval(-60), refresh: true, on: app.db)
            #expect(try await CourseInsightSnapshots.current(world.course, now: now, on: app.db).computedAt == newer.computedAt)
            // An overview kept in another shape (an earlier version of the platform) is computed again, not a 500.
            try await app.db.sqlDatabase().raw("UPDATE course_insights SET body = '{\"old\": true}' WHERE course_id = \(bind: id)").run()
            #expect(try await CourseInsightSnapshots.overview(world.course, now: now, cache: app.insightCache, on: app.db).students == 4)
            // The page's refresh button does the same, with its CSRF field.
            let browser = try Browser(app)
            _ = try await browser.signIn("instructor@demo.test")
            let page = try await browser.get("/courses/\(id)/overview").body.string
            #expect(page.contains("Refresh now") && page.contains("Students 1–4 of 4"))
            // A fifth student: the page keeps what it decoded until the refresh writes a newer overview.
            let student5 = User(email: "sn1-5@uni.test", displayName: "Pupil 5", passwordHash: nil)
            try await student5.create(on: app.db)
            try await CourseMember(courseID: id, userID: student5.requireID(), role: .student).create(on: app.db)
            #expect(try await browser.get("/courses/\(id)/overview").body.string.contains("Students 1–4 of 4"))
            // Refreshed within a minute of the last computation, it is kept; a minute on, it is computed again.
            #expect(try await browser.post("/courses/\(id)/overview", [:]).status == .seeOther)
            #expect(try await browser.get("/courses/\(id)/overview").body.string.contains("Students 1–4 of 4"))
            clock.advance(61)
            #expect(try await browser.post("/courses/\(id)/overview", [:]).status == .seeOther)
            #expect(try await browser.get("/courses/\(id)/overview").body.string.contains("Students 1–5 of 5"))
            #expect(try await browser.post("/courses/\(id)/overview", [:], csrf: .some(nil)).status == .forbidden)
        }
    }

    @Test func theGradebookPageShowsFiftyStudentsAPageInNaturalOrder() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await CourseInsightsTests.world(app, "PG1", students: 55, assignments: 1)
            let id = try world.course.requireID()
            let browser = try Browser(app)
            _ = try await browser.signIn("instructor@demo.test")
            let first = try await browser.get("/courses/\(id)/gradebook").body.string
            #expect(first.contains(">Pupil 1<") && first.contains(">Pupil 50<") && !first.contains(">Pupil 51<"))
            #expect(first.contains("Students 1–50 of 55") && first.contains("?page=2"))
            let order = [2, 9, 10, 50].compactMap { first.range(of: ">Pupil \($0)<")?.lowerBound }
            #expect(order.count == 4 && order == order.sorted())
            // A page number past any course (or one that would overflow) is an empty page, not a crash.
            for page in ["999999", "9223372036854775807"] {
                let far = try await browser.get("/courses/\(id)/gradebook?page=\(page)")
                #expect(far.status == .ok && !far.body.string.contains(">Pupil 1<"))
                #expect(try await browser.get("/courses/\(id)/overview?page=\(page)").status == .ok)
            }
            let second = try await browser.get("/courses/\(id)/gradebook?page=2").body.string
            #expect(second.contains(">Pupil 51<") && second.contains(">Pupil 55<") && !second.contains(">Pupil 50<") && second.contains("Students 51–55 of 55"))
            // The course page's roster pages the same way: the instructor first, then the students by name.
            let roster = try await browser.get("/courses/\(id)").body.string
            #expect(roster.contains("People 1–50 of 56") && roster.contains(">Remove Ines Instructor<") && roster.contains(">Remove Pupil 49<")
                    && !roster.contains(">Remove Pupil 50<"), "\(roster)")
            let rosterNext = try await browser.get("/courses/\(id)?page=2").body.string
            #expect(rosterNext.contains("People 51–56 of 56") && rosterNext.contains(">Remove Pupil 50<") && rosterNext.contains(">Remove Pupil 55<"))
            // The same rows and scores as the whole gradebook's.
            let whole = try await GradebookData.load(world.course, on: app.db)
            let page = try await GradebookRows.page(world.course, number: 2, per: 50, writes: app.writes)
            #expect(page.total == 55 && page.students.map(\.name) == whole.rows.suffix(5).map(\.name) && page.scores == whole.rows.suffix(5).map(\.scores))
        }
    }
}
