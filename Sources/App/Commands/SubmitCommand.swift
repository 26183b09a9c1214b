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
        guard URL(string: server)?.scheme?.hasPrefix("http") == true else { throw ValidationError("--server must be an http(s) address.") }
        guard UUID(uuidString: assignment) != nil else { throw ValidationError("--assignment must be the assignment's id (a UUID).") }
        guard !files.isEmpty else { throw ValidationError("Name at least one file to hand in.") }
    }

    static func token(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let token = environment["CAMPUSCLOUD_TOKEN"], !token.isEmpty { return token }
        let path = (environment["HOME"] ?? NSHomeDirectory()) + "/.config/campuscloud/token"
        if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        throw CommandFailure("No API token: set CAMPUSCLOUD_TOKEN or write it to \(path) (create a personal key on your profile page).")
    }

    func run() async throws {
        let token = try Self.token()
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        let boundary = "campuscloud-\(UUID().uuidString)"
        var body = Data()
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("Cannot read \(path).") }
            let name = (path as NSString).lastPathComponent.replacingOccurrences(of: "\"", with: "")
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
            body.append(data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))

        var request = HTTPClientRequest(url: "\(base)/api/v1/assignments/\(assignment)/submissions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.body = .bytes(ByteBuffer(data: body))
        let (status, answer) = try await Self.send(request)
        guard status == .created, let id = answer["id"] as? String else { throw CommandFailure("Not handed in: \(Self.message(answer, status))") }
        say("Handed in: attempt \(answer["attempt"] as? Int ?? 0), submission \(id)")
        guard !noWait else { return }

        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            var poll = HTTPClientRequest(url: "\(base)/api/v1/submissions/\(id)")
            poll.headers.add(name: "Authorization", value: "Bearer \(token)")
            let (pollStatus, submission) = try await Self.send(poll)
            guard pollStatus == .ok else { throw CommandFailure(Self.message(submission, pollStatus)) }
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
        throw CommandFailure("Still not graded after \(Int(timeout)) s; the result will appear at \(base)/submissions/\(id).")
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

    static func send(_ request: HTTPClientRequest) async throws -> (HTTPResponseStatus, [String: Any]) {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        return (response.status, object)
    }

    static func message(_ answer: [String: Any], _ status: HTTPResponseStatus) -> String {
        ((answer["error"] as? [String: Any])?["message"] as? String) ?? "the server answered \(status.code)"
    }
}

/// A command that could not do its work: the sentence is printed and the exit code is 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
