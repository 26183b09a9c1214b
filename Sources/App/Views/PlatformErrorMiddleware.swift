// Turns every error into an answer a person can act on: OpenAI-style JSON under /api and /v1, an HTML page elsewhere.
// Never a stack trace, SQL or an internal type name; unexpected errors are logged with their detail and shown as a
// generic sentence.
import Insight
import Vapor

struct ErrorPage: Encodable {
    /// The layout's part of an error page: the navigation of someone not signed in.
    struct Layout: Encodable { var nav = PageContext.Nav() }
    var title: String
    var status: UInt
    var message: String
    var page = Layout()
}

struct PlatformErrorMiddleware: Middleware {
    let environment: Environment

    /// On the event loop (see `RequestMetricsMiddleware`); an error's answer is made in a task (a page is rendered).
    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        next.respond(to: request).flatMapError { error in
            request.eventLoop.makeFutureWithTask { await answer(error, for: request) }
        }
    }

    static func wantsJSON(_ request: Request) -> Bool {
        let path = request.url.path
        return path == "/api" || path.hasPrefix("/api/") || path == "/v1" || path.hasPrefix("/v1/")
            || path == "/healthz" || path == "/metrics"
    }

    private func answer(_ error: any Error, for request: Request) async -> Response {
        let (status, message, headers) = Self.describe(error)
        if status.code >= 500 {
            request.logger.error("Unhandled error on \(request.method) \(request.url.path): \(String(reflecting: error))")
        } else {
            request.logger.debug("\(status.code) on \(request.method) \(request.url.path): \(message)")
        }
        if Self.wantsJSON(request) {
            let body = ErrorBody(error: .init(message: message, type: Self.kind(of: status), code: String(status.code),
                                              problems: (error as? any DetailedError)?.details))
            let response = Response(status: status, headers: headers)
            do { try response.content.encode(body, as: .json) } catch { response.body = .init(string: "{}") }
            return response
        }
        let page = ErrorPage(title: status.reasonPhrase, status: status.code, message: message)
        do {
            let view = try await request.view.render("error", page)
            let response = try await view.encodeResponse(status: status, headers: headers, for: request)
            return response
        } catch {
            var plainHeaders = headers
            plainHeaders.contentType = .html
            return Response(status: status, headers: plainHeaders,
                            body: .init(string: "<!doctype html><title>\(status.code)</title><p>\(message.htmlEscaped())</p>"))
        }
    }

    static func describe(_ error: any Error) -> (HTTPResponseStatus, String, HTTPHeaders) {
        switch error {
        // DecodingError is an AbortError in Vapor, with Swift's debug text as reason: catch it first.
        case let decoding as DecodingError:
            return (.badRequest, "The request body could not be read: \(decoding.plainSentence)", [:])
        case let abort as any AbortError where abort.status.code >= 500 && abort.status != .serviceUnavailable:
            // A library's internal failure (a template, a driver) may carry details meant for the log, not the reader.
            return (abort.status, "Something went wrong on our side; it has been logged. Please try again.", abort.headers)
        case let abort as any AbortError:
            let reason = abort.status == .notFound && abort.reason == "Not Found"
                ? "Nothing here: the address may be mistyped, or the item may not exist or not be visible to you."
                : abort.reason
            return (abort.status, reason, abort.headers)
        default:
            return (.internalServerError, "Something went wrong on our side; it has been logged. Please try again.", [:])
        }
    }

    static func kind(of status: HTTPResponseStatus) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 429: "rate_limit_error"
        case 400..<500: "invalid_request_error"
        default: "server_error"
        }
    }
}

extension DecodingError {
    /// "field 'name' is missing" rather than Swift's debug description.
    var plainSentence: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the body" : "'\(keys.joined(separator: "."))'"
        }
        switch self {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "field '\(key.stringValue)' is missing\(parent)."
        case .typeMismatch(let type, let context):
            return "\(path(context)) has the wrong type (expected \(Self.typeName(type)))."
        case .valueNotFound(let type, let context):
            return "\(path(context)) is null (expected \(Self.typeName(type)))."
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not valid JSON." : "\(path(context)) is not valid."
        @unknown default:
            return "it is not valid."
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "a list" : "an object"
        }
    }
}

extension String {
    /// Safe for HTML text and attributes (one implementation, the charts' `SVGChart.escape`).
    func htmlEscaped() -> String { SVGChart.escape(self) }
}
