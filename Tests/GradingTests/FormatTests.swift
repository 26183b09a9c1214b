// The autograder formats as courses bring them: Gradescope results files (good, partial, broken in every way),
// who sees what and when, Classroom tests and their comparisons, and late penalties.
import Testing
import Foundation
@testable import Grading

@Suite struct GradescopeResultsTests {
    let sample = """
    {"execution_time": 3.2, "output": "All done", "visibility": "visible", "stdout_visibility": "hidden",
     "extra_data": {"language": "python"},
     "leaderboard": [{"name": "Accuracy", "value": 0.93}, {"name": "Time", "value": 15.1, "order": "asc"}],
     "tests": [
       {"score": 2, "max_score": 2, "name": "add works", "number": "1.1", "output": "ok", "tags": ["basics"], "visibility": "visible"},
       {"score": 0, "max_score": 3, "name": "edge cases", "number": "1.2", "status": "failed", "visibility": "after_due_date"},
       {"score": 1, "max_score": 1, "name": "secret", "visibility": "hidden"},
       {"score": 4, "max_score": 4, "name": "style", "visibility": "after_published"}
     ]}
    """

    @Test func aFullFileIsReadAndTotalled() throws {
        let results = try GradescopeResults.parse(Data(sample.utf8)).get()
        #expect(results.tests.map(\.name) == ["add works", "edge cases", "secret", "style"])
        #expect(results.total == 7)
        #expect(results.maximum == 10)
        #expect(results.leaderboard.map(\.name) == ["Accuracy", "Time"])
        #expect(results.extraData == #"{"language":"python"}"#)
        let overridden = try GradescopeResults.parse(Data(#"{"score": 44.5, "tests": [{"score": 1, "max_score": 2}]}"#.utf8)).get()
        #expect(overridden.total == 44.5)
        #expect(overridden.tests.first?.name == "Test 1")
    }

    @Test func studentsSeeTestsAsTheirVisibilitySaysAndTheTotalOnlyWhenNothingIsHidden() throws {
        let results = try GradescopeResults.parse(Data(sample.utf8)).get()
        let due = Date(timeIntervalSince1970: 2_000_000)
        let before = results.view(for: Viewer(isStaff: false, now: due.addingTimeInterval(-60), dueDate: due, gradesPublished: false))
        #expect(before.tests.map(\.name) == ["add works"])
        #expect(before.hiddenTests == 3)
        #expect(before.score == nil)
        let after = results.view(for: Viewer(isStaff: false, now: due.addingTimeInterval(60), dueDate: due, gradesPublished: false))
        #expect(after.tests.map(\.name) == ["add works", "edge cases"])
        let published = results.view(for: Viewer(isStaff: false, now: due.addingTimeInterval(60), dueDate: due, gradesPublished: true))
        #expect(published.tests.map(\.name) == ["add works", "edge cases", "style"])
        #expect(published.score == nil)  // "secret" is hidden from students for good
        let staff = results.view(for: Viewer(isStaff: true, now: due.addingTimeInterval(-60), dueDate: due, gradesPublished: false))
        #expect(staff.tests.count == 4 && staff.score == 7)
        let allVisible = try GradescopeResults.parse(Data(#"{"tests": [{"score": 1, "max_score": 1}], "visibility": "after_due_date"}"#.utf8)).get()
        #expect(allVisible.view(for: Viewer(isStaff: false, now: due.addingTimeInterval(-1), dueDate: due, gradesPublished: false)).tests.isEmpty)
        #expect(allVisible.view(for: Viewer(isStaff: false, now: due, dueDate: due, gradesPublished: false)).score == 1)
    }

    @Test(arguments: [
        ("", "empty"),
        ("{", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ("{}", "neither a score nor tests"),
        (#"{"score": "ten"}"#, "score must be a number"),
        (#"{"score": true}"#, "score must be a number"),
        (#"{"score": false}"#, "score must be a number"),
        (#"{"tests": [{"score": 1, "max_score": false}]}"#, "test 1 max_score must be a number"),
        (#"{"score": 1e300}"#, "out of range"),
        (#"{"tests": [{"name": "a"}]}"#, "test 1 has no score"),
        (#"{"tests": {"a": 1}}"#, "tests must be a list"),
        (#"{"tests": [{"score": 1, "visibility": "sometimes"}]}"#, "test 1 visibility 'sometimes' is not one of"),
        (#"{"score": 1, "leaderboard": [{"value": 3}]}"#, "leaderboard entry 1 needs a name"),
    ])
    func brokenFilesGiveOneSentence(text: String, says: String) {
        guard case .failure(let problem) = GradescopeResults.parse(Data(text.utf8)) else { Issue.record("accepted \(text)"); return }
        #expect(problem.message.contains(says), "\(problem.message)")
    }

    /// gradescope_utils' JSONTestRunner writes execution_time as text ("0.00"); such files are Gradescope's own.
    @Test func executionTimeMayBeNumericText() throws {
        let results = try GradescopeResults.parse(Data(#"{"execution_time": "0.25", "tests": [{"score": 1, "max_score": 1}]}"#.utf8)).get()
        #expect(results.executionTime == 0.25)
        #expect(results.total == 1)
        // Round trip: what the platform stores reads back the same.
        #expect(try GradescopeResults.parse(results.json()).get() == results)
    }

    @Test func classroomRunsScoreExitCodesAndOutputsOutsideTheSandbox() throws {
        let tests = try ClassroomSpec.parse(Data(#"{"tests": [{"name": "a", "setup": "make", "run": "x", "output": "5", "comparison": "exact", "points": 3}, {"name": "b", "run": "y", "points": 2}, {"name": "c", "setup": "make more", "run": "z", "points": 1}, {"name": "d", "run": "w", "points": 4}]}"#.utf8)).get()
        // Each test's job carries its command and every setup up to it in its arguments; expected outputs stay outside.
        let third = ClassroomRun.command(for: 2, tests: tests, limit: 30)
        #expect(Array(third.suffix(4)) == ["30", "z", "make", "make more"])
        #expect(!ClassroomRun.command(for: 1, tests: tests, limit: 30).contains("make more"))
        #expect(!(0..<4).flatMap { ClassroomRun.command(for: $0, tests: tests, limit: 30) }.contains("5"))
        let results = ClassroomRun.results(tests: tests, runs: [
            .init(exitCode: 0, stdout: "5\n", stderr: ""), .init(exitCode: 1, stdout: "", stderr: ""),
            .init(exitCode: ClassroomRun.setupFailed, stdout: "", stderr: "make: no rule"), nil,
        ])
        #expect(results.tests.map(\.status) == ["passed", "failed", "failed", "failed"])
        #expect(results.total == 3)
        #expect(results.maximum == 10)
        #expect(results.tests[2].output.contains("setup failed") && results.tests[2].output.contains("make: no rule"))
        #expect(results.tests[3].output.contains("did not run"))
    }

    @Test func requiredFilesMatchNamesAndPatterns() {
        #expect(RequiredFiles.missing(["hello.py", "*.c", "src/*.h"], in: ["hello.py", "lib/main.c", "src/a.h"]).isEmpty)
        #expect(RequiredFiles.missing(["hello.py", "*.c"], in: ["Hello.py"]) == ["hello.py", "*.c"])
    }

    @Test func theGradebookCountsLatestOrBestWithPenaltiesAndWritesCanvasCSV() {
        let due = Date(timeIntervalSince1970: 1_000_000)
        let attempts = [GradedAttempt(submittedAt: due.addingTimeInterval(-10), autograderScore: 8, adjustment: 0),
                        GradedAttempt(submittedAt: due.addingTimeInterval(3600), autograderScore: 10, adjustment: -1)]
        #expect(Gradebook.counted(attempts, rule: .latest, late: .penaltyPerDay(percent: 10), due: due) == 8.1)
        #expect(Gradebook.counted(attempts, rule: .best, late: .penaltyPerDay(percent: 10), due: due) == 8.1)
        #expect(Gradebook.counted(attempts, rule: .best, late: .none, due: due) == 9)
        #expect(Gradebook.counted([], rule: .best, late: .none, due: due) == nil)
        let csv = Gradebook.canvasCSV(columns: [.init(title: "Lab, one", pointsPossible: 10)],
                                      rows: [.init(name: "=cmd()", login: "a@x.edu", section: "S", scores: [7.5]), .init(name: "B", login: "b@x.edu", section: "S", scores: [nil])])
        #expect(csv == "Student,ID,SIS User ID,SIS Login ID,Section,\"Lab, one\"\r\n    Points Possible,,,,,10\r\n'=cmd(),,,a@x.edu,S,7.5\r\nB,,,b@x.edu,S,\r\n")
    }

    @Test func ofAttemptsHandedInAtOneInstantTheLastGivenIsTheLatest() {
        let at = Date(timeIntervalSince1970: 1_000_000)
        let tied = [GradedAttempt(submittedAt: at, autograderScore: 3, adjustment: 0), GradedAttempt(submittedAt: at, autograderScore: 6, adjustment: 0),
                    GradedAttempt(submittedAt: at.addingTimeInterval(-5), autograderScore: 9, adjustment: 0)]
        #expect(Gradebook.counted(tied, rule: .latest, late: .none, due: nil) == 6)
        #expect(Gradebook.counted(Array(tied.prefix(2).reversed()), rule: .latest, late: .none, due: nil) == 3)
    }

    @Test func scoresAreWrittenWithAtMostTwoDecimalsAsPrintfWouldRoundThem() {
        // The earlier writing (printf's rounding of whole hundredths, trailing zeros dropped), against which the
        // faster one is checked on values from every range a score takes.
        func printf(_ value: Double) -> String {
            let rounded = (value * 100).rounded() / 100
            return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.2f", rounded).replacingOccurrences(of: #"0$"#, with: "", options: .regularExpression)
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let scale = [1.0, 10, 100, 10_000, 1e9].randomElement(using: &generator)!
            var value = Double.random(in: -scale...scale, using: &generator)
            if Bool.random(using: &generator) { value = (value * 4).rounded() / 4 }  // quarters, as adjustments make
            #expect(Gradebook.number(value) == printf(value), "\(value)")
        }
        #expect([0.0, -0.0, -0.001, 0.005, 7, 7.5, 7.25, 7.05, -2.5, 100_000].map(Gradebook.number) == ["0", "0", "0", "0.01", "7", "7.5", "7.25", "7.05", "-2.5", "100000"])
    }

    @Test func hugeFilesAndOutputsAreBounded() throws {
        let huge = Data(("{\"score\": 1, \"output\": \"" + String(repeating: "x", count: 2 << 20) + "\"}").utf8)
        guard case .failure(let problem) = GradescopeResults.parse(huge) else { Issue.record("accepted"); return }
        #expect(problem.message.contains("larger than 1 MB"))
        let long = Data(("{\"score\": 1, \"output\": \"" + String(repeating: "y", count: 100_000) + "\"}").utf8)
        let results = try GradescopeResults.parse(long).get()
        #expect(results.output.count < 70_000 && results.output.hasSuffix("(output cut at 64 KB)"))
    }
}

@Suite struct ClassroomTestsTests {
    let file = """
    {"tests": [
      {"name": "Hello", "setup": "pip install -q pytest", "run": "python3 hello.py", "input": "", "output": "Hello, world", "comparison": "included", "timeout": 1, "points": 2},
      {"name": "Sum", "run": "python3 sum.py", "input": "2 3", "output": "5", "comparison": "exact", "timeout": 5, "points": 3},
      {"name": "Version", "run": "python3 --version", "output": "^Python 3\\\\.[0-9]+", "comparison": "regex", "timeout": 1}
    ]}
    """

    @Test func theClassroomFileIsReadAsItIs() throws {
        let tests = try ClassroomSpec.parse(Data(file.utf8)).get()
        #expect(tests.map(\.name) == ["Hello", "Sum", "Version"])
        #expect(tests.map(\.points) == [2, 3, 0])
        #expect(tests[1].input == "2 3" && tests[1].setup == "")
    }

    @Test func comparisonsWorkAsClassroomDid() throws {
        let tests = try ClassroomSpec.parse(Data(file.utf8)).get()
        #expect(tests[0].passes("Well: Hello, world!\n"))
        #expect(!tests[0].passes("hello world"))
        #expect(tests[1].passes("  5\n"))
        #expect(!tests[1].passes("5 and more"))
        #expect(tests[2].passes("Python 3.11.7\n"))
        #expect(!tests[2].passes("Python 2.7"))
    }

    @Test(arguments: [
        (#"{"tests": []}"#, "has no tests"),
        (#"{"tests": [{"name": "a"}]}"#, "test 1 is missing 'run'"),
        (#"{"tests": [{"name": "a", "run": "x", "comparison": "fuzzy"}]}"#, "test 1 comparison is not valid"),
        (#"{"tests": [{"name": "a", "run": "x", "timeout": 0}]}"#, "timeout must be 1 to 60 minutes"),
        (#"{"tests": [{"name": "a", "run": "x", "points": -1}]}"#, "points cannot be negative"),
        (#"{"tests": [{"name": "a", "run": "x", "comparison": "regex", "output": "(["}]}"#, "not a valid regular expression"),
        (#"{"tests": [{"name": "a", "run": "  "}]}"#, "has no run command"),
        ("nope", "not valid JSON"),
    ])
    func badFilesSayWhatIsWrong(text: String, says: String) {
        guard case .failure(let problem) = ClassroomSpec.parse(Data(text.utf8)) else { Issue.record("accepted \(text)"); return }
        #expect(problem.message.contains(says), "\(problem.message)")
    }
}

@Suite struct LatePolicyTests {
    let due = Date(timeIntervalSince1970: 1_900_000_000)

    @Test func penaltiesCountStartedDaysAndNeverGoBelowZero() {
        let policy = LatePolicy.penaltyPerDay(percent: 10)
        #expect(policy.apply(80, submittedAt: due, due: due) == 80)
        #expect(policy.apply(80, submittedAt: due.addingTimeInterval(60), due: due) == 72)
        #expect(policy.apply(80, submittedAt: due.addingTimeInterval(86_400 + 1), due: due) == 64)
        #expect(policy.apply(80, submittedAt: due.addingTimeInterval(30 * 86_400), due: due) == 0)
        #expect(LatePolicy.none.apply(80, submittedAt: due.addingTimeInterval(9e6), due: due) == 80)
        #expect(policy.apply(80, submittedAt: due.addingTimeInterval(60), due: nil) == 80)
    }

    @Test func aHardDeadlineRefusesLateSubmissions() {
        #expect(LatePolicy.hardDeadline.accepts(submittedAt: due, due: due))
        #expect(!LatePolicy.hardDeadline.accepts(submittedAt: due.addingTimeInterval(1), due: due))
        #expect(LatePolicy.penaltyPerDay(percent: 5).accepts(submittedAt: due.addingTimeInterval(1e6), due: due))
    }
}
