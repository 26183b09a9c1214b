// Code similarity through the platform: a grader's check runs on the durable queue over each student's latest hand-in
// with the starter code left out, ranks the copy first, and lays the pair out side by side; earlier offerings are
// sources, shown only to those who grade them; students, another course's teacher and forms without CSRF are refused.
import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
import Grading
@testable import App

@Suite struct CodeSimilarityTests {
    static let starter = """
        def read_input(path):
            with open(path) as handle:
                rows = [line.strip() for line in handle if line.strip()]
            return rows

        def write_output(path, text):
            with open(path, "w") as handle:
                handle.write(text)
                handle.write("\\n")

        def check_rows(rows):
            for index, row in enumerate(rows):
                if "," not in row:
                    raise ValueError("row %d has no comma" % index)
            return True

        """

    static let original = """
        BANNER = "<script>alert(1)</script>"

        def parse_grades(lines):
            table = {}
            for line in lines:
                name, score = line.split(",")
                if name not in table:
                    table[name] = []
                table[name].append(int(score))
            return table

        def best_student(table):
            best = None
            best_mean = -1
            for name, scores in table.items():
                mean = sum(scores) / len(scores)
                if mean > best_mean:
                    best, best_mean = name, mean
            return best, best_mean

        def report(table):
            out = []
            for name in sorted(table):
                scores = table[name]
                out.append(f"{name}: {min(scores)} {max(scores)} {len(scores)}")
            return "\\n".join(out)
        """

    /// The original with every name changed and comments added: a copy.
    static let renamed = """
        TITLE = "<script>alert(1)</script>"

        # Reads the marks.
        def load_marks(rows):
            marks = {}
            for row in rows:
                who, mark = row.split(",")
                if who not in marks:
                    marks[who] = []
                marks[who].append(int(mark))
            return marks

        def top_of_class(marks):
            top = None
            top_avg = -1
            for who, points in marks.items():
                avg = sum(points) / len(points)
                if avg > top_avg:
                    top, top_avg = who, avg
            return top, top_avg

        def summary(marks):
            lines = []
            for who in sorted(marks):
                points = marks[who]
                lines.append(f"{who}: {min(points)} {max(points)} {len(points)}")
            return "\\n".join(lines)
        """

    /// Solutions written independently.
    static let others = [
        """
        class Gradebook:
            def __init__(self):
                self.entries = []

            def add(self, record):
                student, value = record.split(",")
                self.entries.append((student, float(value)))

            def averages(self):
                totals, counts = {}, {}
                for student, value in self.entries:
                    totals[student] = totals.get(student, 0.0) + value
                    counts[student] = counts.get(student, 0) + 1
                return {s: totals[s] / counts[s] for s in totals}
        """,
        """
        import csv
        import statistics

        def summarise(path):
            with open(path, newline="") as f:
                reader = csv.reader(f)
                grouped = {}
                for who, score in reader:
                    grouped.setdefault(who, []).append(int(score))
            medians = {k: statistics.median(v) for k, v in grouped.items()}
            winner = max(medians, key=medians.get)
            print(winner, medians[winner])
        """,
        """
        def solve(text):
            pairs = [item.split(",") for item in text.splitlines()]
            names = sorted({p[0] for p in pairs})
            result = []
            while names:
                current = names.pop()
                values = [int(p[1]) for p in pairs if p[0] == current]
                result.insert(0, (current, sum(values), len(values)))
            return result
        """,
        """
        from collections import defaultdict

        scores = defaultdict(list)
        try:
            while True:
                entry = input()
                key, _, number = entry.partition(",")
                scores[key].append(int(number))
        except EOFError:
            pass
        ranking = sorted(scores.items(), key=lambda kv: -sum(kv[1]) / len(kv[1]))
        for key, numbers in ranking[:3]:
            print(key, round(sum(numbers) / len(numbers), 2))
        """,
    ]

    struct World {
        var course: Course
        var assignment: Assignment
        var students: [User]
        /// Each student's hand-in a check should read (student 1's second attempt).
        var latest: [UUID]
        var firstAttempt: UUID
        var testRun: UUID
    }

