// A built-in OpenAI-compatible model server for development, tests, benchmarks and the demo: deterministic replies
// ("Echo: " and the last user message, one word per token), streaming one word per chunk, usage reported (in the
// last chunk when asked with stream_options.include_usage), embeddings from a hash, a configurable delay and
// failure. `campuscloud dev fake-upstream --port P` runs it alone; tests start it in-process on a free port.
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Vapor

struct FakeUpstreamOptions: Sendable {
    /// Milliseconds before the reply (and between streamed chunks).
    var delayMs = 0
    /// Answer every request with this status (a failing provider) instead of a reply.
    var failStatus: Int?
    /// The Authorization header value it expects (nil: any, or none).
    var requiredAuthorization: String?
    /// Generate this many tokens past the request's cap (a provider that does not honour max_tokens).
    var overrun = 0
    /// Answer every request with a 307 redirect to this URL (a provider that tries to send the gateway elsewhere).
    var redirectTo: String?
}

/// The fake's request counter and last body, for tests.
final class FakeUpstreamLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _requests = 0
    private var _lastBody: [String: Any] = [:]
    private var _lastAuthorization: String?
    private var _chunksSent = 0

    var requests: Int { lock.withLock { _requests } }
    var lastBody: [String: Any] { lock.withLock { _lastBody } }
    var lastAuthorization: String? { lock.withLock { _lastAuthorization } }
    var chunksSent: Int { lock.withLock { _chunksSent } }

    func record(_ body: [String: Any], authorization: String?) {
        lock.withLock {
            _requests += 1
            _lastBody = body
            _lastAuthorization = authorization
        }
    }
    func chunk() { lock.withLock { _chunksSent += 1 } }
}

enum FakeUpstream {
    /// Starts the fake on 127.0.0.1:`port` (0: a free port) and returns it with the port it listens on.
    static func start(port: Int = 0, options: FakeUpstreamOptions = .init(), log: FakeUpstreamLog = .init()) async throws -> (Application, Int) {
        let app = try await Application.make(.custom(name: "fake-upstream"))
        app.logger.logLevel = .error
        app.http.server.configuration.hostname = "127.0.0.1"
        app.http.server.configuration.port = port
        routes(app, options: options, log: log)
        try await app.server.start(address: .hostname("127.0.0.1", port: port))
        guard let bound = app.http.server.shared.localAddress?.port else { throw Abort(.internalServerError, reason: "the fake upstream did not start") }
        return (app, bound)
    }

    static func stop(_ app: Application) async {
        await app.server.shutdown()
        try? await app.asyncShutdown()
    }

