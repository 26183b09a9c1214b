// How Classroom I/O tests run: all tests of a submission in ONE sandbox, in order, in the same folder (as the
// Classroom action ran them in one checkout, so a test's setup may build what later tests run). For each test a
// small shell runner runs its setup, then its command under `timeout` with the test's input on standard input,
// and keeps the exit code, standard output and error in a results folder. The comparison happens afterwards,
// outside the sandbox: expected outputs never enter it.
import Foundation

public enum ClassroomRun {
    public static let workPath = "/work"
    static let scripts = ".classroom"
    public static let resultsFolder = ".classroom-results"
    /// How much of a test's output and error is shown in its feedback.
    static let shownCharacters = 2000

    /// Each test's time in seconds: its own timeout (minutes), at most the assignment's limit.
    public static func seconds(_ test: ClassroomTest, limit: Int) -> Int { max(1, min(test.timeout * 60, limit)) }

    /// The job folder: the student's files, each test's setup, command and input, and the runner.
    public static func files(tests: [ClassroomTest], submission: [String: Data], limit: Int) -> [String: Data] {
        var files = submission
        var runner = "#!/bin/sh\nR=\(resultsFolder)\nmkdir -p \"$R\"\n"
        for (index, test) in tests.enumerated() {
            let n = index + 1
            files["\(scripts)/setup-\(n).sh"] = Data(test.setup.utf8)
            files["\(scripts)/run-\(n).sh"] = Data(test.run.utf8)
            files["\(scripts)/input-\(n)"] = Data(test.input.utf8)
            runner += """
                if sh \(scripts)/setup-\(n).sh > "$R/setup-\(n)" 2>&1; then
                  timeout -k 1 \(seconds(test, limit: limit)) sh \(scripts)/run-\(n).sh < \(scripts)/input-\(n) > "$R/out-\(n)" 2> "$R/err-\(n)"
                  echo $? > "$R/code-\(n)"
                else
                  echo setup > "$R/code-\(n)"
                fi

                """
        }
        files["\(scripts)/runner.sh"] = Data(runner.utf8)
        return files
    }

    public static let command = ["/bin/sh", ".classroom/runner.sh"]

    /// The whole run's time: every test's time and a little for the setups.
    public static func wallSeconds(tests: [ClassroomTest], limit: Int) -> Int {
        tests.reduce(5) { $0 + seconds($1, limit: limit) + 1 }
    }

    /// Scores the run in Gradescope's results form (so both kinds are shown and kept alike): a test passes when
    /// its command exits 0 and its output compares as the test says.
    public static func results(tests: [ClassroomTest], outputs: [String: Data]) -> GradescopeResults {
        func text(_ name: String) -> String? { outputs[name].map { String(decoding: $0, as: UTF8.self) } }
        var graded: [GradescopeResults.Test] = []
        for (index, test) in tests.enumerated() {
            let n = index + 1
            let code = text("code-\(n)")?.trimmingCharacters(in: .whitespacesAndNewlines)
            let stdout = text("out-\(n)") ?? "", stderr = text("err-\(n)") ?? ""
            let passed: Bool
            var feedback: String
            switch code {
            case nil:
                passed = false
                feedback = "The test did not run (the run stopped before it: time or output limit)."
            case "setup":
                passed = false
                feedback = "The test's setup failed:\n" + clip(text("setup-\(n)") ?? "")
            case "124", "137":
                passed = false
                feedback = "Timed out after \(test.timeout) minute(s)."
            default:
                let exit = Int(code ?? "") ?? -1
                passed = exit == 0 && test.passes(stdout)
                feedback = passed ? "Passed." : exit != 0 ? "The command exited with code \(exit)." : "The output did not match (\(test.comparison.rawValue))."
                if !passed {
                    if test.comparison != .regex, !test.output.isEmpty { feedback += "\nExpected:\n" + clip(test.output) }
                    feedback += "\nGot:\n" + clip(stdout)
                    if !stderr.isEmpty { feedback += "\nStandard error:\n" + clip(stderr) }
                }
            }
            graded.append(GradescopeResults.Test(name: test.name, number: String(n), score: passed ? Double(test.points) : 0,
                                                 maxScore: Double(test.points), status: passed ? "passed" : "failed", output: feedback,
                                                 outputFormat: "text", tags: [], visibility: .visible))
        }
        return GradescopeResults(score: nil, executionTime: nil, output: "", outputFormat: nil, visibility: .visible,
                                 stdoutVisibility: .hidden, tests: graded, leaderboard: [], extraData: nil)
    }

    static func clip(_ text: String) -> String {
        text.count <= shownCharacters ? text : String(text.prefix(shownCharacters)) + "\n…"
    }
}
