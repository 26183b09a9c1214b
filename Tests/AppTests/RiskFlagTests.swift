// Students at risk: each rule raised from real records (hand-ins, test results, AI use, the ledger), one flag per
// situation however often checked, cleared when it passes, dismissal kept; the sweep's rhythm; a fixed number of
// statements whatever the course's size; and only the course's teachers see or dismiss a flag (attacks included).
import Fluent
import Foundation
import Insight
import Ledger
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct RiskFlagTests {
    struct World {
        var course: Course
        /// "Risk 1"… in order: 1 handed in the assignment due tomorrow, 2 did not, 3 fails "edge" for days, 4 makes
        /// attempts without progress, 5 spent most of their allowance; 6… did nothing at all.
        var students: [User]
        var dueSoon: Assignment
        var older: Assignment
    }

    /// A course that started 10 days ago (of 100), taught by the demo instructor with the demo TA, the demo's
    /// student1 in it too (with an AI request today, so not inactive).
    static func world(_ app: Application, _ code: String, students count: Int = 6) async throws -> World {
        let now = app.clock.now()
        let programme = try #require(try await Programme.query(on: app.db).first())
        let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        let ta = try #require(try await User.query(on: app.db).filter(\.$email == "ta@demo.test").first())
        let student1 = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
        let course = Course(programmeID: try programme.requireID(), code: code, title: "Risk", term: "2026", startsOn: now.addingTimeInterval(-10 * 86_400),
                            endsOn: now.addingTimeInterval(90 * 86_400))
        try await course.create(on: app.db)
        try await CourseMember(courseID: course.requireID(), userID: instructor.requireID(), role: .instructor).create(on: app.db)
        try await CourseMember(courseID: course.requireID(), userID: ta.requireID(), role: .ta).create(on: app.db)
        try await CourseMember(courseID: course.requireID(), userID: student1.requireID(), role: .student).create(on: app.db)
        var students: [User] = []
        for index in 1...count {
            let student = User(email: "\(code.lowercased())-\(index)@uni.test", displayName: "Risk \(index)", passwordHash: nil)
            try await student.create(on: app.db)
            try await CourseMember(courseID: course.requireID(), userID: student.requireID(), role: .student).create(on: app.db)
            students.append(student)
        }
        var input = AssignmentInput()
        (input.title, input.kind, input.pointsPossible) = ("Tomorrow", "gradescope", 10)
        input.dueAt = ISO8601DateFormatter().string(from: now.addingTimeInterval(86_400))
        let dueSoon = try await Assignments.create(in: course, input, by: instructor, on: app.db)
        (input.title, input.dueAt) = ("Loops", ISO8601DateFormatter().string(from: now.addingTimeInterval(20 * 86_400)))
        let older = try await Assignments.create(in: course, input, by: instructor, on: app.db)

        func attempt(_ student: User, _ assignment: Assignment, score: Double, failing: Bool, daysAgo: Double) async throws {
            let handIn = try await DashboardTests.handIn(app, assignment, student, score: score,
                                                         results: CourseInsightsTests.results([("basic", true), ("edge", !failing)]),
                                                         at: now.addingTimeInterval(-daysAgo * 86_400), comment: nil)
            try await SubmissionTests.replace(for: handIn.requireID(), results: handIn.results, on: app.db)
        }
        if count >= 5 {
            try await attempt(students[0], dueSoon, score: 2, failing: false, daysAgo: 0.5)
            try await attempt(students[1], older, score: 2, failing: false, daysAgo: 1)
            try await attempt(students[2], older, score: 1, failing: true, daysAgo: 4)
            try await attempt(students[2], older, score: 1, failing: true, daysAgo: 1)
            for day in [5.0, 4, 3, 2, 1] { try await attempt(students[3], older, score: 1, failing: true, daysAgo: day) }
            try await attempt(students[4], older, score: 2, failing: false, daysAgo: 2)
            let account = LedgerAccount(programmeID: try programme.requireID(), kind: .allowance, parentID: nil, naturalKey: "risk-\(code)-5",
                                        label: "Risk 5", courseID: try course.requireID(), userID: try students[4].requireID())
            (account.balance, account.spent) = (Credits(whole: 1).micro, Credits(whole: 9).micro)
            try await account.create(on: app.db)
        }
        let key = AIKey(userID: try student1.requireID(), courseID: try course.requireID(), projectID: nil, name: "risk", prefix: "cc-risk-\(code)",
                        secretHash: "unused")
        try await key.create(on: app.db)
        try await DashboardTests.usage(app, key: key.requireID(), student1, course, credits: 1, at: now.addingTimeInterval(-3_600))
        // Everyone joined as the course began.
        try await CourseMember.query(on: app.db).filter(\.$course.$id == course.requireID()).set(\.$joinedAt, to: course.startsOn).update()
        return World(course: course, students: students, dueSoon: dueSoon, older: older)
    }

    static func open(_ app: Application, _ course: Course) async throws -> [String: [String]] {
        Dictionary(grouping: try await RiskFlags.list(course.requireID(), dismissed: false, on: app.db), by: \.name).mapValues { $0.map(\.rule).sorted() }
    }

    @Test func eachRuleIsRaisedFromWhatThePlatformRecords() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app, "RK1", students: 7)
            let found = try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            let flags = try await Self.open(app, world.course)
            #expect(flags["Risk 1"] == nil)
            #expect(flags["Risk 2"] == ["due_soon"])
            #expect(flags["Risk 3"] == ["due_soon", "failing_test"])
            #expect(flags["Risk 4"] == ["due_soon", "failing_test", "no_progress"])
            #expect(flags["Risk 5"] == ["allowance_early", "due_soon"])
            #expect(flags["Risk 6"] == ["due_soon", "inactive"] && flags["Risk 7"] == ["due_soon", "inactive"])
            #expect(flags["Student 1"] == ["due_soon"])  // an AI request today: active
            #expect(found == flags.values.reduce(0) { $0 + $1.count })
            let all = try await RiskFlags.list(world.course.requireID(), dismissed: false, on: app.db)
            // Students in natural order; reasons a teacher can act on.
            #expect(all.map(\.name) == all.map(\.name).naturallySorted(by: { $0 }))
            let failing = try #require(all.first { $0.name == "Risk 3" && $0.rule == "failing_test" })
            #expect(failing.subject == "\(try world.older.requireID().uuidString)/edge" && failing.reason.contains("“edge” of “Loops”"))
            let allowance = try #require(all.first { $0.rule == "allowance_early" })
            #expect(allowance.reason.hasPrefix("90% of the allowance"))
            // Staff are never flagged.
            #expect(flags["Instructor"] == nil && all.allSatisfy { $0.email.hasSuffix("@uni.test") || $0.email == "student1@demo.test" })
        }
    }

    @Test func aLateJoinerIsQuietSinceJoiningNotSinceTheCourseBegan() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let clock = MovableClock(app)
            let world = try await Self.world(app, "RK9", students: 1)
            // Joins today, ten days into the course, and does nothing.
            let late = User(email: "late@uni.test", displayName: "Late Joiner", passwordHash: nil)
            try await late.create(on: app.db)
            try await CourseMember(courseID: world.course.requireID(), userID: late.requireID(), role: .student).create(on: app.db)
            _ = try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            #expect(try await Self.open(app, world.course)["Late Joiner"] == ["due_soon"])
            #expect(try await Self.open(app, world.course)["Risk 1"]?.contains("inactive") == true)  // there from the start
            // A week after joining, still nothing: now quiet.
            clock.advance(7.5 * 86_400)
            _ = try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            let flag = try #require(try await RiskFlags.list(world.course.requireID(), dismissed: false, on: app.db).first { $0.name == "Late Joiner" && $0.rule == "inactive" })
            #expect(flag.reason.contains("in the 7 days they have been in the course"), "\(flag.reason)")
        }
    }

    @Test func aSituationIsOneFlagItClearsWhenItPassesAndADismissalIsKept() async throws {
        try await withTestApp { app in
            let clock = MovableClock(app)
            try await app.loadDemoData()
            let world = try await Self.world(app, "RK2")
            let courseID = try world.course.requireID()
            try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            let first = try await RiskFlags.list(courseID, dismissed: false, on: app.db)
            clock.advance(120)
            try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            let second = try await RiskFlags.list(courseID, dismissed: false, on: app.db)
            // The same situations: the same flags, raised when first found, seen again now.
            #expect(second.map(\.id) == first.map(\.id) && second.map(\.raisedAt) == first.map(\.raisedAt))
            #expect(second.allSatisfy { $0.seenAt > $0.raisedAt })

            // The instructor dismisses Risk 3's failing test; Risk 2 hands in the assignment due tomorrow.
            let instructor = try await app.bearer("instructor@demo.test")
            let failing = try #require(second.first { $0.name == "Risk 3" && $0.rule == "failing_test" })
            let dismiss = try await app.testing().sendRequest(.PATCH, "api/v1/courses/\(courseID)/risk-flags/\(failing.id)", headers: instructor) { req in
                try req.content.encode(["dismissed": true], as: .json)
            }
            #expect(dismiss.status == .ok)
            let dismissed = try dismiss.content.decode(RiskFlagDTO.self)
            let instructorName = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first()).displayName
            #expect(dismissed.dismissedAt != nil && dismissed.dismissedBy == instructorName)
            _ = try await DashboardTests.handIn(app, world.dueSoon, world.students[1], score: 2, results: CourseInsightsTests.results([("basic", true)]),
                                                at: app.clock.now(), comment: nil)
            clock.advance(120)
            try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            let flags = try await Self.open(app, world.course)
            #expect(flags["Risk 2"] == nil)  // handed in: the flag has cleared
            #expect(flags["Risk 3"] == ["due_soon"])  // still failing, but dismissed: not shown again
            let kept = try await RiskFlags.list(courseID, dismissed: true, on: app.db)
            #expect(kept.map(\.id) == [failing.id])
            // A situation that passed and came back is a new flag: raised again, not dismissed. Risk 2's passed flag had
            // been dismissed; their hand-in is withdrawn (deleted) while the assignment is still due tomorrow.
            let passed = try #require(second.first { $0.name == "Risk 2" && $0.rule == "due_soon" })
            _ = try await RiskFlags.change(passed.id, in: courseID, RiskFlagChange(dismissed: true), by: world.students[0], now: app.clock.now(), on: app.db)
            try await Submission.query(on: app.db).filter(\.$user.$id == world.students[1].requireID()).filter(\.$assignment.$id == world.dueSoon.requireID()).delete()
            clock.advance(120)
            try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            let back = try #require(try await RiskFlags.list(courseID, dismissed: false, on: app.db).first { $0.name == "Risk 2" && $0.rule == "due_soon" })
            #expect(back.id == passed.id && back.raisedAt > passed.raisedAt && back.dismissedAt == nil)
            // A dismissal taken back shows the flag again.
            let undo = try await app.testing().sendRequest(.PATCH, "api/v1/courses/\(courseID)/risk-flags/\(failing.id)", headers: instructor) { req in
                try req.content.encode(["dismissed": false], as: .json)
            }
            #expect(undo.status == .ok)
            #expect(try await Self.open(app, world.course)["Risk 3"] == ["due_soon", "failing_test"])
            // Wrong input: an unknown field, a wrong type, no body.
            for body in [#"{"dismissed": true, "hidden": 1}"#, #"{"dismissed": "yes"}"#, ""] {
                let bad = try await app.testing().sendRequest(.PATCH, "api/v1/courses/\(courseID)/risk-flags/\(failing.id)",
                                                              headers: instructor) { req in
                    req.headers.contentType = .json
                    req.body = ByteBuffer(string: body)
                }
                #expect([400, 422].contains(bad.status.code), "\(body): \(bad.status)")
            }
            #expect(try await RiskFlags.list(courseID, dismissed: true, on: app.db).isEmpty)
        }
    }

    @Test func theSweepChecksCoursesInTermHourly() async throws {
        try await withTestApp { app in
            let clock = MovableClock(app)
            try await app.loadDemoData()
            let world = try await Self.world(app, "RK3")
            let ended = Course(programmeID: world.course.$programme.id, code: "OLD", title: "Over", term: "2025",
                               startsOn: app.clock.now().addingTimeInterval(-200 * 86_400), endsOn: app.clock.now().addingTimeInterval(-30 * 86_400))
            try await ended.create(on: app.db)
            try await JobWorker.sweep(app)
            let checked = try #require(try await RiskFlags.checkedAt(world.course.requireID(), on: app.db))
            #expect(try await RiskFlags.checkedAt(ended.requireID(), on: app.db) == nil)
            #expect(try await Self.open(app, world.course)["Risk 2"] == ["due_soon"])
            // Within the hour nothing is checked again; after it, it is.
            clock.advance(30 * 60)
            try await JobWorker.sweep(app)
            #expect(try await RiskFlags.checkedAt(world.course.requireID(), on: app.db) == checked)
            clock.advance(31 * 60)
            try await JobWorker.sweep(app)
            let again = try #require(try await RiskFlags.checkedAt(world.course.requireID(), on: app.db))
            #expect(again > checked)
            // Checks of one course at once (workers, a teacher's Check now): one runs, the others find it claimed.
            clock.advance(2 * 60 * 60)
            let (course, now, writes) = (world.course, app.clock.now(), app.writes)
            let results = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<4 { group.addTask { try await RiskFlags.check(course, now: now, unlessCheckedSince: now.addingTimeInterval(-60), writes: writes) } }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(results.compactMap { $0 }.count == 1, "\(results)")
        }
    }

    @Test func readingACourseCostsTheSameWhateverItsSize() async throws {
        guard !TestDatabase.isPostgres else { return }  // counted from SQLite's log; PostgreSQL runs the same code
        let counter = StatementCounter()
        try await withTestApp(statements: counter) { app in
            try await app.loadDemoData()
            let small = try await Self.world(app, "RS1", students: 5)
            let large = try await Self.world(app, "RL1", students: 40)
            let now = app.clock.now()
            let few = try await counter.count { _ = try await RiskFlags.signals(small.course, now: now, on: app.db) }
            let many = try await counter.count { _ = try await RiskFlags.signals(large.course, now: now, on: app.db) }
            #expect(few == 7 && many == 7, "\(few) and \(many): \(counter.statements)")
            let writeFew = try await counter.count { try await RiskFlags.check(small.course, now: now, writes: app.writes) }
            let writeMany = try await counter.count { try await RiskFlags.check(large.course, now: now, writes: app.writes) }
            #expect(writeFew == writeMany, "\(writeFew) and \(writeMany)")
        }
    }

    /// The attacks: a student of the course (even on their own flag), its TA, a teacher of another course with this
    /// course's flag id, and no one signed in. Each is refused and the flag is unchanged.
    @Test func onlyTheCoursesTeachersSeeOrDismissFlags() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app, "RK4")
            let courseID = try world.course.requireID()
            try await RiskFlags.check(world.course, now: app.clock.now(), writes: app.writes)
            let own = try #require(try await RiskFlags.list(courseID, dismissed: false, on: app.db).first { $0.email == "student1@demo.test" })
            let cs101 = try await app.course("CS101")
            for email in ["student1@demo.test", "ta@demo.test"] {
                let headers = try await app.bearer(email)
                #expect(try await app.testing().sendRequest(.GET, "api/v1/courses/\(courseID)/risk-flags", headers: headers).status == .notFound)
                #expect(try await app.testing().sendRequest(.POST, "api/v1/courses/\(courseID)/risk-checks", headers: headers).status == .notFound)
                let patch = try await app.testing().sendRequest(.PATCH, "api/v1/courses/\(courseID)/risk-flags/\(own.id)", headers: headers) { req in
                    try req.content.encode(["dismissed": true], as: .json)
                }
                #expect(patch.status == .notFound, "\(email)")
                let browser = try Browser(app)
                _ = try await browser.signIn(email)
                #expect(try await browser.get("/courses/\(courseID)/at-risk").status == .notFound)
                // Nor on the per-student page.
                #expect(try await browser.get("/courses/\(courseID)/students/\(own.userID)").body.string.contains(own.reason) == false)
            }
            // A teacher of CS101 only, naming this course's flag through CS101.
            let other = User(email: "other-teacher@uni.test", displayName: "Other Teacher", passwordHash: try Bcrypt.hash(DemoData.password, cost: 4))
            try await other.create(on: app.db)
            try await CourseMember(courseID: cs101.requireID(), userID: other.requireID(), role: .instructor).create(on: app.db)
            let stranger = try await app.bearer("other-teacher@uni.test")
            let through = try await app.testing().sendRequest(.PATCH, "api/v1/courses/\(cs101.requireID())/risk-flags/\(own.id)", headers: stranger) { req in
                try req.content.encode(["dismissed": true], as: .json)
            }
            #expect(through.status == .notFound)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/courses/\(courseID)/risk-flags", headers: stranger).status == .notFound)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/courses/\(courseID)/risk-flags").status == .unauthorized)
            #expect(try await RiskFlags.list(courseID, dismissed: true, on: app.db).isEmpty)
            // The page's forms need their CSRF token.
            let browser = try Browser(app)
            _ = try await browser.signIn("instructor@demo.test")
            let page = try await browser.get("/courses/\(courseID)/at-risk")
            #expect(page.status == .ok && page.body.string.contains(own.reason) && page.body.string.contains("Student 1"))
            let forged = try await browser.post("/courses/\(courseID)/at-risk/\(own.id)", ["dismissed": "true"], csrf: .some(nil))
            #expect(forged.status == .forbidden)
            #expect(try await RiskFlags.list(courseID, dismissed: true, on: app.db).isEmpty)
            let done = try await browser.post("/courses/\(courseID)/at-risk/\(own.id)", ["dismissed": "true"])
            #expect(done.status == .seeOther)
            #expect(try await RiskFlags.list(courseID, dismissed: true, on: app.db).map(\.id) == [own.id])
            let dismissedPage = try await browser.get("/courses/\(courseID)/at-risk?dismissed=true").body.string
            #expect(dismissedPage.contains("Show again") && dismissedPage.contains(own.reason))
            // The per-student page shows a teacher the student's open flags.
            let risk2 = try world.students[1].requireID()
            #expect(try await browser.get("/courses/\(courseID)/students/\(risk2)").body.string.contains("is due in"))
        }
    }
}
