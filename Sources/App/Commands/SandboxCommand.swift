// `campuscloud sandbox run`: runs one command in the sandbox, for instructors checking an autograder, for IT staff
// checking a machine, and for scripts (--json).
import ArgumentParser
import Foundation
import Sandbox

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run commands in the bubblewrap sandbox that grading and research jobs use.",
        subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run COMMAND in the sandbox with limits.",
            discussion: """
            Without --json the job's output streams through and the exit code is the job's (128+N when a signal \
            ended it, 124 when a limit stopped it, 125 when the sandbox failed). With --json exactly one JSON object \
            is printed (status, exit_code, signal, cpu_ms, wall_ms, max_rss_kb, stdout, stderr, truncated) and the \
            exit code is 0. When bwrap is missing or unusable nothing runs and the exit code is 1.
            """)

        @ArgumentParser.Option(help: "Wall-clock limit in seconds.") var wallSeconds: Double = 10
        @ArgumentParser.Option(help: "CPU-time limit in seconds.") var cpuSeconds = 10
        @ArgumentParser.Option(help: "Memory limit in MB.") var memoryMB = 512
        @ArgumentParser.Option(help: "Processes and threads.") var pids = 64
        @ArgumentParser.Option(help: "Cap on stdout and on stderr, in KB each.") var outputKB = 1024
        @ArgumentParser.Flag(help: "Give the job network access (off by default).") var network = false
        @ArgumentParser.Option(help: "Folder whose files are copied into the job's working folder.") var dir: String?
        @ArgumentParser.Flag(help: "Print one JSON object with the result instead of streaming.") var json = false
        @ArgumentParser.Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).") var command: [String] = []

        func validate() throws {
            let words = command.first == "--" ? Array(command.dropFirst()) : command
            guard !words.isEmpty else { throw ValidationError("Give the command to run after --, e.g. campuscloud sandbox run -- python3 -c 'print(1)'.") }
            guard wallSeconds > 0, cpuSeconds > 0, memoryMB >= 16, pids >= 4, outputKB > 0 else {
                throw ValidationError("Limits must be positive (memory at least 16 MB, at least 4 processes).")
            }
        }

        func run() async throws {
            let config: AppConfig
            do { config = try AppConfig.parse(environment: ProcessInfo.processInfo.environment) } catch { throw StartupError.config(error) }
            let service = SandboxService(sandbox: Sandbox(configuration: SandboxService.configuration(for: config)), metrics: nil)
            var limits = SandboxLimits()
            limits.wallSeconds = wallSeconds
            limits.cpuSeconds = cpuSeconds
            limits.memoryMB = memoryMB
            limits.pids = pids
            limits.outputKB = outputKB
            let words = command.first == "--" ? Array(command.dropFirst()) : command
            let job = SandboxJob(command: words, copyFrom: dir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }, limits: limits, network: network)
            let stream: @Sendable (SandboxStream, Data) -> Void = { stream, data in
                (stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError).write(data)
            }
            let result: SandboxResult
            do {
                result = try await service.run(job, onOutput: json ? nil : stream)
            } catch let error as SandboxError {
                throw StartupError.sandbox(error.description)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                say(String(decoding: try encoder.encode(result), as: UTF8.self))
                return
            }
            throw ExitCode(Self.exitCode(for: result))
        }

        static func exitCode(for result: SandboxResult) -> Int32 {
            if result.status != .ok {
                FileHandle.standardError.write(Data("campuscloud: the job was stopped: \(result.status.rawValue)\n".utf8))
            }
            switch result.status {
            case .ok: return result.exitCode ?? (128 + (result.signal ?? 9))
            case .killed: return 128 + (result.signal ?? 9)
            case .timeout, .memoryLimit, .outputLimit: return 124
            case .sandboxError:
                FileHandle.standardError.write(Data("campuscloud: \(result.stderr)\n".utf8))
                return 125
            }
        }
    }
}
