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

    public var description: String { "the files were not saved: \(reason)" }

    /// The files tar named as unreadable, from what it said ("/usr/bin/tar: ./a/b: Cannot open: Permission denied" →
    /// "a/b: Permission denied"), at most three; its warnings (a socket left out) and closing summary dropped.
    static func unreadable(_ said: String) -> String {
        let lines = said.split(separator: "\n").map(String.init)
        let failures = lines.filter { $0.contains(": Cannot ") }
        let named = failures.isEmpty ? lines.filter { !$0.contains("Exiting with failure status") && !$0.hasSuffix("socket ignored") } : failures
        let shown = named.prefix(3).map { line -> String in
            var text = line.range(of: "tar: ").map { String(line[$0.upperBound...]) } ?? line
            if text.hasPrefix("./") { text.removeFirst(2) }
            for verb in ["open", "stat", "savedir", "readlink"] { text = text.replacingOccurrences(of: ": Cannot \(verb)", with: "") }
            return text
        }
        return shown.isEmpty ? "tar stopped" : shown.joined(separator: "; ") + (named.count > 3 ? "; …" : "")
    }
}
