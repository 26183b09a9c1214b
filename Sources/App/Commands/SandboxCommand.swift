// `campuscloud sandbox run`: runs one command in the sandbox, for instructors checking an autograder, for IT staff
// checking a machine, and for scripts (--json).
import ArgumentParser
import Foundation
import Sandbox

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run commands in the bubblewrap sandbox that grading and research jobs use.",
        subcommands: [Run.self, BuildLayer.self])

    /// The limits and folder options `run` and `build-layer` share.
    struct JobOptions: ParsableArguments {
        @ArgumentParser.Option(help: "Wall-clock limit in seconds.") var wallSeconds: Double = 10
        @ArgumentParser.Option(help: "CPU-time limit in seconds.") var cpuSeconds = 10
        @ArgumentParser.Option(help: "Memory limit in MB.") var memoryMB = 512
        @ArgumentParser.Option(help: "Processes and threads.") var pids = 64
        @ArgumentParser.Option(help: "Cap on stdout and on stderr, in KB each.") var outputKB = 1024
        @ArgumentParser.Flag(help: "Give the job network access (off by default).") var network = false
        @ArgumentParser.Option(help: "Folder whose files are copied into the job's working folder.") var dir: String?
        @ArgumentParser.Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

        var words: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

        func validate() throws {
            guard !words.isEmpty else { throw ValidationError("Give the command to run after --, e.g. campuscloud sandbox run -- python3 -c 'print(1)'.") }
            guard wallSeconds > 0, cpuSeconds > 0, memoryMB >= 16, pids >= 4, outputKB > 0 else {
                throw ValidationError("Limits must be positive (memory at least 16 MB, at least 4 processes).")
            }
        }

        func job(layer: SandboxLayer? = nil) -> SandboxJob {
            var limits = SandboxLimits()
            limits.wallSeconds = wallSeconds
            limits.cpuSeconds = cpuSeconds
            limits.memoryMB = memoryMB
            limits.pids = pids
            limits.outputKB = outputKB
            return SandboxJob(command: words, copyFrom: dir.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                              limits: limits, network: network, layer: layer)
        }
    }

    static func service() throws -> SandboxService {
        let config = try PlatformRuntime.config()
        var configuration = SandboxService.configuration(for: config)
        configuration.warmLaunchers = 0  // one job and exit: anything prepared ahead would go unused
        configuration.readySandboxes = 0
        configuration.lanes = 0
        return SandboxService(sandbox: Sandbox(configuration: configuration), metrics: nil)
    }

    static func printJSON(_ result: SandboxResult) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        say(String(decoding: try encoder.encode(result), as: UTF8.self))
    }

    /// `campuscloud sandbox build-layer ID -- COMMAND`: what an autograder's setup.sh does, once.
    struct BuildLayer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build-layer",
            abstract: "Build an environment layer: run COMMAND (e.g. sh setup.sh) as root on a writable overlay of the system folders.",
            discussion: "Later jobs use it read-only with `sandbox run --layer ID`. Give --network when the setup downloads. Exit code: the setup's.")

        @ArgumentParser.Argument(help: "The layer's id (letters, digits, - and _).") var id: String
        @ArgumentParser.OptionGroup var options: JobOptions

        func run() async throws {
            let service = try SandboxCommand.service()
            let built: (layer: SandboxLayer?, result: SandboxResult)
            do {
                defer { service.sandbox.shutdown() }
                built = try await service.sandbox.buildLayer(id: id, setup: options.job())
            } catch let error as SandboxError {
                throw StartupError.message(error.description)
            }
            FileHandle.standardOutput.write(Data(built.result.stdout.utf8))
            FileHandle.standardError.write(Data(built.result.stderr.utf8))
            if built.layer != nil {
                say("Layer \(id) is ready.")
                return
            }
            FileHandle.standardError.write(Data("campuscloud: the setup failed, so layer \(id) was not built.\n".utf8))
            throw ExitCode(Run.exitCode(for: built.result) == 0 ? 1 : Run.exitCode(for: built.result))
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run COMMAND in the sandbox with limits.",
            discussion: """
            Without --json the job's output streams through and the exit code is the job's (128+N when a signal \
            ended it, 124 when a limit stopped it, 125 when the sandbox failed). With --json exactly one JSON object \
            is printed (status, exit_code, signal, cpu_ms, wall_ms, max_rss_kb, stdout, stderr, truncated) and the \
            exit code is 0. When bwrap is missing or unusable nothing runs and the exit code is 1.
            """)

        @ArgumentParser.Option(help: "Run on this environment layer (see build-layer).") var layer: String?
        @ArgumentParser.Flag(help: "Print one JSON object with the result instead of streaming.") var json = false
        @ArgumentParser.OptionGroup var options: JobOptions

        func run() async throws {
            let service = try SandboxCommand.service()
            var environment: SandboxLayer?
            if let layer {
                guard let found = service.sandbox.layer(id: layer) else {
                    throw StartupError.message("There is no environment layer '\(layer)'; build it with campuscloud sandbox build-layer \(layer) -- COMMAND.")
                }
                environment = found
            }
            let stream: @Sendable (SandboxStream, Data) -> Void = { stream, data in
                (stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError).write(data)
            }
            let result: SandboxResult
            do {
                defer { service.sandbox.shutdown() }  // the job's folder is removed before the process exits
                result = try await service.run(options.job(layer: environment), onOutput: json ? nil : stream)
            } catch let error as SandboxError {
                throw StartupError.message(error.description)
            }
            if json { return try SandboxCommand.printJSON(result) }
            throw ExitCode(Self.exitCode(for: result))
        }

        static func exitCode(for result: SandboxResult) -> Int32 {
            if result.status != .ok {
                FileHandle.standardError.write(Data("campuscloud: the job was stopped: \(result.status.rawValue)\n".utf8))
            }
            switch result.status {
            case .ok: return result.exitCode ?? (128 + (result.signal ?? 9))
            case .killed, .cancelled: return 128 + (result.signal ?? 9)
            case .timeout, .memoryLimit, .outputLimit: return 124
            case .sandboxError:
                FileHandle.standardError.write(Data("campuscloud: \(result.stderr)\n".utf8))
                return 125
            }
        }
    }
}
