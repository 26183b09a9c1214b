// A sandbox run told to people: how it ended, as the end of a sentence, and its log (status line, then each stream
// kept up to a length). Grading runs, autograder set-ups and research jobs all report through here.
import Sandbox

enum SandboxReport {
    /// How the run ended, as the end of a sentence ("The autograder … ", "The job … ").
    static func finished(_ result: SandboxResult, seconds: Int, memory: Int) -> String {
        switch result.status {
        case .ok: "exited with code \(result.exitCode ?? -1)"
        case .timeout: "ran out of time (\(seconds) s)"
        case .memoryLimit: "ran out of memory (\(memory) MB)"
        case .outputLimit: "wrote more output than allowed (1 MB)"
        case .killed: "was killed (signal \(result.signal ?? 0))"
        case .cancelled: "was cancelled"
        case .sandboxError: "could not start"
        }
    }

    /// The run's status line, then each stream kept up to `characters`.
    static func log(_ result: SandboxResult, characters: Int) -> String {
        func clip(_ text: String) -> String { text.count <= characters ? text : String(text.prefix(characters)) + "\n… (cut)" }
        var log = "status: \(result.status.rawValue), exit code: \(result.exitCode.map(String.init) ?? "none"), cpu \(result.cpuMs) ms, wall \(result.wallMs) ms\n"
        if !result.stdout.isEmpty { log += "--- standard output ---\n" + clip(result.stdout) + "\n" }
        if !result.stderr.isEmpty { log += "--- standard error ---\n" + clip(result.stderr) + "\n" }
        if !result.skippedOutputs.isEmpty { log += "--- skipped outputs ---\n" + result.skippedOutputs.joined(separator: "\n") + "\n" }
        return log
    }
}
