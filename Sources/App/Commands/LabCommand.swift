// `campuscloud lab list|start|status|stop|files`: a course's labs and one's sessions from a terminal, through the
// JSON API as the lab pages do. A started session opens in the browser at the address it prints.
import ArgumentParser
import Foundation
import Vapor

struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Start, follow and stop your lab sessions.",
        discussion: """
        The API token comes from CAMPUSCLOUD_TOKEN, or else the file ~/.config/campuscloud/token (create a personal key on \
        your profile page).
        """,
        subcommands: [List.self, Start.self, Status.self, Stop.self, Files.self])

    static func id(_ text: String, _ what: String) throws -> String {
        guard UUID(uuidString: text) != nil else { throw ValidationError("The \(what)'s id is a UUID (shown on its page).") }
        return text
    }

    /// One line about a session: id, status, charge, time left, and why it ended.
    static func describe(_ session: [String: Any]) -> String {
        var line = "\(session["id"] as? String ?? "?")\t\(session["status"] as? String ?? "?")\t\(session["charged"] as? String ?? "0") credits"
        if let left = session["secondsLeft"] as? Int { line += "\t\(left / 60) min left" }
        if let warning = session["warning"] as? String { line += "\t\(warning)" }
        if let reason = session["stopReason"] as? String { line += "\t\(reason)" }
        return line
    }

    /// Asks for one session (GET, or POST to stop it) and prints it.
    static func session(_ server: String, _ method: HTTPMethod, _ path: String) async throws {
        let client = try PlatformClient(server: server)
        let (status, found) = try await client.json(method, path)
        guard status == .ok else { throw CommandFailure(PlatformClient.message(found, status)) }
        say(describe(found))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The course's labs you may start: id, kind, set-up status, name.")
        @OptionGroup var options: JobCommand.Server
        @ArgumentParser.Option(help: "The course's id.") var course: String

        func run() async throws {
            let client = try PlatformClient(server: options.server)
            let (status, labs) = try await client.jsonList(.GET, "/api/v1/courses/\(try LabCommand.id(course, "course"))/labs")
            guard status == .ok else { throw CommandFailure("Cannot list the labs (\(status.code)).") }
            for lab in labs { say("\(lab["id"] as? String ?? "?")\t\(lab["kind"] as? String ?? "?")\t\(lab["setupStatus"] as? String ?? "?")\t\(lab["name"] as? String ?? "")") }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a session of a lab and print where it opens.")
        @OptionGroup var options: JobCommand.Server
        @ArgumentParser.Argument(help: "The lab's id.") var lab: String

        func run() async throws {
            let client = try PlatformClient(server: options.server)
            let (status, session) = try await client.json(.POST, "/api/v1/labs/\(try LabCommand.id(lab, "lab"))/sessions")
            guard status == .created, let id = session["id"] as? String else { throw CommandFailure("Not started: \(PlatformClient.message(session, status))") }
            say("Started session \(id)")
            say("Open it at \(options.server.trimmingCharacters(in: CharacterSet(charactersIn: "/")))/labs/sessions/\(id)")
            say(LabCommand.describe(session))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A session's status, charge so far and time left.")
        @OptionGroup var options: JobCommand.Server
        @ArgumentParser.Argument(help: "The session's id.") var session: String

        func run() async throws {
            try await LabCommand.session(options.server, .GET, "/api/v1/lab-sessions/\(try LabCommand.id(session, "session"))")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a session (its time is charged; your files are kept).")
        @OptionGroup var options: JobCommand.Server
        @ArgumentParser.Argument(help: "The session's id.") var session: String

        func run() async throws {
            try await LabCommand.session(options.server, .POST, "/api/v1/lab-sessions/\(try LabCommand.id(session, "session"))/stop")
        }
    }

    struct Files: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download your files of a lab as a zip.")
        @OptionGroup var options: JobCommand.Server
        @ArgumentParser.Argument(help: "The lab's id.") var lab: String
        @ArgumentParser.Option(help: "Where to write the zip.") var to = "lab-files.zip"

        func run() async throws {
            let client = try PlatformClient(server: options.server)
            let (status, data) = try await client.raw(.GET, "/api/v1/labs/\(try LabCommand.id(lab, "lab"))/home.zip")
            guard status == .ok else { throw CommandFailure("Cannot download the files (\(status.code)).") }
            try data.write(to: URL(fileURLWithPath: to))
            say("Wrote \(data.count) bytes to \(to)")
        }
    }
}
