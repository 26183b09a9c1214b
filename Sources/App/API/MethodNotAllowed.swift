// The API answers 405 (with Allow) for a method its document does not have on a path it does have, instead of the
// router's 404: clients generated from the document, and people, then learn the path is right and the method wrong.
import NIOConcurrencyHelpers
import Vapor

final class MethodNotAllowedMiddleware: Middleware, Sendable {
    /// Path prefixes whose routes are the API's (the JSON API and the OpenAI-compatible /v1).
    static let prefixes = ["api", "v1"]
    private let table = NIOLockedValueBox<[(method: HTTPMethod, path: [PathComponent])]?>(nil)

    /// On the event loop (see `RequestMetricsMiddleware`).
    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        next.respond(to: request).flatMapErrorThrowing { error in
            guard (error as? any AbortError)?.status == .notFound else { throw error }
            let segments = request.url.path.split(separator: "/").map(String.init)
            guard let first = segments.first, Self.prefixes.contains(first) else { throw error }
            let allowed = self.methods(for: segments, routes: request.application.routes.all)
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { throw error }
            let names = allowed.sorted()
            throw Abort(.methodNotAllowed, headers: ["Allow": names.joined(separator: ", ")],
                        reason: "\(request.method.rawValue) is not a method of \(request.url.path); it answers \(names.joined(separator: ", ")).")
        }
    }

    /// The methods (their names) of the routes whose path matches `segments`.
    func methods(for segments: [String], routes: [Route]) -> Set<String> {
        let known = table.withLockedValue { table in
            if table == nil { table = routes.map { ($0.method, $0.path) } }
            return table!
        }
        return Set(known.filter { Self.matches($0.path, segments) }.map(\.method.rawValue))
    }

    static func matches(_ path: [PathComponent], _ segments: [String]) -> Bool {
        for (index, component) in path.enumerated() {
            switch component {
            case .catchall: return segments.count >= index
            case .constant(let text): guard index < segments.count, segments[index] == text else { return false }
            case .parameter, .anything: guard index < segments.count else { return false }
            }
        }
        return path.count == segments.count
    }
}
