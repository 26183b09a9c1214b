// What the people who run the platform and the people who write clients for it reach first: probes, metrics, and
// the API's own document.
import Vapor

enum OperationsArea: PlatformArea {
    static func routes(_ app: Application) {
        app.get("healthz", use: HealthController.check)
        app.get("metrics", use: MetricsController.exposition)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "openapi.json", id: "getOpenAPIDocument", summary: "This document.", tag: "meta",
               response: .document, auth: false) { req in
            req.application.openAPIDocument
        }
    }
}
