// `campuscloud submit`: hand in from a terminal, as students do from the page: the files go to the API, then a
// progress line follows the grading until the result is in.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Hand in files for an assignment and wait for the grade.",
        discussion: """
        The API token comes from CAMPUSCLOUD_TOKEN, or else the file ~/.config/campuscloud/token (create a personal key on \
        your profile page). Several files, or one .zip.
        """)

    @ArgumentParser.Option(help: "The platform's address, e.g. https://campuscloud.example.edu") var server: String
    @ArgumentParser.Option(help: "The assignment's id (shown on its page).") var assignment: String
    @ArgumentParser.Option(help: "Stop waiting after this many seconds (the grading goes on).") var timeout: Double = 600
    @ArgumentParser.Flag(help: "Hand in and return at once.") var noWait = false
    @ArgumentParser.Argument(help: "The files to hand in.") var files: [String]

    func validate() throws {
        guard PlatformClient.validate(server: server) else { throw ValidationError("--server must be an http(s) address.") }
        guard UUID(uuidString: assignment) != nil else { throw ValidationError("--assignment must be the assignment's id (a UUID).") }
        guard !files.isEmpty else { throw ValidationError("Name at least one file to hand in.") }
    }

    func run() async throws {
        let client = try PlatformClient(server: server)
        let boundary = "campuscloud-\(UUID().uuidString)"
        let body = try PlatformClient.multipart(fields: [], files: files, boundary: boundary)
        let (status, answer) = try await client.json(.POST, "/api/v1/assignments/\(assignment)/submissions", body: body,
                                                     contentType: "multipart/form-data; boundary=\(boundary)")
        guard status == .created, let id = answer["id"] as? String else { throw CommandFailure("Not handed in: \(PlatformClient.message(answer, status))") }
        say("Handed in: attempt \(answer["attempt"] as? Int ?? 0), submission \(id)")
        guard !noWait else { return }

        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            let (pollStatus, submission) = try await client.json(.GET, "/api/v1/submissions/\(id)")
            guard pollStatus == .ok else { throw CommandFailure(PlatformClient.message(submission, pollStatus)) }
            let state = submission["status"] as? String ?? "?"
            if state == "graded" || state == "failed" {
                if !last.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
                Self.report(submission)
                return
            }
            if state != last {
                FileHandle.standardError.write(Data("\r\(state == "queued" ? "Waiting in the queue…" : "Grading…")   ".utf8))
                last = state
            }
            try await Task.sleep(for: .seconds(1))
        }
        throw CommandFailure("Still not graded after \(Int(timeout)) s; the result will appear at \(client.base)/submissions/\(id).")
    }

    static func report(_ submission: [String: Any]) {
        func number(_ value: Any?) -> String { (value as? Double).map { $0 == $0.rounded() ? String(Int($0)) : String($0) } ?? "?" }
        if let problem = submission["problem"] as? String { say("Problem: \(problem)") }
        for test in submission["tests"] as? [[String: Any]] ?? [] {
            say("  \(test["status"] as? String ?? "-")\t\(number(test["score"]))/\(number(test["maxScore"]))\t\(test["name"] as? String ?? "")")
        }
        if let hidden = submission["hiddenTests"] as? Int, hidden > 0 { say("  (\(hidden) test(s) not visible yet)") }
        if submission["finalScore"] != nil {
            say("Score: \(number(submission["finalScore"]))" + (submission["maxScore"].map { " / \(number($0))" } ?? ""))
        } else {
            say("Score: not visible yet")
        }
    }
}

/// A command that could not do its work: the sentence is printed and the exit code is 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
