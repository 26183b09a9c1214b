// The teaching loop end to end, with the real sandbox: an instructor publishes an assignment (Classroom I/O tests,
// or a Gradescope autograder zip whose setup.sh builds an environment layer), students hand in through the API, the
// queue's worker grades, and each viewer sees what the visibility rules allow. Also: bad hand-ins and broken
// results become clear messages, never crashes or stuck jobs.
import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
import Grading
@testable import App

@Suite(.serialized) struct GradingFlowTests {
    static let classroomTests = """
        {"tests": [
          {"name": "prints hello", "setup": "", "run": "python3 hello.py", "input": "", "output": "Hello, world", "comparison": "included", "timeout": 1, "points": 2},
          {"name": "adds", "setup": "", "run": "python3 add.py", "input": "2 3\\n", "output": "5", "comparison": "exact", "timeout": 1, "points": 3},
          {"name": "greets first", "setup": "", "run": "python3 hello.py", "input": "", "output": "^Hello", "comparison": "regex", "timeout": 1, "points": 1}
        ]}
        """
    static let hello = Data("print('Hello, world')\n".utf8)
    static let add = Data("a, b = map(int, input().split())\nprint(a + b)\n".utf8)

    static func createAssignment(_ app: Application, _ fields: [String: Any], course: String = "CS101") async throws -> UUID {
        let instructor = try await app.bearer("instructor@demo.test")
        let courseID = try await app.course(course).requireID()
        let body = try JSONSerialization.data(withJSONObject: fields)
        var headers = instructor
        headers.contentType = .json
        let response = try await app.testing().sendRequest(.POST, "api/v1/courses/\(courseID)/assignments", headers: headers, body: ByteBuffer(data: body))
        #expect(response.status == .created, "\(response.body.string)")
        return try response.content.decode(AssignmentDTO.self).id
    }

    static func submission(_ app: Application, _ id: UUID, as email: String) async throws -> SubmissionDTO {
        let response = try await app.testing().sendRequest(.GET, "api/v1/submissions/\(id)", headers: try await app.bearer(email))
        #expect(response.status == .ok, "\(response.body.string)")
        return try response.content.decode(SubmissionDTO.self)
    }

    @Test func classroomTestsGradeHandInsEndToEnd() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let assignmentID = try await Self.createAssignment(app, [
                "title": "Hello and add", "kind": "classroom", "instructions": "Write **hello.py** and add.py.",
                "requiredFiles": "hello.py\n*.py", "classroomTests": Self.classroomTests,
            ])
            let student1 = try await app.bearer("student1@demo.test"), student2 = try await app.bearer("student2@demo.test")
            let good = try await app.handIn(assignmentID, files: ["hello.py": Self.hello, "add.py": Self.add], as: student1)
            #expect(good.status == .created, "\(good.body.string)")
            let wrong = try await app.handIn(assignmentID, files: ["hello.py": Self.hello, "add.py": Data("print('five')\n".utf8)], as: student2)
            #expect(wrong.status == .created)
            // A required file missing: refused before anything is stored.
            let missing = try await app.handIn(assignmentID, files: ["add.py": Self.add], as: student2)
            #expect(missing.status == .unprocessableEntity)
            #expect(missing.body.string.contains("'hello.py'"))
            #expect(try await Submission.query(on: app.db).count() == 2)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == GradingJobs.grade).count() == 2)

