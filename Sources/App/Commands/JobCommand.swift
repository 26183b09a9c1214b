// `campuscloud job submit|status|logs|outputs|cancel`: research projects' batch jobs from a terminal, through the
// JSON API as the project page does.
import ArgumentParser
import Foundation

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Run and follow a research project's batch jobs.",
        discussion: """
        The API token comes from CAMPUSCLOUD_TOKEN, or else the file ~/.config/campuscloud/token (create a personal key on \
        your profile page).
        """,
        subcommands: [Submit.self, Status.self, Logs.self, Outputs.self, Cancel.self])

    struct Server: ParsableArguments {
        @ArgumentParser.Option(help: "The platform's address, e.g. https://campuscloud.example.edu") var server: String

        func validate() throws {
            guard PlatformClient.validate(server: server) else { throw ValidationError("--server must be an http(s) address.") }
        }
    }

    static func jobID(_ text: String) throws -> String {
        guard UUID(uuidString: text) != nil else { throw ValidationError("The job's id is a UUID (shown when it was submitted and on its page).") }
        return text
    }

    /// One line about a job: id, status, cost, and the problem if any.
    static func describe(_ job: [String: Any]) -> String {
        var line = "\(job["id"] as? String ?? "?")\t\(job["status"] as? String ?? "?")\t\(job["charged"] as? String ?? "0") credits"
        if let code = job["exitCode"] as? Int { line += "\texit code \(code)" }
        if let problem = job["problem"] as? String { line += "\t\(problem)" }
        return line
    }

    static func get(_ client: PlatformClient, _ id: String) async throws -> [String: Any] {
        let (status, job) = try await client.json(.GET, "/api/v1/jobs/\(id)")
        guard status == .ok else { throw CommandFailure(PlatformClient.message(job, status)) }
        return job
    }

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue a job: a command run by /bin/sh on the input files; files it writes to outputs/ are kept.")
        @OptionGroup var options: Server
        @ArgumentParser.Option(help: "The project's id.") var project: String
        @ArgumentParser.Option(help: "The command line, e.g. 'python3 train.py --epochs 3'.") var command: String
        @ArgumentParser.Option(help: "A name for the job.") var name: String?
        @ArgumentParser.Option(help: "Time limit in seconds (at most \(ResearchJobs.maxWallSeconds) on the platform's workers; on a Slurm cluster, its partition's limit, in whole minutes).")
        var wallSeconds = ResearchJobs.defaultWallSeconds
        @ArgumentParser.Option(help: "Memory limit in MB.") var memoryMb = ResearchJobs.defaultMemoryMB
        @ArgumentParser.Option(help: "Cores (more than one only when the project's jobs go to a Slurm cluster).") var cores = 1
        @ArgumentParser.Option(help: "GPUs (only on a Slurm cluster that has them).") var gpus = 0
        @ArgumentParser.Flag(help: "Give the job network access.") var network = false
        @ArgumentParser.Flag(help: "Charge the project's allocation rather than your allowance (the PI).") var chargeProject = false
        @ArgumentParser.Flag(help: "Wait until it ends, then print its log.") var wait = false
        @ArgumentParser.Argument(help: "Input files (several, or one .zip).") var files: [String] = []

        func validate() throws { guard UUID(uuidString: project) != nil else { throw ValidationError("--project must be the project's id (a UUID).") } }

        func run() async throws {
            let client = try PlatformClient(server: options.server)
            let boundary = "campuscloud-\(UUID().uuidString)"
            var fields = [("command", command), ("wallSeconds", String(wallSeconds)), ("memoryMB", String(memoryMb)), ("network", String(network)),
                          ("cores", String(cores)), ("gpus", String(gpus)), ("payFrom", chargeProject ? "project" : "allowance")]
            if let name { fields.append(("name", name)) }
            let body = try PlatformClient.multipart(fields: fields, files: files, boundary: boundary)
            let (status, job) = try await client.json(.POST, "/api/v1/projects/\(project)/jobs", body: body, contentType: "multipart/form-data; boundary=\(boundary)")
            guard status == .created, let id = job["id"] as? String else { throw CommandFailure("Not queued: \(PlatformClient.message(job, status))") }
            say("Queued job \(id)")
            guard wait else { return }
            var current = job, last = ""
            while !["succeeded", "failed", "cancelled", "timeout"].contains(current["status"] as? String ?? "") {
                let state = current["status"] as? String ?? "?"
                if state != last { FileHandle.standardError.write(Data("\(state == "queued" ? "Waiting in the queue…" : "Running…")\n".utf8)); last = state }
                try await Task.sleep(for: .seconds(1))
                current = try await JobCommand.get(client, id)
            }
            let (_, log) = try await client.raw(.GET, "/api/v1/jobs/\(id)/logs")
            FileHandle.standardOutput.write(log)
            say(JobCommand.describe(current))
            if current["status"] as? String != "succeeded" { throw ExitCode(1) }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's status, cost and outputs.")
        @OptionGroup var options: Server
        @ArgumentParser.Argument(help: "The job's id.") var job: String

        func run() async throws {
            let job = try await JobCommand.get(try PlatformClient(server: options.server), try JobCommand.jobID(job))
            say(JobCommand.describe(job))
            for output in job["outputs"] as? [[String: Any]] ?? [] { say("  \(output["path"] as? String ?? "?")\t\(output["size"] as? Int ?? 0) bytes") }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's standard output and error (once it has ended).")
        @OptionGroup var options: Server
        @ArgumentParser.Argument(help: "The job's id.") var job: String

        func run() async throws {
            let (status, log) = try await PlatformClient(server: options.server).raw(.GET, "/api/v1/jobs/\(try JobCommand.jobID(job))/logs")
            guard status == .ok else { throw CommandFailure("No log: the server answered \(status.code)") }
            FileHandle.standardOutput.write(log)
        }
    }

    struct Outputs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download what a job wrote to outputs/, as a zip.")
        @OptionGroup var options: Server
        @ArgumentParser.Argument(help: "The job's id.") var job: String
        @ArgumentParser.Option(help: "Where to write the zip.") var to = "outputs.zip"

        func run() async throws {
            let (status, zip) = try await PlatformClient(server: options.server).raw(.GET, "/api/v1/jobs/\(try JobCommand.jobID(job))/outputs.zip")
            guard status == .ok else { throw CommandFailure("No outputs: the server answered \(status.code)") }
            guard FileManager.default.createFile(atPath: to, contents: zip) else { throw CommandFailure("Cannot write \(to).") }
            say("Wrote \(to) (\(zip.count) bytes)")
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued or running job (only what it used is charged).")
        @OptionGroup var options: Server
        @ArgumentParser.Argument(help: "The job's id.") var job: String

        func run() async throws {
            let (status, answer) = try await PlatformClient(server: options.server).json(.POST, "/api/v1/jobs/\(try JobCommand.jobID(job))/cancel")
            guard status == .ok else { throw CommandFailure("Not cancelled: \(PlatformClient.message(answer, status))") }
            say(answer["status"] as? String == "cancelled" ? "Cancelled; its credits were freed." : "Asked to stop; it stops within seconds.")
        }
    }
}
