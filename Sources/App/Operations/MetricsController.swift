// GET /metrics: Prometheus text exposition of the platform's registry.
import Vapor

enum MetricsController {
    @Sendable static func exposition(req: Request) async throws -> Response {
        let response = Response(status: .ok, body: .init(string: req.application.platformMetrics.exposition()))
        response.headers.replaceOrAdd(name: .contentType, value: "text/plain; version=0.0.4; charset=utf-8")
        return response
    }
}