            try await app.drainGradingQueue()
            let first = try await Self.submission(app, try good.content.decode(SubmissionDTO.self).id, as: "student1@demo.test")
            #expect(first.status == "graded")
            #expect(first.autograderScore == 6)
            #expect(first.maxScore == 6)
            #expect(first.tests.map(\.status) == ["passed", "passed", "passed"])
            #expect(first.log == nil)  // the run's log is for staff
            let second = try await Self.submission(app, try wrong.content.decode(SubmissionDTO.self).id, as: "student2@demo.test")
            #expect(second.autograderScore == 3)
            let adds = try #require(second.tests.first { $0.name == "adds" })
            #expect(adds.status == "failed")
            #expect(adds.output.contains("Expected:\n5") && adds.output.contains("Got:\nfive"))
            // Another student's submission does not exist for student 2; staff see it with its log.
            let foreign = try await app.testing().sendRequest(.GET, "api/v1/submissions/\(first.id)", headers: student2)
            #expect(foreign.status == .notFound)
            let asStaff = try await Self.submission(app, first.id, as: "ta@demo.test")
            #expect(asStaff.log?.contains("status: ok") == true)
            // The handed-in files come back as a zip to their owner and the staff, to nobody else.
            for (headers, expected) in [(student1, HTTPStatus.ok), (try await app.bearer("ta@demo.test"), .ok), (student2, .notFound)] {
                let download = try await app.testing().sendRequest(.GET, "api/v1/submissions/\(first.id)/files.zip", headers: headers)
                #expect(download.status == expected)
                if expected == .ok {
                    #expect(download.headers.contentType == .zip)
                    let files = try SafeArchive.read(Data(buffer: download.body))
                    #expect(files["hello.py"] == Self.hello && files["add.py"] == Self.add)
                }
            }
            // Each student's own grades: their score, nobody else's.
            let mine = try await app.testing().sendRequest(.GET, "api/v1/courses/\(try await app.course("CS101").requireID())/grades", headers: student2)
            #expect(mine.status == .ok)
            let grades = try mine.content.decode([Grades.MyGrade].self)
            let row = try #require(grades.first { $0.assignmentID == assignmentID })
            #expect(row.score == 3 && row.attempts == 1 && row.hiddenAttempts == 0)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$status == .done).count() == 2)
        }
    }

    @Test func aHandInThatRewritesLaterTestsAndTheirResultsDoesNotChangeItsScore() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let assignmentID = try await Self.createAssignment(app, [
                "title": "Tamper", "kind": "classroom", "requiredFiles": "first.py\nadd.py", "classroomTests": """
                    {"tests": [
                      {"name": "first", "setup": "", "run": "python3 first.py", "input": "", "output": "ok", "comparison": "included", "timeout": 1, "points": 1},
                      {"name": "adds", "setup": "", "run": "python3 add.py", "input": "2 3\\n", "output": "5", "comparison": "exact", "timeout": 1, "points": 9}
                    ]}
                    """,
            ])
            // The first test's program knows the second's expected answer (feedback shows it) and tries every way to
            // make the second pass: rewrite the second test's script and input wherever they might be, forge result
            // files, replace add.py for later, and leave a process behind to keep at it. add.py itself is wrong.
            let first = #"""
                import glob, os, subprocess
                for path in glob.glob('/work/**/*', recursive=True) + glob.glob('/work/.*/*'):
                    try:
                        if os.path.isfile(path) and path.endswith(('.sh', 'input-2')): open(path, 'w').write('echo 5\n')
                    except OSError: pass
                for folder in ('.classroom-results', 'results'):
                    os.makedirs(folder, exist_ok=True)
                    for name, text in (('code-2', '0\n'), ('out-2', '5\n')): open(os.path.join(folder, name), 'w').write(text)
                open('add.py', 'w').write('print(5)\n')
                subprocess.Popen(['sh', '-c', 'while true; do echo "print(5)" > add.py; sleep 0.01; done'])
                print('ok')
                """#
            let handIn = try await app.handIn(assignmentID, files: ["first.py": Data(first.utf8), "add.py": Data("print('wrong')\n".utf8)],
                                              as: try await app.bearer("student12@demo.test"))
            #expect(handIn.status == .created, "\(handIn.body.string)")
            try await app.drainGradingQueue()
            let graded = try await Self.submission(app, try handIn.content.decode(SubmissionDTO.self).id, as: "ta@demo.test")
            #expect(graded.tests.map(\.status) == ["passed", "failed"], "\(graded.log ?? "")")
            #expect(graded.autograderScore == 1)
            #expect(graded.tests.last?.output.contains("Got:\nwrong") == true)
            // Recording the result copied its tests out for the course's pass rates, in results.json's order.
            let copied = try await SubmissionTest.query(on: app.db).filter(\.$submission.$id == graded.id).sort(\.$position).all()
            #expect(copied.map(\.name) == graded.tests.map(\.name) && copied.map(\.passed) == [true, false])
        }
    }

    /// An autograder written for Gradescope: setup.sh installs a helper into the system (the layer), run_autograder
    /// copies the submission into source, runs Python and writes results.json with every visibility.
    static func gradescopeZip(runAutograder: String? = nil, setup: String? = nil) throws -> Data {
        try TestZip.make([
            "setup.sh": setup ?? """
                #!/usr/bin/env bash
                set -e
                mkdir -p /usr/local/bin
                printf '#!/bin/sh\\necho helper-from-setup\\n' > /usr/local/bin/cc-helper
                chmod +x /usr/local/bin/cc-helper
                echo "setup done"
                """,
            "run_autograder": runAutograder ?? """
                #!/usr/bin/env bash
                cp /autograder/submission/calc.py /autograder/source/calc.py
                cd /autograder/source
                python3 grade.py
                """,
            "grade.py": """
                import json, subprocess
                meta = json.load(open('/autograder/submission_metadata.json'))
                from calc import add
                helper = subprocess.run(['cc-helper'], capture_output=True, text=True).stdout.strip()
                ok = add(2, 3) == 5
                tests = [
                  {"name": "add works", "score": 4 if ok else 0, "max_score": 4, "visibility": "visible", "output": helper + " " + meta["users"][0]["email"]},
                  {"name": "secret edge case", "score": 3 if add(-1, 1) == 0 else 0, "max_score": 3, "visibility": "hidden"},
                  {"name": "after due", "score": 2, "max_score": 2, "visibility": "after_due_date"},
                  {"name": "after published", "score": 1, "max_score": 1, "visibility": "after_published"},
                ]
                print("autograder stdout line")
                json.dump({"tests": tests, "stdout_visibility": "visible"}, open('/autograder/results/results.json', 'w'))
                """,
        ])
    }

    /// What setup.sh writes into /autograder/source (compiled tests, data) is there for every run, as in
    /// Gradescope's image.
    @Test func whatSetupWritesIntoTheSourceFolderIsKeptForRuns() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let assignmentID = try await Self.createAssignment(app, ["title": "Kept source", "kind": "gradescope", "requiredFiles": "calc.py"])
            var headers = try await app.bearer("instructor@demo.test")
            headers.contentType = HTTPMediaType(type: "application", subType: "zip")
            let zip = try Self.gradescopeZip(runAutograder: """
                #!/usr/bin/env bash
                cd /autograder/source
                python3 -c "import json; ok = open('compiled.txt').read() == 'built by setup' and open('data/n.txt').read().strip() == '7'; json.dump({'tests': [{'name': 'kept', 'score': 1 if ok else 0, 'max_score': 1, 'visibility': 'visible'}]}, open('/autograder/results/results.json', 'w'))"
                """, setup: """
                #!/usr/bin/env bash
                set -e
                cd /autograder/source
                printf 'built by setup' > compiled.txt
                mkdir -p data && echo 7 > data/n.txt
                """)
            let upload = try await app.testing().sendRequest(.PUT, "api/v1/assignments/\(assignmentID)/autograder", headers: headers, body: ByteBuffer(data: zip))
            #expect(upload.status == .ok)
            try await app.drainGradingQueue()
            let handIn = try await app.handIn(assignmentID, files: ["calc.py": Data("x = 1\n".utf8)], as: try await app.bearer("student4@demo.test"))
            let id = try handIn.content.decode(SubmissionDTO.self).id
            try await app.drainGradingQueue()
            let graded = try await Self.submission(app, id, as: "instructor@demo.test")
            #expect(graded.autograderScore == 1, "\(graded.problem ?? "") \(graded.log ?? "")")

            // A worker on a machine that has never set this autograder up (no layer, no kept source, nothing cached)
            // builds it from the zip in the database; grading runs load assignments without their zip, so it is
            // read then.
            let assignment = try #require(try await Assignment.find(assignmentID, on: app.db))
            let data = URL(fileURLWithPath: app.platformConfig.dataDirectory).standardizedFileURL.path
            try FileManager.default.removeItem(atPath: app.sandbox.sandbox.configuration.layersFolder + "/" + assignment.layerID)
            try FileManager.default.removeItem(atPath: data + "/autograder-sources/" + assignment.layerID)
            app.environmentLayers = EnvironmentLayers(app: app, dataDirectory: data)
            #expect(app.sandbox.sandbox.layer(id: assignment.layerID) == nil)
            let elsewhere = try await app.handIn(assignmentID, files: ["calc.py": Data("x = 1\n".utf8)], as: try await app.bearer("student5@demo.test"))
            try await app.drainGradingQueue()
            let regraded = try await Self.submission(app, try elsewhere.content.decode(SubmissionDTO.self).id, as: "instructor@demo.test")
            #expect(regraded.autograderScore == 1, "\(regraded.problem ?? "") \(regraded.log ?? "")")
            #expect(app.sandbox.sandbox.layer(id: assignment.layerID) != nil)
        }
    }

    @Test func gradescopeAutogradersRunByTheirContractWithVisibility() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let assignmentID = try await Self.createAssignment(app, [
                "title": "Calculator", "kind": "gradescope", "instructions": "Write calc.py", "requiredFiles": "calc.py",
                "dueAt": "2099-01-01T00:00:00Z",
            ])
            let instructor = try await app.bearer("instructor@demo.test"), student = try await app.bearer("student3@demo.test")
            // Not ready before its zip is set up: a hand-in is refused with a reason.
            let early = try await app.handIn(assignmentID, files: ["calc.py": Data("def add(a, b): return a + b\n".utf8)], as: student)
            #expect(early.status == .conflict)
            #expect(early.body.string.contains("still being set up"))

            var headers = instructor
            headers.contentType = HTTPMediaType(type: "application", subType: "zip")
            let upload = try await app.testing().sendRequest(.PUT, "api/v1/assignments/\(assignmentID)/autograder", headers: headers,
                                                             body: ByteBuffer(data: try Self.gradescopeZip()))
            #expect(upload.status == .ok, "\(upload.body.string)")
            try await app.drainGradingQueue()
            let assignment = try #require(try await Assignment.find(assignmentID, on: app.db))
            #expect(assignment.setupStatus == .ready, "\(assignment.setupLog ?? "")")
            #expect(assignment.setupLog?.contains("setup done") == true)

            let handIn = try await app.handIn(assignmentID, files: ["calc.py": Data("def add(a, b): return a + b\n".utf8)], as: student)
            #expect(handIn.status == .created, "\(handIn.body.string)")
            let id = try handIn.content.decode(SubmissionDTO.self).id
            try await app.drainGradingQueue()

            // The student sees the visible test (with the helper setup.sh installed and their metadata), not the others yet.
            let seen = try await Self.submission(app, id, as: "student3@demo.test")
            #expect(seen.status == "graded", "\(seen.problem ?? "")")
            #expect(seen.tests.map(\.name) == ["add works"])
            #expect(seen.tests[0].output == "helper-from-setup student3@demo.test")
            #expect(seen.hiddenTests == 3)
            #expect(seen.autograderScore == nil)  // a hidden test counts in the total
            #expect(seen.output?.contains("autograder stdout line") == true)  // stdout_visibility: visible
            // Staff see every test and the total.
            let staff = try await Self.submission(app, id, as: "instructor@demo.test")
            #expect(staff.tests.count == 4)
            #expect(staff.autograderScore == 10)
            #expect(staff.maxScore == 10)
            // Publishing shows after_published; a passed due date shows after_due_date; hidden stays hidden.
            assignment.gradesPublishedAt = Date()
            assignment.dueAt = Date(timeIntervalSinceNow: -60)
            try await assignment.save(on: app.db)
            let later = try await Self.submission(app, id, as: "student3@demo.test")
            #expect(Set(later.tests.map(\.name)) == ["add works", "after due", "after published"])
            #expect(later.hiddenTests == 1)
            // The student's grades page keeps the total hidden too (a hidden test counts in it) and says so.
            let browser = try Browser(app)
            try await browser.signIn("student3@demo.test")
            let page = try await browser.get("/courses/\(assignment.$course.id)/grades")
            #expect(page.status == .ok)
            #expect(page.body.string.contains("Calculator") && page.body.string.contains("1 score(s) not visible yet"))
            #expect(!page.body.string.contains(">10<"))
        }
    }

    @Test func brokenResultsAndBadZipsBecomeClearMessages() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let instructor = try await app.bearer("instructor@demo.test"), student = try await app.bearer("student4@demo.test")
            var zipHeaders = instructor
            zipHeaders.contentType = HTTPMediaType(type: "application", subType: "zip")
            func upload(_ id: UUID, _ zip: Data) async throws -> TestingHTTPResponse {
                try await app.testing().sendRequest(.PUT, "api/v1/assignments/\(id)/autograder", headers: zipHeaders, body: ByteBuffer(data: zip))
            }
            let cases: [(String, String)] = [
                ("exit 3", "without writing /autograder/results/results.json"),
                ("echo '{\"score\": ' > /autograder/results/results.json", "results.json is not valid JSON"),
                ("echo '{\"score\": 1e12}' > /autograder/results/results.json", "score is out of range"),
                ("echo '{\"tests\": [{\"score\": true}]}' > /autograder/results/results.json", "must be a number"),
                ("head -c 2000000 /dev/zero | tr '\\\\0' a > /autograder/results/results.json", "larger than 1 MB"),
            ]
            var ids: [(UUID, String)] = []
            for (index, (script, expected)) in cases.enumerated() {
                let assignmentID = try await Self.createAssignment(app, ["title": "Broken \(index)", "kind": "gradescope"])
                let response = try await upload(assignmentID, try TestZip.make(["setup.sh": "true", "run_autograder": "#!/bin/sh\n" + script + "\n"]))
                #expect(response.status == .ok)
                try await app.drainGradingQueue()
                let handIn = try await app.handIn(assignmentID, files: ["x.py": Data("x = 1\n".utf8)], as: student)
                #expect(handIn.status == .created, "\(handIn.body.string)")
                ids.append((try handIn.content.decode(SubmissionDTO.self).id, expected))
            }
            try await app.drainGradingQueue()
            for (id, expected) in ids {
                let seen = try await Self.submission(app, id, as: "student4@demo.test")
                #expect(seen.status == "graded")
                #expect(seen.autograderScore == 0)
                #expect(seen.problem?.contains(expected) == true, "\(seen.problem ?? "no problem") should say \(expected)")
            }
            #expect(try await QueuedJob.query(on: app.db).filter(\.$status != .done).count() == 0)

            // Zips the platform refuses outright, with nothing stored.
            let assignmentID = try await Self.createAssignment(app, ["title": "Refusals", "kind": "gradescope"])
            let refusals: [(Data, String)] = [
                (try TestZip.make(["run_autograder": "x"]), "no setup.sh"),
                (try TestZip.make(["../setup.sh": "x", "run_autograder": "x"]), "points outside the folder"),
                (Data("not a zip".utf8), "not a valid zip"),
            ]
            for (zip, expected) in refusals {
                let response = try await upload(assignmentID, zip)
                #expect(response.status == .unprocessableEntity)
                #expect(response.body.string.contains(expected), "\(response.body.string)")
            }
            #expect(try await Assignment.find(assignmentID, on: app.db)?.autograderZip == nil)

            // A setup.sh that fails: the instructor sees its log, students are told the autograder is not ready.
            let failing = try await Self.createAssignment(app, ["title": "Failing setup", "kind": "gradescope"])
            #expect(try await upload(failing, try TestZip.make(["setup.sh": "echo installing; echo 'E: no such package' >&2; exit 100", "run_autograder": "true"])).status == .ok)
            try await app.drainGradingQueue()
            let failed = try #require(try await Assignment.find(failing, on: app.db))
            #expect(failed.setupStatus == .failed)
            #expect(failed.setupLog?.contains("E: no such package") == true)
            let refused = try await app.handIn(failing, files: ["x.py": Data("1".utf8)], as: student)
            #expect(refused.status == .conflict)
            #expect(refused.body.string.contains("could not be set up"))
            // A hand-in zip that escapes its folder is refused.
            let slip = try await app.handIn(assignmentID, files: ["work.zip": try TestZip.make(["../../etc/passwd": "x"])], as: student)
            #expect(slip.status == .unprocessableEntity)
        }
    }

    @Test func theDemoAssignmentsOfEachKindAreGradedByTheWorkers() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            #expect(try await DemoData.loadAssignments(on: app.db) == 7)
            #expect(try await DemoData.loadAssignments(on: app.db) == 0)  // once only
            try await app.drainGradingQueue()
            let lab1 = try #require(try await Assignment.query(on: app.db).filter(\.$title == DemoData.classroomTitle).first())
            let lab2 = try #require(try await Assignment.query(on: app.db).filter(\.$title == DemoData.gradescopeTitle).first())
            #expect(lab2.setupStatus == .ready, "\(lab2.setupLog ?? "")")
            func graded(_ assignment: Assignment) async throws -> [Submission] {
                try await Submission.query(on: app.db).filter(\.$assignment.$id == assignment.requireID()).with(\.$user).all()
                    .sorted { $0.user.email < $1.user.email }
            }
            let labs = (try await graded(lab1), try await graded(lab2))
            #expect(labs.0.map(\.score) == [5, 2, 3], "\(labs.0.map { ($0.problem ?? "", $0.log ?? "") })")
            #expect(labs.1.map(\.score) == [10, 4], "\(labs.1.map { ($0.problem ?? "", $0.log ?? "") })")
            // The instructions are Markdown, rendered and sanitised on the page.
            let browser = try Browser(app)
            try await browser.signIn("student1@demo.test")
            let page = try await browser.get("/assignments/\(try lab2.requireID())")
            #expect(page.status == .ok)
            #expect(page.body.string.contains("<table>"))
            #expect(page.body.string.contains("<code>calc.py</code>"))
        }
    }

    @Test func markdownInstructionsCannotRunScripts() {
        let html = Markdown.html("# Lab\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2)) [ok](https://example.edu/a?b=1) <img src=x onerror=alert(3)>\n\n`<b>`")
        #expect(html.contains("<h1>Lab</h1>"))
        #expect(!html.contains("<script"))
        #expect(html.contains("&lt;script&gt;"))
        #expect(!html.contains("javascript:"))
        #expect(html.contains(#"<a href="https://example.edu/a?b=1" rel="nofollow noopener">ok</a>"#))
        #expect(!html.contains("onerror"))
        #expect(!html.contains("<b>"))  // raw HTML is never passed through
    }

    /// Written the way Gradescope's own Python sample is: unittest with gradescope_utils' decorators and JSON runner,
    /// installed from PyPI by setup.sh (with network, once); each run is offline.
    @Test func anAutograderWrittenLikeGradescopesPythonSampleRunsUnchanged() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let zip = try TestZip.make([
                "setup.sh": "#!/usr/bin/env bash\npip3 install -r /autograder/source/requirements.txt\n",
                "requirements.txt": "gradescope-utils>=0.3.1\n",
                "run_autograder": """
                    #!/usr/bin/env bash
                    cp /autograder/submission/calculator.py /autograder/source/calculator.py
                    cd /autograder/source
                    python3 run_tests.py
                    """,
                "run_tests.py": """
                    import unittest
                    from gradescope_utils.autograder_utils.json_test_runner import JSONTestRunner

                    if __name__ == '__main__':
                        suite = unittest.defaultTestLoader.discover('tests')
                        with open('/autograder/results/results.json', 'w') as f:
                            JSONTestRunner(visibility='visible', stream=f).run(suite)
                    """,
                "tests/__init__.py": "",
                "tests/test_simple.py": """
                    import unittest
                    from gradescope_utils.autograder_utils.decorators import weight, number, visibility
                    from calculator import Calculator

                    class TestSimpleArithmetic(unittest.TestCase):
                        def setUp(self):
                            self.calc = Calculator()

                        @weight(2)
                        @number("1")
                        def test_eval_add(self):
                            \"\"\"Evaluate 1 + 1\"\"\"
                            self.assertEqual(self.calc.eval("1 + 1"), 2)

                        @weight(3)
                        @number("2")
                        @visibility("hidden")
                        def test_eval_mul(self):
                            \"\"\"Evaluate 4 * 5\"\"\"
                            self.assertEqual(self.calc.eval("4 * 5"), 20)
                    """,
            ])
            let assignmentID = try await Self.createAssignment(app, ["title": "Calculator (Gradescope sample)", "kind": "gradescope"])
            var headers = try await app.bearer("instructor@demo.test")
            headers.contentType = HTTPMediaType(type: "application", subType: "zip")
            let upload = try await app.testing().sendRequest(.PUT, "api/v1/assignments/\(assignmentID)/autograder", headers: headers, body: ByteBuffer(data: zip))
            #expect(upload.status == .ok)
            try await app.drainGradingQueue()
            let assignment = try #require(try await Assignment.find(assignmentID, on: app.db))
            #expect(assignment.setupStatus == .ready, "\(assignment.setupLog ?? "")")
            let calculator = "class Calculator:\n    def eval(self, text):\n        return eval(text, {})\n"
            let handIn = try await app.handIn(assignmentID, files: ["calculator.py": Data(calculator.utf8)], as: try await app.bearer("student7@demo.test"))
            #expect(handIn.status == .created)
            try await app.drainGradingQueue()
            let id = try handIn.content.decode(SubmissionDTO.self).id
            let staff = try await Self.submission(app, id, as: "instructor@demo.test")
            #expect(staff.autograderScore == 5, "\(staff.problem ?? "") \(staff.log ?? "") setup: \(assignment.setupLog ?? "")")
            #expect(staff.tests.count == 2)
            #expect(staff.tests.contains { $0.name.contains("Evaluate 1 + 1") && $0.score == 2 })
            let student = try await Self.submission(app, id, as: "student7@demo.test")
            #expect(student.tests.count == 1)
            #expect(student.hiddenTests == 1)
        }
    }
}
