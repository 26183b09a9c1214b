// GET /healthz: 200 when the platform and its database answer, 503 with the reason when the database does not.
import Vapor

struct HealthStatus: Content {
    var status: String
    var database: String
    var reason: String?
}

enum HealthController {
    @Sendable static func check(req: Request) async throws -> Response {
        let status: HealthStatus
        let code: HTTPResponseStatus
        do {
            try await DatabaseHealth.ping(req.db)
            status = HealthStatus(status: "ok", database: "ok")
            code = .ok
        } catch {
            req.logger.warning("Health check: database unreachable: \(DatabaseHealth.reason(for: error))")
            status = HealthStatus(status: "unavailable", database: "unreachable", reason: DatabaseHealth.reason(for: error))
            code = .serviceUnavailable
        }
        let response = Response(status: code)
        try response.content.encode(status, as: .json)
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }
}
