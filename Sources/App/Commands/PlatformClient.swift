// What the client commands (`submit`, `job`) share: the server's address, the API token (CAMPUSCLOUD_TOKEN or
// ~/.config/campuscloud/token), multipart bodies, and requests whose JSON answers and OpenAI-style errors become
// plain sentences.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

struct PlatformClient {
    let base: String
    let token: String

    init(server: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        base = server.hasSuffix("/") ? String(server.dropLast()) : server
        token = try Self.token(environment: environment)
    }

    static func token(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let token = environment["CAMPUSCLOUD_TOKEN"], !token.isEmpty { return token }
        let path = (environment["HOME"] ?? NSHomeDirectory()) + "/.config/campuscloud/token"
        if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        throw CommandFailure("No API token: set CAMPUSCLOUD_TOKEN or write it to \(path) (create a personal key on your profile page).")
    }

    static func validate(server: String) -> Bool { URL(string: server)?.scheme?.hasPrefix("http") == true }

    /// A multipart/form-data body: text fields, then each file read from disk as a part named `files`.
    static func multipart(fields: [(String, String)], files: [String], boundary: String) throws -> Data {
        var body = Data()
        for (name, value) in fields {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("Cannot read \(path).") }
            let name = (path as NSString).lastPathComponent.replacingOccurrences(of: "\"", with: "")
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
            body.append(data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return body
    }

    /// Sends a request to `path` (under the server); the status and the raw answer.
    func raw(_ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String? = nil) async throws -> (HTTPResponseStatus, Data) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        return (response.status, Data(buffer: try await response.body.collect(upTo: 512 << 20)))
    }

    /// Sends a request and reads a JSON object back.
    func json(_ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String? = nil) async throws -> (HTTPResponseStatus, [String: Any]) {
        let (status, data) = try await raw(method, path, body: body, contentType: contentType)
        return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    /// Sends a request and reads a JSON array of objects back.
    func jsonList(_ method: HTTPMethod, _ path: String) async throws -> (HTTPResponseStatus, [[String: Any]]) {
        let (status, data) = try await raw(method, path)
        return (status, (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? [])
    }

    static func message(_ answer: [String: Any], _ status: HTTPResponseStatus) -> String {
        ((answer["error"] as? [String: Any])?["message"] as? String) ?? "the server answered \(status.code)"
    }
}