    /// A course of the demo programme taught by the demo instructor with the demo TA, six students, and an assignment
    /// every student handed in: student 1 the original (second attempt; the first was something else), student 2 a
    /// renamed copy, the others their own; each with the starter code beside it. The instructor's test run is the
    /// original verbatim (test runs are not compared).
    static func world(_ app: Application, code: String = "SIM1", title: String = "Grades", startsOn: Date? = nil) async throws -> World {
        let programme = try #require(try await Programme.query(on: app.db).first())
        let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        let ta = try #require(try await User.query(on: app.db).filter(\.$email == "ta@demo.test").first())
        let start = startsOn ?? Date().addingTimeInterval(-10 * 86_400)
        let course = Course(programmeID: try programme.requireID(), code: code, title: "Similarity", term: startsOn == nil ? "2026" : "2025",
                            startsOn: start, endsOn: start.addingTimeInterval(120 * 86_400))
        try await course.create(on: app.db)
        try await CourseMember(courseID: course.requireID(), userID: instructor.requireID(), role: .instructor).create(on: app.db)
        if startsOn == nil { try await CourseMember(courseID: course.requireID(), userID: ta.requireID(), role: .ta).create(on: app.db) }
        var input = AssignmentInput()
        (input.title, input.kind, input.classroomTests) = (title, "classroom", #"{"tests": [{"name": "t", "run": "true", "points": 1}]}"#)
        let assignment = try await Assignments.create(in: course, input, by: instructor, on: app.db)
        var students: [User] = [], latest: [UUID] = []
        let programs = [original, renamed] + others
        for (index, program) in programs.enumerated() {
            let student = User(email: "\(code.lowercased())\(startsOn == nil ? "" : "-earlier")-\(index + 1)@uni.test", displayName: "\(code) \(startsOn == nil ? "student" : "alumnus") \(index + 1)",
                               passwordHash: nil)
            try await student.create(on: app.db)
            try await CourseMember(courseID: course.requireID(), userID: student.requireID(), role: .student).create(on: app.db)
            students.append(student)
        }
        let firstAttempt = try await handIn(app, assignment, students[0], attempt: 1, files: ["main.py": others[0]])
        for (index, program) in programs.enumerated() {
            // Student 2's editor writes Windows line ends.
            let main = index == 1 ? program.replacingOccurrences(of: "\n", with: "\r\n") : program
            latest.append(try await handIn(app, assignment, students[index], attempt: index == 0 ? 2 : 1, files: ["main.py": main, "helpers.py": starter]))
        }
        let testRun = try await handIn(app, assignment, instructor, attempt: 1, testRun: true, files: ["main.py": original, "helpers.py": starter])
        return World(course: course, assignment: assignment, students: students, latest: latest, firstAttempt: firstAttempt, testRun: testRun)
    }

    static func handIn(_ app: Application, _ assignment: Assignment, _ user: User, attempt: Int, testRun: Bool = false,
                       files: [String: String]) async throws -> UUID {
        let submission = Submission()
        submission.$assignment.id = try assignment.requireID()
        submission.$user.id = try user.requireID()
        (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt) = (testRun, attempt, .graded, Date())
        (submission.cpuMs, submission.wallMs, submission.charged, submission.runs, submission.score) = (0, 0, 0, 1, 1)
        try await submission.create(on: app.db)
        for (path, text) in files { try await SubmissionFile(submissionID: submission.requireID(), path: path, contents: Data(text.utf8)).create(on: app.db) }
        return try submission.requireID()
    }

    static func send(_ app: Application, _ method: HTTPMethod, _ path: String, _ headers: HTTPHeaders, json: String? = nil,
                     body: Data? = nil) async throws -> TestingHTTPResponse {
        var headers = headers
        if json != nil { headers.contentType = .json }
        if body != nil { headers.replaceOrAdd(name: .contentType, value: "application/zip") }
        return try await app.testing().sendRequest(method, path, headers: headers, body: json.map { ByteBuffer(string: $0) } ?? body.map { ByteBuffer(data: $0) })
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestingHTTPResponse) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(buffer: response.body))
    }

    static func drain(_ app: Application) async throws {
        let worker = JobWorker(app: app, name: "similarity-test", lease: 60)
        while try await worker.runOnce() {}
    }

    @Test func aCheckRanksTheCopyFirstWithStarterCodeLeftOutAndShowsThePairSideBySide() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app)
            let assignmentID = try world.assignment.requireID()
            let ta = try await app.bearer("ta@demo.test")
            // The starter code, stored as a zip.
            let stored = try await Self.send(app, .PUT, "api/v1/assignments/\(assignmentID)/starter-code", ta, body: try TestZip.make(["helpers.py": Self.starter]))
            #expect(stored.status == .ok)
            #expect(try Self.decode(StarterCodeDTO.self, stored).files == ["helpers.py"])
            let started = try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", ta, json: "{}")
            #expect(started.status == .accepted)
            let check = try Self.decode(SimilarityCheckDTO.self, started)
            #expect(check.status == "queued")
            // One check at a time per assignment.
            #expect(try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", ta, json: "{}").status == .conflict)
            try await Self.drain(app)

            let done = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .GET, "api/v1/similarity-checks/\(check.id)", ta))
            #expect(done.status == "done")
            #expect(done.handIns == 6)
            #expect(done.starterFiles == 1 && done.starterFingerprints > 0)
            #expect(done.histogram.reduce(0, +) == 15)  // every pair of 6, those sharing nothing in the first tenth
            let page = try Self.decode(Page<SimilarityPairDTO>.self, try await Self.send(app, .GET, "api/v1/similarity-checks/\(check.id)/pairs", ta))
            let first = try #require(page.items.first)
            #expect(Set([first.a.submissionID, first.b.submissionID]) == Set(world.latest.prefix(2)))
            #expect(first.similarity > 0.6)
            #expect(first.a.name.hasPrefix("SIM1 student"))
            // Nothing else comes near: the starter code they all carry is left out.
            for pair in page.items.dropFirst() { #expect(pair.similarity < 0.35, "\(pair.a.name) ~ \(pair.b.name): \(pair.similarity)") }
            // Only each student's latest hand-in, never a staff test run.
            let compared = Set(page.items.flatMap { [$0.a.submissionID, $0.b.submissionID] })
            #expect(!compared.contains(world.firstAttempt) && !compared.contains(world.testRun))
            #expect(done.clusters.count == 1 && Set(done.clusters[0].map(\.submissionID)) == Set(world.latest.prefix(2)))

            // The pair side by side: passages on the functions' lines, the code escaped.
            let detail = try Self.decode(SimilarityPairDTO.self, try await Self.send(app, .GET, "api/v1/similarity-pairs/\(first.id)", ta))
            let passages = try #require(detail.passages)
            #expect(!passages.isEmpty)
            #expect(passages.allSatisfy { $0.a.file == "main.py" && $0.b?.file == "main.py" })
            let browser = try Browser(app)
            _ = try await browser.signIn("ta@demo.test")
            let shown = try await browser.get("/similarity-pairs/\(first.id)")
            #expect(shown.status == .ok)
            #expect(shown.body.string.contains(#"class="shared""#))
            #expect(shown.body.string.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!shown.body.string.contains("<script>alert(1)"))
            // Windows line ends split into lines as the passages count them.
            #expect(shown.body.string.contains("<pre>def top_of_class(marks):</pre>"))
            let results = try await browser.get("/similarity-checks/\(check.id)")
            #expect(results.status == .ok && results.body.string.contains("<svg") && results.body.string.contains("/similarity-pairs/\(first.id)"))
            #expect(try await browser.get("/assignments/\(assignmentID)/similarity").body.string.contains("/similarity-checks/\(check.id)"))
        }
    }

    /// The attacks: a student of the course (whose hand-in is in the check), a teacher of another course naming this
    /// course's check and pair, and forms without their CSRF token. Each is refused and nothing is written.
    @Test func onlyTheCoursesGradersSeeOrStartChecks() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app)
            let assignmentID = try world.assignment.requireID()
            let instructor = try await app.bearer("instructor@demo.test")
            let check = try Self.decode(SimilarityCheckDTO.self,
                                        try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", instructor, json: "{}"))
            try await Self.drain(app)
            let pairID = try #require(try await CodeSimilarityPair.query(on: app.db).filter(\.$check.$id == check.id).first()).requireID()
            // A student of this course (with a password, to sign in) and a teacher of CS101 only.
            let student = world.students[0]
            student.passwordHash = try Bcrypt.hash(DemoData.password, cost: 4)
            try await student.save(on: app.db)
            let outsider = User(email: "cs101-teacher@uni.test", displayName: "Other teacher", passwordHash: try Bcrypt.hash(DemoData.password, cost: 4))
            try await outsider.create(on: app.db)
            try await CourseMember(courseID: try await app.course("CS101").requireID(), userID: outsider.requireID(), role: .instructor).create(on: app.db)
            for email in [student.email, outsider.email] {
                let headers = try await app.bearer(email)
                for (method, path) in [(HTTPMethod.GET, "api/v1/similarity-checks/\(check.id)"), (.GET, "api/v1/similarity-checks/\(check.id)/pairs"),
                                       (.GET, "api/v1/similarity-pairs/\(pairID)"), (.GET, "api/v1/assignments/\(assignmentID)/similarity-checks"),
                                       (.POST, "api/v1/assignments/\(assignmentID)/similarity-checks"), (.GET, "api/v1/assignments/\(assignmentID)/starter-code")] {
                    #expect(try await Self.send(app, method, path, headers, json: method == .POST ? "{}" : nil).status == .notFound, "\(email) \(method) \(path)")
                }
                #expect(try await Self.send(app, .PUT, "api/v1/assignments/\(assignmentID)/starter-code", headers, body: try TestZip.make(["a.py": "x = 1\n"])).status
                        == .notFound)
                let browser = try Browser(app)
                _ = try await browser.signIn(email)
                for path in ["/similarity-checks/\(check.id)", "/similarity-pairs/\(pairID)", "/assignments/\(assignmentID)/similarity"] {
                    #expect(try await browser.get(path).status == .notFound, "\(email) \(path)")
                }
                #expect(try await browser.post("/assignments/\(assignmentID)/similarity", [:]).status == .notFound)
                #expect(try await browser.upload("/assignments/\(assignmentID)/similarity/starter", field: "zip", filename: "s.zip",
                                                 contents: try TestZip.make(["a.py": "x = 1\n"])).status == .notFound)
                #expect(try await Self.send(app, .GET, "api/v1/assignments/\(assignmentID)/similarity-sources", headers).status == .notFound)
            }
            #expect(try await CodeSimilarityCheck.query(on: app.db).count() == 1)
            #expect(try await AssignmentStarter.query(on: app.db).count() == 0)
            // The grader's own form without its token.
            let browser = try Browser(app)
            _ = try await browser.signIn("ta@demo.test")
            #expect(try await browser.post("/assignments/\(assignmentID)/similarity", [:], csrf: .some(nil)).status == .forbidden)
            #expect(try await CodeSimilarityCheck.query(on: app.db).count() == 1)
            // With it, a check is queued.
            #expect(try await browser.post("/assignments/\(assignmentID)/similarity", [:]).status == .seeOther)
            #expect(try await CodeSimilarityCheck.query(on: app.db).count() == 2)
        }
    }

    /// An earlier offering (same programme and code, started before) taught by the instructor but not the TA: the
    /// instructor may compare with it; the TA may not choose it, and sees its student unnamed and its code hidden.
    @Test func earlierOfferingsAreSourcesShownOnlyToThoseWhoGradeThem() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let world = try await Self.world(app)
            let earlier = try await Self.world(app, code: "SIM1", title: "GRADES", startsOn: Date().addingTimeInterval(-400 * 86_400))
            let earlierID = try earlier.assignment.requireID(), assignmentID = try world.assignment.requireID()
            let instructor = try await app.bearer("instructor@demo.test"), ta = try await app.bearer("ta@demo.test")
            let sources = try Self.decode([SimilaritySourceDTO].self, try await Self.send(app, .GET, "api/v1/assignments/\(assignmentID)/similarity-sources", instructor))
            #expect(sources.map(\.assignmentID) == [earlierID] && sources.first?.sameTitle == true, "\(sources)")
            #expect(try Self.decode([SimilaritySourceDTO].self, try await Self.send(app, .GET, "api/v1/assignments/\(assignmentID)/similarity-sources", ta)).isEmpty)
            // The TA naming it anyway, and the earlier offering naming the later one, are refused.
            let refused = try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", ta, json: #"{"earlierAssignmentIDs": ["\#(earlierID)"]}"#)
            #expect(refused.status == .unprocessableEntity)
            #expect(try await Self.send(app, .POST, "api/v1/assignments/\(earlierID)/similarity-checks", instructor,
                                        json: #"{"earlierAssignmentIDs": ["\#(assignmentID)"]}"#).status == .unprocessableEntity)
            #expect(try await CodeSimilarityCheck.query(on: app.db).count() == 0)

            let check = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", instructor,
                                                                                     json: #"{"earlierAssignmentIDs": ["\#(earlierID)"]}"#))
            try await Self.drain(app)
            let done = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .GET, "api/v1/similarity-checks/\(check.id)", instructor))
            #expect(done.status == "done" && done.handIns == 6 && done.earlierHandIns == 6)
            // Earlier hand-ins are never paired with each other.
            let asInstructor = try Self.decode(Page<SimilarityPairDTO>.self,
                                               try await Self.send(app, .GET, "api/v1/similarity-checks/\(check.id)/pairs?per=100", instructor)).items
            #expect(!asInstructor.contains { $0.a.earlier })
            let earlierCopy = try #require(asInstructor.first { $0.b.earlier && $0.b.submissionID == earlier.latest[0] && $0.a.submissionID == world.latest[0] })
            #expect(earlierCopy.similarity > 0.9 && earlierCopy.b.name == "SIM1 alumnus 1" && earlierCopy.b.userID != nil)
            // The TA sees the same pairs, the earlier student unnamed, the earlier code not shown.
            let taPairs = try await Self.send(app, .GET, "api/v1/similarity-checks/\(check.id)/pairs?per=100", ta)
            #expect(!taPairs.body.string.contains("alumnus"))
            let asTA = try Self.decode(Page<SimilarityPairDTO>.self, taPairs).items
            let hidden = try #require(asTA.first { $0.id == earlierCopy.id })
            #expect(hidden.b.userID == nil && hidden.b.submissionID == nil && hidden.b.attempt == nil && hidden.b.name == "A student of SIM1 (2025)")
            #expect(!taPairs.body.string.contains(earlier.latest[0].uuidString.lowercased()) && !taPairs.body.string.contains(earlier.latest[0].uuidString))
            let detail = try Self.decode(SimilarityPairDTO.self, try await Self.send(app, .GET, "api/v1/similarity-pairs/\(earlierCopy.id)", ta))
            #expect(try #require(detail.passages).allSatisfy { $0.b == nil })
            let browser = try Browser(app)
            _ = try await browser.signIn("ta@demo.test")
            let shown = try await browser.get("/similarity-pairs/\(earlierCopy.id)"), page = shown.body.string
            // Only the first hand-in's code: the original's function once, not twice; the earlier student unnamed.
            #expect(shown.status == .ok && page.contains("its code is not shown") && page.components(separatedBy: "def best_student").count == 2)
            let results = try await browser.get("/similarity-checks/\(check.id)").body.string
            #expect(!page.contains("alumnus") && !results.contains("alumnus") && results.contains("A student of SIM1 (2025)"))
            // The instructor's form, the earlier offering ticked.
            let teacher = try Browser(app)
            _ = try await teacher.signIn("instructor@demo.test")
            #expect(try await teacher.get("/assignments/\(assignmentID)/similarity").body.string.contains(#"value="\#(earlierID.uuidString)" checked"#))
            #expect(try await teacher.post("/assignments/\(assignmentID)/similarity", pairs: [("earlierAssignmentIDs[]", earlierID.uuidString)]).status == .seeOther)
            let second = try #require(try await CodeSimilarityCheck.query(on: app.db).filter(\.$status == .queued).first())
            #expect(second.earlierAssignmentIDs == [earlierID])
        }
    }

    @Test func noHandInsAFailedCheckAndBadStarterCode() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
            var input = AssignmentInput()
            (input.title, input.kind, input.classroomTests) = ("Empty", "classroom", #"{"tests": [{"name": "t", "run": "true", "points": 1}]}"#)
            let assignment = try await Assignments.create(in: try await app.course("CS101"), input, by: instructor, on: app.db)
            let assignmentID = try assignment.requireID()
            let headers = try await app.bearer("instructor@demo.test")
            // A zip that is not one, and one whose entry escapes its folder: refused, nothing stored.
            for bad in [Data("not a zip".utf8), try TestZip.make(["../evil.py": "x = 1\n"])] {
                let answer = try await Self.send(app, .PUT, "api/v1/assignments/\(assignmentID)/starter-code", headers, body: bad)
                #expect(answer.status == .unprocessableEntity)
            }
            #expect(try await AssignmentStarter.query(on: app.db).count() == 0)
            // Stored, then removed by an empty body.
            #expect(try await Self.send(app, .PUT, "api/v1/assignments/\(assignmentID)/starter-code", headers, body: try TestZip.make(["s.py": "x = 1\n"])).status == .ok)
            #expect(try await AssignmentStarter.query(on: app.db).count() == 1)
            let removed = try await Self.send(app, .PUT, "api/v1/assignments/\(assignmentID)/starter-code", headers, body: Data())
            #expect(try Self.decode(StarterCodeDTO.self, removed).files.isEmpty)
            #expect(try await AssignmentStarter.query(on: app.db).count() == 0)

            // No hand-ins: a check that finds nothing, and says so.
            let empty = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", headers, json: "{}"))
            try await Self.drain(app)
            let done = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .GET, "api/v1/similarity-checks/\(empty.id)", headers))
            #expect(done.status == "done" && done.handIns == 0 && done.pairsFound == 0 && done.histogram == Array(repeating: 0, count: 10))
            let browser = try Browser(app)
            _ = try await browser.signIn("instructor@demo.test")
            #expect(try await browser.get("/similarity-checks/\(empty.id)").body.string.contains("No two hand-ins share code"))

            // A check whose queue entry failed for good without a worker to say so is marked failed by the sweep; one
            // whose worker gave up while running it by the handler. Each frees the assignment for the next check.
            let doomed = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", headers, json: "{}"))
            let entry = try #require(try await CodeSimilarityCheck.find(doomed.id, on: app.db)?.queueJobID)
            #expect(try await JobQueue(db: app.db).cancelIfQueued(entry, reason: "the worker stopped"))
            try await SimilarityChecks.sweep(app)
            let failed = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .GET, "api/v1/similarity-checks/\(doomed.id)", headers))
            #expect(failed.status == "failed" && failed.problem?.contains("the worker stopped") == true)
            let running = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", headers, json: "{}"))
            let claimed = try #require(try await JobQueue(db: app.db).claim(worker: "w", kinds: [SimilarityChecks.kind], lease: 60))
            try await CodeSimilarityCheck.query(on: app.db).filter(\.$id == running.id).set(\.$status, to: .running).update()
            #expect(try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", headers, json: "{}").status == .conflict)
            try await SimilarityCheckHandler().gaveUp(claimed, reason: "out of memory", app: app)
            let gaveUp = try Self.decode(SimilarityCheckDTO.self, try await Self.send(app, .GET, "api/v1/similarity-checks/\(running.id)", headers))
            #expect(gaveUp.status == "failed" && gaveUp.problem?.contains("out of memory") == true)
            #expect(try await Self.send(app, .POST, "api/v1/assignments/\(assignmentID)/similarity-checks", headers, json: "{}").status == .accepted)
        }
    }
}
