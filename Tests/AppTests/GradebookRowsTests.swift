// The gradebook page's kept rows (`GradebookRows`) against the gradebook computed from the hand-ins: after any
// sequence of hand-ins, results, failures, regrades, adjustments and rule changes, and under concurrent results and
// rule changes (on PostgreSQL for real), every page shows exactly what `GradebookData.load` computes; the page's
// statements do not grow with the course; names are escaped.
import Fluent
import Foundation
import Grading
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct GradebookRowsTests {
    /// A small seeded generator (the seed is printed, so a failure can be replayed).
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct World {
        var course: Course
        var instructor: User
        var students: [User]
        var assignments: [Assignment]
    }

    /// CS101 of the demo data with two Classroom assignments (ready to regrade) and its students.
    static func world(_ app: Application) async throws -> World {
        let course = try await app.course("CS101")
        let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        var assignments: [Assignment] = []
        for title in ["Kept A", "Kept B"] {
            var input = AssignmentInput()
            (input.title, input.kind, input.pointsPossible) = (title, "classroom", 10)
            input.classroomTests = #"{"tests": [{"name": "hello", "run": "python3 hello.py", "output": "Hello", "comparison": "included", "timeout": 1, "points": 5}]}"#
            assignments.append(try await Assignments.create(in: course, input, by: instructor, on: app.db))
        }
        let students = try await CourseMember.query(on: app.db).filter(\.$course.$id == course.requireID()).filter(\.$role == .student).with(\.$user).all().map(\.user)
        return World(course: course, instructor: instructor, students: students, assignments: assignments)
    }

    /// A hand-in as `Submissions.submit` leaves it: waiting, the student's next attempt (nothing counts yet).
    static func handIn(_ app: Application, _ assignment: Assignment, _ user: User) async throws -> Submission {
        let attempts = try await Submission.query(on: app.db).filter(\.$assignment.$id == assignment.requireID()).filter(\.$user.$id == user.requireID()).count()
        let submission = Submission()
        submission.$assignment.id = try assignment.requireID()
        submission.$user.id = try user.requireID()
        (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt) = (false, attempts + 1, .queued, app.clock.now())
        (submission.cpuMs, submission.wallMs, submission.charged, submission.runs) = (0, 0, 0, 1)
        try await submission.create(on: app.db)
        return submission
    }

    /// A run's result recorded as the grading worker records it.
    static func record(_ app: Application, _ id: UUID, score: Double) async throws {
        let outcome = GradingOutcome(score: score, maxScore: 10, results: nil, problem: nil, log: "", cpuMs: 1, wallMs: 1)
        try await app.writeTransaction(on: app.db) { tx in try await GradeRunHandler.recordOutcome(id, outcome, charged: 0, app: app, on: tx) }
    }

    /// Every page of the kept gradebook equals the computed one, score for score; returns how many rows the pages rebuilt.
    @discardableResult
    static func expectPagesExact(_ app: Application, _ course: Course, per: Int, _ context: String) async throws -> Int {
        let whole = try await GradebookData.load(course, on: app.db)
        var rebuilt = 0, shown: [[Double?]] = [], ids: [UUID] = []
        for number in 1...max(1, (whole.rows.count + per - 1) / per) {
            let page = try await GradebookRows.page(course, number: number, per: per, writes: app.writes)
            #expect(page.columns.map(\.id) == whole.columns.map(\.assignmentID))
            rebuilt += page.rebuilt
            shown += page.scores
            ids += page.students.map(\.id)
        }
        #expect(ids == whole.rows.map(\.userID), "\(context)")
        for (index, row) in whole.rows.enumerated() where index < shown.count && shown[index] != row.scores {
            Issue.record("\(context): \(row.email) shows \(shown[index]), computed \(row.scores)")
        }
        return rebuilt
    }

    @Test func aRandomHistoryKeepsEveryRowExact() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let clock = MovableClock(app)
            let world = try await Self.world(app)
            let students = Array(world.students.prefix(6))
            let ta = try #require(try await User.query(on: app.db).filter(\.$email == "ta@demo.test").first())
            let seed = UInt64(Date().timeIntervalSince1970 * 1000)
            print("GradebookRowsTests seed \(seed)")
            var random = Generator(state: seed)
            var bumped = true  // the first pages build every row
            var touched = Set<UUID>()  // students whose scores changed since the last look: their rows are stale
            for step in 1...300 {
                let assignment = world.assignments.randomElement(using: &random)!
                let student = students.randomElement(using: &random)!
                let mine = try await Submission.query(on: app.db).filter(\.$assignment.$id == assignment.requireID())
                    .filter(\.$user.$id == student.requireID()).sort(\.$attempt).all()
                let waiting = mine.filter { !$0.isFinished }, finished = mine.filter(\.isFinished)
                switch Int.random(in: 0..<10, using: &random) {
                case 0, 1: _ = try await Self.handIn(app, assignment, student)
                case 2, 3:
                    if let submission = waiting.randomElement(using: &random) {
                        try await Self.record(app, submission.requireID(), score: Double(Int.random(in: 0...40, using: &random)) / 4)
                        touched.insert(try student.requireID())
                    }
                case 4:
                    if let submission = waiting.randomElement(using: &random) {
                        try await GradeRunHandler.markFailed(submission, reason: "Test.", app: app)
                        touched.insert(try student.requireID())
                    }
                case 5:
                    if let submission = finished.randomElement(using: &random) {
                        try await Grades.regrade(submission, assignment: assignment, course: world.course, by: world.instructor, on: app, db: app.db)
                        touched.insert(try student.requireID())
                    }
                case 6:
                    if let submission = mine.randomElement(using: &random) {
                        let input = Grades.AdjustmentInput(points: Double(Int.random(in: -8...8, using: &random)) / 4, comment: "Step \(step).")
                        _ = try await Grades.adjust(submission, input, by: ta, app: app, on: app.db)
                        touched.insert(try student.requireID())
                    }
                case 7:
                    var input = AssignmentInput()
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: input.counted = Bool.random(using: &random) ? "best" : "latest"
                    case 1: input.latePolicy = ["none", "hard", "penalty:10", "penalty:35"].randomElement(using: &random)!
                    default: input.dueAt = ISO8601DateFormatter().string(from: app.clock.now().addingTimeInterval(Double(Int.random(in: -72...24, using: &random)) * 3_600))
                    }
                    let fresh = try #require(try await Assignment.find(assignment.requireID(), on: app.db))
                    try await Assignments.update(fresh, input, writes: app.writes)
                    bumped = true
                case 8: clock.advance(Double(Int.random(in: 0...30, using: &random)) * 3_600)
                default: break  // a hand-in at the same instant as the last (a tie the latest must break by attempt)
                }
                if step % 10 == 0 {
                    let rebuilt = try await Self.expectPagesExact(app, world.course, per: 7, "step \(step), seed \(seed)")
                    // Without a rule change, exactly the rows of the students whose scores changed were stale.
                    if !bumped { #expect(rebuilt == touched.count, "step \(step), seed \(seed): \(rebuilt) rows rebuilt, \(touched.count) students changed") }
                    bumped = false
                    touched = []
                    // Read again at once: nothing is stale.
                    let again = try await Self.expectPagesExact(app, world.course, per: 7, "again at step \(step)")
                    #expect(again == 0)
                }
            }
            // Every kind of step happened: there are graded, failed and adjusted hand-ins.
            #expect(try await Submission.query(on: app.db).filter(\.$status == .failed).count() > 0)
            #expect(try await GradeAdjustment.query(on: app.db).count() > 0)
        }
    }

    @Test func concurrentResultsAndRuleChangesLeaveRowsExact() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let world = try await Self.world(app)
            let student = world.students[0], assignment = world.assignments[0]
            for round in 1...50 {
                let first = try await Self.handIn(app, assignment, student), second = try await Self.handIn(app, assignment, student)
                _ = try await Self.expectPagesExact(app, world.course, per: 50, "before round \(round)")
                async let a: Void = Self.record(app, first.requireID(), score: Double(round % 7))
                async let b: Void = Self.record(app, second.requireID(), score: Double(round % 5))
                async let c: Void = {
                    var input = AssignmentInput()
                    input.counted = round % 2 == 0 ? "best" : "latest"
                    let fresh = try #require(try await Assignment.find(assignment.requireID(), on: app.db))
                    try await Assignments.update(fresh, input, writes: app.writes)
                }()
                _ = try await (a, b, c)
                // Whatever order they committed in, the rows read now are the computed ones; and the student's row,
                // refreshed by the last result after the rule's commit or stamped stale before it, is exact too.
                try await Self.expectPagesExact(app, world.course, per: 50, "round \(round)")
            }
        }
    }

    @Test func thePagesStatementsDoNotGrowWithTheCourse() async throws {
        guard !TestDatabase.isPostgres else { return }  // read from SQLite's query log
        let counter = StatementCounter()
        try await withTestApp(statements: counter) { app in
            try await app.loadDemoData()
            let small = try await CourseInsightsTests.world(app, "SM1", students: 2, assignments: 1)
            let large = try await CourseInsightsTests.world(app, "LG1", students: 9, assignments: 4)
            let writes = app.writes
            // The first reads build the rows (one write transaction, whatever the size), then the rows are read.
            func rebuilt(_ course: Course) async throws -> Int { try await GradebookRows.page(course, number: 1, per: 50, writes: writes).rebuilt }
            var counts: [Int] = []
            let buildSmall = try await counter.count { counts.append(try await rebuilt(small.course)) }
            let buildLarge = try await counter.count { counts.append(try await rebuilt(large.course)) }
            #expect(buildSmall == buildLarge, "\(buildSmall) and \(buildLarge): \(counter.statements)")
            let few = try await counter.count { counts.append(try await rebuilt(small.course)) }
            let many = try await counter.count { counts.append(try await rebuilt(large.course)) }
            #expect(counts == [2, 9, 0, 0])
            #expect(few == 2 && many == 2, "\(few) and \(many): \(counter.statements)")
        }
    }

    @Test func namesAreEscapedAndScoresShownAsTheGradebookWritesThem() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await CourseInsightsTests.world(app, "ESC", students: 2, assignments: 1)
            let hostile = world.students[0]
            hostile.displayName = #"<b>"x'&</b>"#
            try await hostile.save(on: app.db)
            let adjusted = try #require(try await Submission.query(on: app.db).filter(\.$user.$id == hostile.requireID()).first())
            _ = try await Grades.adjust(adjusted, .init(points: 0.25, comment: "A quarter."), by: world.students[1], app: app, on: app.db)
            let browser = try Browser(app)
            _ = try await browser.signIn("instructor@demo.test")
            let page = try await browser.get("/courses/\(world.course.requireID())/gradebook").body.string
            #expect(page.contains("&lt;b&gt;&quot;x&#39;&amp;&lt;/b&gt;") && !page.contains(#"<b>"x'&"#))
            #expect(page.contains("<td>1.25</td>") && page.contains("<td>2</td>"), "\(page)")
        }
    }
}
