// Every route of the platform, in one place: pages, operational endpoints, and the JSON API under /api/v1.
import Vapor

public enum PlatformVersion {
    public static let current = "0.1.0"
}

func routes(_ app: Application) throws {
    // Operations: probes and metrics for the people who run the platform.
    app.get("healthz", use: HealthController.check)
    app.get("metrics", use: MetricsController.exposition)

    // Pages.
    app.get(use: PageController.landing)

    // JSON API: each route is declared with its OpenAPI description.
    let api = APIRoutes(app.routes, prefix: ["api", "v1"])
    api.on(.GET, "openapi.json", id: "getOpenAPIDocument", summary: "This document.", tag: "meta",
           response: .object([:], required: []), auth: false) { req in
        req.application.openAPIDocument
    }

    app.openAPIDocument = api.document(version: PlatformVersion.current)
}

extension Application {
    private struct OpenAPIKey: StorageKey { typealias Value = OpenAPIDocument }
    var openAPIDocument: OpenAPIDocument {
        get { storage[OpenAPIKey.self]! }
        set { storage[OpenAPIKey.self] = newValue }
    }
}
