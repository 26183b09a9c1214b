// The `campuscloud` command line: every subcommand, and the exit codes people and scripts rely on
// (0 success, 1 the platform could not do it, 2 the command line was wrong).
import ArgumentParser
import Foundation

public struct CampusCloudCLI: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "campuscloud",
        abstract: "CampusCloud: courses, credits, research projects and governed AI access for a university–industry programme.",
        discussion: """
        Configuration comes from the environment: DATABASE_URL (default sqlite://campuscloud.sqlite; postgres://… \
        selects PostgreSQL), CAMPUSCLOUD_DATA_DIR, LOG_LEVEL, CAMPUSCLOUD_SECRET, CAMPUSCLOUD_GRADING_WORKERS.
        """,
        version: PlatformVersion.current,
        subcommands: [ServeCommand.self, MigrateCommand.self, BackupCommand.self, RestoreCommand.self, DemoCommand.self, AdminCommand.self, LedgerCommand.self, SandboxCommand.self,
                      WorkerCommand.self, SubmitCommand.self, JobCommand.self, LabCommand.self, DevCommand.self, GradingBenchCommand.self, GatewayBenchCommand.self, InsightBenchCommand.self,
                      SimilarityCommand.self]
    )

    public init() {}

    /// Runs the command line and exits the process with the right code.
    public static func runMain() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as StartupError {
            FileHandle.standardError.write(Data("campuscloud: \(error)\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                // Unknown command or flag, missing value: usage and exit 2, as shells and scripts expect.
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            if code == .success || error is CleanExit || error is ExitCode { exit(withError: error) }
            FileHandle.standardError.write(Data("campuscloud: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}

/// Writes a line to standard output at once (print() is block-buffered when piped to a file or a log collector).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
