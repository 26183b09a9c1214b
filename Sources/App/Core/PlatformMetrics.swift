// The platform's Prometheus registry, one per Application (no global metrics state), and the middleware that
// records every request by method, route pattern (never raw paths: ids would explode the label set) and status.
import Vapor
import Prometheus

public final class PlatformMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    func recordRequest(method: String, route: String, status: UInt, duration: Duration) {
        registry.makeCounter(
            descriptor: .init(metricName: "http_requests", unitName: "total", helpText: "HTTP requests by method, route and status."),
            labels: [("method", method), ("route", route), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency by method and route."),
            labels: [("method", method), ("route", route)],
            buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// Credits held, settled (spent) and released, in micro-credits (integers, like the ledger), by account kind.
    func recordCredits(_ step: String, kind: String, micro: Int64) {
        guard micro > 0 else { return }
        registry.makeCounter(
            descriptor: .init(metricName: "campuscloud_credits_\(step)_microcredits", unitName: "total",
                              helpText: "Micro-credits \(step) by the ledger, by account kind."),
            labels: [("account_kind", kind)]
        ).increment(by: micro)
    }

    /// Grading runs finished, by autograder kind and whether the run could grade normally.
    func recordGrading(_ kind: String, problem: Bool) {
        registry.makeCounter(
            descriptor: .init(metricName: "campuscloud_grading_runs", unitName: "total", helpText: "Grading runs finished, by autograder kind and outcome."),
            labels: [("kind", kind), ("outcome", problem ? "problem" : "graded")]
        ).increment()
    }

    /// One AI gateway request: by model and outcome; its tokens and credits; the upstream's latency.
    struct GatewayRequestFigures: Sendable {
        var model: String
        var outcome: String
        var promptTokens: Int
        var completionTokens: Int
        var microCredits: Int64
        var upstream: Duration?
    }

    /// A batch of gateway requests: counters summed per label set first (one registry lookup each, not one per
    /// request), upstream times recorded one by one.
    func recordGateway(_ batch: [GatewayRequestFigures]) {
        var requests: [[String]: Int64] = [:], tokens: [[String]: Int64] = [:], credits: [String: Int64] = [:], upstream: [String: [Duration]] = [:]
        for figures in batch {
            requests[[figures.model, figures.outcome], default: 0] += 1
            if figures.promptTokens > 0 { tokens[[figures.model, "prompt"], default: 0] += Int64(figures.promptTokens) }
            if figures.completionTokens > 0 { tokens[[figures.model, "completion"], default: 0] += Int64(figures.completionTokens) }
            if figures.microCredits > 0 { credits[figures.model, default: 0] += figures.microCredits }
            if let time = figures.upstream { upstream[figures.model, default: []].append(time) }
        }
        for (labels, count) in requests {
            registry.makeCounter(descriptor: .init(metricName: "campuscloud_ai_requests", unitName: "total", helpText: "AI gateway requests by model and outcome."),
                                 labels: [("model", labels[0]), ("outcome", labels[1])]).increment(by: count)
        }
        for (labels, count) in tokens {
            registry.makeCounter(descriptor: .init(metricName: "campuscloud_ai_tokens", unitName: "total", helpText: "AI gateway tokens by model and kind."),
                                 labels: [("model", labels[0]), ("kind", labels[1])]).increment(by: count)
        }
        for (model, micro) in credits {
            registry.makeCounter(descriptor: .init(metricName: "campuscloud_ai_credits_microcredits", unitName: "total",
                                                   helpText: "Micro-credits charged for AI gateway requests by model."),
                                 labels: [("model", model)]).increment(by: micro)
        }
        for (model, times) in upstream {
            let histogram = registry.makeDurationHistogram(descriptor: .init(metricName: "campuscloud_ai_upstream_duration", unitName: "seconds",
                                                                             helpText: "Time to the upstream's response headers, by model."),
                                                           labels: [("model", model)], buckets: Self.latencyBuckets)
            for time in times { histogram.record(time) }
        }
    }

    public func exposition() -> String { registry.emitToString() }
}

struct PlatformMetricsKey: StorageKey { typealias Value = PlatformMetrics }

extension Application {
    public var platformMetrics: PlatformMetrics {
        get { storage[PlatformMetricsKey.self]! }
        set { storage[PlatformMetricsKey.self] = newValue }
    }
}

/// On the event loop, without a task of its own (as the other platform-wide middleware: each async middleware would
/// start a task and hop between the event loop and the concurrency pool twice more for every request).
struct RequestMetricsMiddleware: Middleware {
    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        let clock = ContinuousClock()
        let start = clock.now
        let route = request.route.map { "/" + $0.path.map(\.description).joined(separator: "/") } ?? "unmatched"
        let metrics = request.application.platformMetrics
        return next.respond(to: request).map { response in
            metrics.recordRequest(method: request.method.rawValue, route: route, status: response.status.code, duration: clock.now - start)
            return response
        }.flatMapErrorThrowing { error in
            let status = (error as? any AbortError)?.status ?? .internalServerError
            metrics.recordRequest(method: request.method.rawValue, route: route, status: status.code, duration: clock.now - start)
            throw error
        }
    }
}