    static func routes(_ app: Application, options: FakeUpstreamOptions, log: FakeUpstreamLog) {
        let v1 = app.grouped("v1")
        v1.on(.POST, "chat", "completions", body: .collect(maxSize: "8mb")) { req async throws -> Response in
            let body = try object(req)
            log.record(body, authorization: req.headers.first(name: .authorization))
            if let refusal = try await refuse(req, options) { return refusal }
            let model = body["model"] as? String ?? "fake"
            let messages = body["messages"] as? [[String: Any]] ?? []
            let lastUser = messages.last { $0["role"] as? String == "user" }?["content"] as? String ?? ""
            let cap = (body["max_completion_tokens"] as? Int) ?? (body["max_tokens"] as? Int) ?? 64
            let words = Array(("Echo: " + lastUser).split(separator: " ").map(String.init).prefix(max(1, cap)))
                + Array(repeating: "more", count: options.overrun)
            let promptTokens = messages.reduce(0) { $0 + ((($1["content"] as? String) ?? "").split(separator: " ").count) + 3 }
            let id = "chatcmpl-fake-\(log.requests)", created = 1_700_000_000
            let usage: [String: Int] = ["prompt_tokens": promptTokens, "completion_tokens": words.count, "total_tokens": promptTokens + words.count]
            guard body["stream"] as? Bool == true else {
                try await pause(options)
                let reply: [String: Any] = [
                    "id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [["index": 0, "message": ["role": "assistant", "content": words.joined(separator: " ")], "finish_reason": words.count >= cap ? "length" : "stop"]],
                    "usage": usage,
                ]
                return json(reply)
            }
            let includeUsage = (body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true
            let response = Response(status: .ok)
            response.headers.contentType = HTTPMediaType(type: "text", subType: "event-stream")
            response.body = .init(asyncStream: { writer in
                func send(_ object: [String: Any]) async throws {
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    try await writer.write(.buffer(ByteBuffer(string: "data: " + String(decoding: data, as: UTF8.self) + "\n\n")))
                    log.chunk()
                }
                func chunk(_ delta: [String: Any], finish: String?) -> [String: Any] {
                    ["id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [["index": 0, "delta": delta, "finish_reason": finish.map { $0 as Any } ?? NSNull()]]]
                }
                do {
                    try await send(chunk(["role": "assistant", "content": ""], finish: nil))
                    for (index, word) in words.enumerated() {
                        try await pause(options)
                        try await send(chunk(["content": (index == 0 ? "" : " ") + word], finish: nil))
                    }
                    try await send(chunk([:], finish: words.count >= cap ? "length" : "stop"))
                    if includeUsage {
                        try await send(["id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage])
                    }
                    try await writer.write(.buffer(ByteBuffer(string: "data: [DONE]\n\n")))
                } catch {
                    // The client (the gateway) went away: end our side.
                }
                try? await writer.write(.end)
            })
            return response
        }
        v1.on(.POST, "embeddings", body: .collect(maxSize: "8mb")) { req async throws -> Response in
            let body = try object(req)
            log.record(body, authorization: req.headers.first(name: .authorization))
            if let refusal = try await refuse(req, options) { return refusal }
            try await pause(options)
            let inputs: [String] = (body["input"] as? String).map { [$0] } ?? (body["input"] as? [String]) ?? []
            let data = inputs.enumerated().map { index, text -> [String: Any] in
                var seed = UInt64(5381)
                for byte in text.utf8 { seed = seed &* 33 &+ UInt64(byte) }
                let vector = (0..<8).map { i in Double((seed >> UInt64(i * 8)) & 0xff) / 255.0 }
                return ["object": "embedding", "index": index, "embedding": vector]
            }
            let tokens = inputs.reduce(0) { $0 + $1.split(separator: " ").count }
            return json(["object": "list", "data": data, "model": body["model"] as? String ?? "fake-embed",
                         "usage": ["prompt_tokens": tokens, "total_tokens": tokens]])
        }
        v1.get("models") { _ in json(["object": "list", "data": [["id": "fake-chat", "object": "model", "created": 1_700_000_000, "owned_by": "fake"]]]) }
    }

    private static func object(_ req: Request) throws -> [String: Any] {
        guard let buffer = req.body.data, let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw Abort(.badRequest, reason: "not JSON")
        }
        return object
    }

    private static func refuse(_ req: Request, _ options: FakeUpstreamOptions) async throws -> Response? {
        if let required = options.requiredAuthorization, req.headers.first(name: .authorization) != required {
            let response = json(["error": ["message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"]])
            response.status = .unauthorized
            return response
        }
        if let target = options.redirectTo {
            let response = Response(status: .temporaryRedirect)
            response.headers.replaceOrAdd(name: .location, value: target)
            return response
        }
        guard let status = options.failStatus else { return nil }
        try await pause(options)
        let response = json(["error": ["message": "The fake upstream is set to fail (internal host gpu-7.internal).", "type": "server_error", "code": NSNull()]])
        response.status = HTTPResponseStatus(statusCode: status)
        return response
    }

    private static func pause(_ options: FakeUpstreamOptions) async throws {
        if options.delayMs > 0 { try await Task.sleep(for: .milliseconds(options.delayMs)) }
    }

    private static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        let response = Response(status: .ok, body: .init(data: data))
        response.headers.contentType = .json
        return response
    }
}
