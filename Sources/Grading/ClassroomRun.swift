// How Classroom I/O tests run: each test in a sandbox of its own, on a fresh copy of the hand-in, so nothing a
// student's program does in one test (rewriting a later test's script or input, forging its results) reaches another.
// A test's job runs the setups of every test up to it (as the Classroom action ran them in one checkout, so a setup
// may build what later tests run), then its command under `timeout`, with its input on standard input. The setups and
// the command travel in the job's argument list, never in its writable folder; the test's output, error and exit
// code are the job's own (its pipes and its exit status), so there is no results file to forge. The comparison
// happens afterwards, outside the sandbox: expected outputs never enter it.
import Foundation

public enum ClassroomRun {
    public static let workPath = "/work"
    /// The exit code a test's job ends with when one of its setups failed (their output then is its error stream).
    public static let setupFailed = 222
    /// How much of a test's output and error is shown in its feedback.
    static let shownCharacters = 2000

    /// Each test's time in seconds: its own timeout (minutes), at most the assignment's limit.
    public static func seconds(_ test: ClassroomTest, limit: Int) -> Int { max(1, min(test.timeout * 60, limit)) }

    /// The runner: setups in order (their output kept aside, shown only when one fails), then the test's command.
    static let runner = """
        t=$1; run=$2; shift 2
        for setup in "$@"; do
          if ! sh -c "$setup" > /tmp/.classroom-setup 2>&1 < /dev/null; then cat /tmp/.classroom-setup >&2; exit \(setupFailed); fi
        done
        rm -f /tmp/.classroom-setup
        exec timeout -k 1 "$t" sh -c "$run"
        """

    /// The command of test `index` (0-based): everything it runs is in its arguments.
    public static func command(for index: Int, tests: [ClassroomTest], limit: Int) -> [String] {
        let test = tests[index]
        return ["/bin/sh", "-c", runner, "classroom", String(seconds(test, limit: limit)), test.run]
            + tests[...index].map(\.setup).filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    /// The wall time one test's job gets: its own time and a little for its setups.
    public static func jobSeconds(_ index: Int, tests: [ClassroomTest], limit: Int) -> Int {
        seconds(tests[index], limit: limit) + 5 + 2 * index
    }

    /// The whole run's time: every test's job.
    public static func wallSeconds(tests: [ClassroomTest], limit: Int) -> Int {
        tests.indices.reduce(0) { $0 + jobSeconds($1, tests: tests, limit: limit) }
    }

    /// What one test's job gave back.
    public struct TestRun: Sendable, Equatable {
        /// nil when the job did not end by itself (a limit stopped it).
        public var exitCode: Int?
        public var stdout: String
        public var stderr: String
        /// Why the sandbox stopped it (time, memory, output), when it did.
        public var stopped: String?

        public init(exitCode: Int?, stdout: String, stderr: String, stopped: String? = nil) {
            self.exitCode = exitCode
            self.stdout = stdout
            self.stderr = stderr
            self.stopped = stopped
        }
    }

    /// Scores the runs in Gradescope's results form (so both kinds are shown and kept alike): a test passes when
    /// its command exits 0 and its output compares as the test says. `runs[i]` is nil when test i did not run.
    public static func results(tests: [ClassroomTest], runs: [TestRun?]) -> GradescopeResults {
        var graded: [GradescopeResults.Test] = []
        for (index, test) in tests.enumerated() {
            let n = index + 1
            let run = index < runs.count ? runs[index] : nil
            let stdout = run?.stdout ?? "", stderr = run?.stderr ?? ""
            let passed: Bool
            var feedback: String
            switch run?.exitCode {
            case _ where run == nil:
                passed = false
                feedback = "The test did not run."
            case nil:
                passed = false
                feedback = "The test was stopped: it \(run?.stopped ?? "hit a limit")."
            case setupFailed?:
                passed = false
                feedback = "The test's setup failed:\n" + clip(stderr)
            case 124?, 137?:
                passed = false
                feedback = "Timed out after \(test.timeout) minute(s)."
            case let exit?:
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
