// bench/insight's set-up (hidden): a course of `students` students × `assignments` assignments × `attempts` graded
// hand-ins each (two tests per hand-in, an allowance with a use per student), and one of `small` students the same
// way, written straight into the database; then the statements the overview, the gradebook and a page of its kept
// rows issue in each course (they must not grow with it). Prints one JSON object: the courses, a staff key and sign-in, the counts. The bench
// script then serves the platform from another process and times the pages next to /healthz.
import ArgumentParser
import Fluent
import Foundation
import Insight
import Ledger
import SQLKit
import Vapor

struct InsightBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "insight-bench", abstract: "Seed and count statements (for bench/insight).", shouldDisplay: false)

    @ArgumentParser.Option var students = 500
    @ArgumentParser.Option var assignments = 20
    @ArgumentParser.Option var attempts = 5
    @ArgumentParser.Option var small = 50
    @ArgumentParser.Option var password = "insight-bench-password"

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: true)
            let started = Date()
            let programme = Programme(name: "Insight bench", partnerOrganisation: "Bench Cloud", startsOn: started.addingTimeInterval(-86_400 * 60),
                                      endsOn: started.addingTimeInterval(86_400 * 300), description: "bench/insight")
            try await programme.create(on: app.db)
            let instructor = User(email: "bench-instructor@bench.invalid", displayName: "Bench Instructor", passwordHash: try Bcrypt.hash(password, cost: 6))
            try await instructor.create(on: app.db)
            let ledger = app.ledger
            try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                      amount: Credits(whole: Int64(students + small) * 20), memo: "bench")
            let large = try await seed(app, programme, instructor, code: "BIG", students: students)
            let little = try await seed(app, programme, instructor, code: "SMALL", students: small)
            let seeded = Date().timeIntervalSince(started)

            // Statements, read from the driver's query log through a database handle that logs to the counter.
            let counter = StatementCounter()
            let db = app.databases.database(logger: counter.logger(label: "insight-bench"), on: app.eventLoopGroup.any())!
            func count(_ course: Course, _ work: @escaping (Course) async throws -> Void) async throws -> Int {
                try await counter.count { try await work(course) }
            }
            let now = app.clock.now()
            let overview = { (course: Course) in _ = try await CourseInsights.overview(course, now: now, on: db) }
            let gradebook = { (course: Course) in _ = try await GradebookData.load(course, .page(number: 1, per: 50), on: db) }
            // The page's rows are built on the first read (not counted), then read as every later request reads them.
            let writes = Writes(db: db, gate: app.ledgerGate)
            let page = { (course: Course) in _ = try await GradebookRows.page(course, number: 1, per: Pager.perPage, writes: writes) }
            try await page(little)
            let token = try await APIKeys.issue(to: instructor, name: "insight bench", kind: .personal, origin: .password, on: app.db).token
            let figures: [String: Any] = [
                "course": try large.requireID().uuidString, "smallCourse": try little.requireID().uuidString,
                "token": token, "email": instructor.email, "password": password,
                "students": students, "small": small, "assignments": assignments, "attempts": attempts,
                "handIns": (students + small) * assignments * attempts, "seedSeconds": seeded,
                "overviewStatementsSmall": try await count(little, overview), "overviewStatementsLarge": try await count(large, overview),
                "gradebookStatementsSmall": try await count(little, gradebook), "gradebookStatementsLarge": try await count(large, gradebook),
                "gradebookPageStatementsSmall": try await count(little, page), "gradebookPageStatementsLarge": try await { try await page(large); return try await count(large, page) }(),
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys]), as: UTF8.self))
        }
    }

    /// One course, written in multi-row INSERTs (500 rows each) inside one transaction per table.
    func seed(_ app: Application, _ programme: Programme, _ instructor: User, code: String, students count: Int) async throws -> Course {
        let now = app.clock.now(), release = now.addingTimeInterval(-86_400 * 30)
        let course = Course(programmeID: try programme.requireID(), code: code, title: "Bench \(code)", term: "2026", startsOn: release,
                            endsOn: now.addingTimeInterval(86_400 * 60))
        try await course.create(on: app.db)
        let courseID = try course.requireID()
        try await CourseMember(courseID: courseID, userID: instructor.requireID(), role: .instructor).create(on: app.db)
        var made: [Assignment] = []
        for index in 1...assignments {
            var input = AssignmentInput()
            (input.title, input.kind, input.pointsPossible) = ("Exercise \(index)", "gradescope", 10)
            input.releaseAt = ISO8601DateFormatter().string(from: release.addingTimeInterval(Double(index) * 86_400))
            input.dueAt = ISO8601DateFormatter().string(from: release.addingTimeInterval(Double(index + 7) * 86_400))
            made.append(try await Assignments.create(in: course, input, by: instructor, on: app.db))
        }
        let people = (1...count).map { _ in UUID() }
        func insert(_ table: String, _ columns: [String], _ rows: [[any SQLExpression]]) async throws {
            try await app.db.transaction { tx in
                let sql = try tx.sqlDatabase()
                for start in stride(from: 0, to: rows.count, by: 500) {
                    var statement = sql.insert(into: table).columns(columns)
                    for row in rows[start..<min(start + 500, rows.count)] { statement = statement.values(row) }
                    try await statement.run()
                }
            }
        }
        try await insert("users", ["id", "email", "display_name", "sort_key", "is_admin", "is_active", "created_at"], people.enumerated().map { index, id in
            let name = "Student \(index + 1)"
            return [SQLBind(id), SQLBind("\(code.lowercased())-\(index + 1)@bench.invalid"), SQLBind(name), SQLBind(NaturalOrder.sortKey(name)),
                    SQLBind(false), SQLBind(true), SQLBind(now)]
        })
        try await insert("course_members", ["id", "course_id", "user_id", "role"], people.map { [SQLBind(UUID()), SQLBind(courseID), SQLBind($0), SQLBind("student")] })
        var submissions: [[any SQLExpression]] = [], tests: [[any SQLExpression]] = []
        for assignment in made {
            let released = assignment.releaseAt ?? release
            for (index, person) in people.enumerated() {
                for attempt in 1...attempts {
                    let id = UUID(), passedEdge = attempt == attempts && index % 3 != 0
                    let score = passedEdge ? 2.0 : 1.0, at = released.addingTimeInterval(Double(attempt * 3_600 + index * 7))
                    let results = #"{"tests": [{"name": "basic", "score": 1, "max_score": 1}, {"name": "edge", "score": \#(passedEdge ? 1 : 0), "max_score": 1}]}"#
                    submissions.append([SQLBind(id), SQLBind(try assignment.requireID()), SQLBind(person), SQLBind(false), SQLBind(attempt), SQLBind("graded"),
                                        SQLBind(at), SQLBind(at.addingTimeInterval(20)), SQLBind(score), SQLBind(2.0), SQLBind(results),
                                        SQLBind(400), SQLBind(900), SQLBind(Int64(10_000)), SQLBind(1)])
                    tests.append([SQLBind(UUID()), SQLBind(id), SQLBind(0), SQLBind("basic"), SQLBind(1.0), SQLBind(1.0), SQLBind(true)])
                    tests.append([SQLBind(UUID()), SQLBind(id), SQLBind(1), SQLBind("edge"), SQLBind(passedEdge ? 1.0 : 0.0), SQLBind(1.0), SQLBind(passedEdge)])
                }
            }
        }
        try await insert("submissions", ["id", "assignment_id", "user_id", "is_test_run", "attempt", "status", "submitted_at", "graded_at", "score", "max_score",
                                         "results", "cpu_ms", "wall_ms", "charged", "runs"], submissions)
        try await insert("submission_tests", ["id", "submission_id", "position", "name", "score", "max_score", "passed"], tests)
        // Credits: an allowance of 20 per student with one settled use.
        let ledger = app.ledger
        try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                  amount: Credits(whole: Int64(count) * 20), memo: "bench")
        for (index, person) in people.enumerated() {
            guard let user = try await User.find(person, on: app.db) else { continue }
            let account = try await ledger.setAllowance(of: user, in: .course(course), to: Credits(whole: 20), actor: nil)
            let amount = Credits(micro: Int64(index % 40 + 1) * 100_000)
            _ = try await ledger.settle(try await ledger.reserve(account, amount: amount, reason: "bench run", key: "bench-\(code)-\(index)").requireID(), actual: amount)
        }
        return course
    }
}
