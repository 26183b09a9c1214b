// What a sandbox run produced. Encodes with the snake_case keys of `campuscloud sandbox run --json`.
import Foundation

public enum SandboxStatus: String, Sendable, Codable {
    /// The job ran to its end (its exit code may still be non-zero).
    case ok
    /// Wall time or CPU time ran out.
    case timeout
    case memoryLimit = "memory_limit"
    case outputLimit = "output_limit"
    /// Ended by a signal it was not stopped for by a limit.
    case killed
    /// Stopped because its owner cancelled it (`SandboxJob.cancellation`).
    case cancelled
    /// The sandbox could not start the job (see `stderr`).
    case sandboxError = "sandbox_error"
}

public struct SandboxOutputFile: Sendable, Codable, Equatable {
    public var path: String
    public var size: Int
    public var contents: Data
}

public struct SandboxResult: Sendable, Codable {
    public var status: SandboxStatus
    public var exitCode: Int32?
    public var signal: Int32?
    public var cpuMs: Int
    public var wallMs: Int
    public var maxRssKb: Int
    public var stdout: String
    public var stderr: String
    /// stdout or stderr was cut at the output cap.
    public var truncated: Bool
    public var outputFiles: [SandboxOutputFile]
    /// Files in the output folder that were passed over (symlinks, special files, over the caps), with the reason.
    public var skippedOutputs: [String]

    public init(status: SandboxStatus, exitCode: Int32?, signal: Int32?, cpuMs: Int, wallMs: Int, maxRssKb: Int,
                stdout: String, stderr: String, truncated: Bool, outputFiles: [SandboxOutputFile], skippedOutputs: [String]) {
        self.status = status
        self.exitCode = exitCode
        self.signal = signal
        self.cpuMs = cpuMs
        self.wallMs = wallMs
        self.maxRssKb = maxRssKb
        self.stdout = stdout
        self.stderr = stderr
        self.truncated = truncated
        self.outputFiles = outputFiles
        self.skippedOutputs = skippedOutputs
    }

    enum CodingKeys: String, CodingKey {
        case status, signal, stdout, stderr, truncated
        case exitCode = "exit_code", cpuMs = "cpu_ms", wallMs = "wall_ms", maxRssKb = "max_rss_kb"
        case outputFiles = "output_files", skippedOutputs = "skipped_outputs"
    }

    /// Every key is always present (`null` when a job has no exit code or no signal), so scripts can rely on them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(cpuMs, forKey: .cpuMs)
        try c.encode(wallMs, forKey: .wallMs)
        try c.encode(maxRssKb, forKey: .maxRssKb)
        try c.encode(stdout, forKey: .stdout)
        try c.encode(stderr, forKey: .stderr)
        try c.encode(truncated, forKey: .truncated)
        try c.encode(outputFiles, forKey: .outputFiles)
        try c.encode(skippedOutputs, forKey: .skippedOutputs)
    }
}

public enum SandboxError: Error, Equatable, CustomStringConvertible {
    /// The machine cannot run sandboxed code; nothing was run. The text says what to install or enable.
    case unavailable(String)
    case invalidJob(String)
    case hostFailure(String)

    public var description: String {
        switch self {
        case .unavailable(let text): "The sandbox is unavailable, so no code was run: \(text)"
        case .invalidJob(let text): "The job is not valid: \(text)"
        case .hostFailure(let text): "The sandbox failed on the host: \(text)"
        }
    }
}

/// A save of a running job's folder refused for what its files are (`Sandbox.save(sessionNamed:)`); the kept folder
/// is left as it was. The reason is for the folder's owner, who can act on it (free room, make a file readable).
public struct SaveRefused: Error, Equatable, CustomStringConvertible {
    public let reason: String

    public init(reason: String) { self.reason = reason }

    public var description: String { "the files were not saved: \(reason)" }

    /// The files a reading tar said it was not allowed to open ("/usr/bin/tar: ./a/b: Cannot open: Permission
    /// denied" → "a/b"; the folder itself, named by its host path, → "."), when it said nothing else that failed (its
    /// warnings — a socket left out, a file changed while read — pass); nil when it did, or said nothing of the kind,
    /// or more than was kept (`whole` false: the last line may be cut).
    static func deniedFiles(_ said: String, whole: Bool) -> [String]? {
        var lines = said.split(separator: "\n").map(String.init)
        if !whole, !lines.isEmpty { lines.removeLast() }
        let failures = lines.filter { line in !line.isEmpty && !warnings.contains { line.hasSuffix($0) } }
        guard !failures.isEmpty, failures.allSatisfy({ $0.contains(": Cannot ") && $0.hasSuffix(": Permission denied") }) else { return nil }
        return failures.map { line in
            let afterTar = line.range(of: "tar: ").map { line[$0.upperBound...] } ?? line[...]
            var name = String(afterTar[..<(afterTar.range(of: ": Cannot ", options: .backwards)?.lowerBound ?? afterTar.endIndex)])
            if name.hasPrefix("./") { name.removeFirst(2) }
            return name.hasPrefix("/") ? "." : name
        }
    }

    /// What a reading tar says that is not a failure (the copy goes on): its warnings, and its closing summary.
    static let warnings = ["socket ignored", "door ignored", "file changed as we read it", "File removed before we read it",
                           "Exiting with failure status due to previous errors"]

    /// Names as the person is shown them: quoted (a job chooses its own, with whatever words), each cut to 80
    /// characters, at most three and how many more.
    public static func list(_ names: [String]) -> String {
        let shown = names.prefix(3).map { String(reflecting: String($0.prefix(80))) }.joined(separator: ", ")
        return names.count > 3 ? shown + " and \(names.count - 3) more" : shown
    }
}
