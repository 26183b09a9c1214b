import Testing
import Foundation
import Vapor
import VaporTesting
@testable import App

@Suite struct OpenAPITests {
    @Test func documentIsOpenAPI3JSON() async throws {
        try await withTestApp { app in
            try await app.testing().test(.GET, "api/v1/openapi.json") { res async throws in
                #expect(res.status == .ok)
                let json = try JSONSerialization.jsonObject(with: Data(res.body.readableBytesView)) as? [String: Any]
                let version = json?["openapi"] as? String
                #expect(version?.hasPrefix("3.") == true)
                #expect((json?["paths"] as? [String: Any])?.isEmpty == false)
                #expect((json?["info"] as? [String: Any])?["title"] as? String == "CampusCloud API")
            }
        }
    }

    /// A route added under /api/v1 without going through `APIRoutes` has no documentation: this fails for it.
    @Test func everyAPIRouteIsInTheDocument() async throws {
        try await withTestApp { app in
            let document = try JSONSerialization.jsonObject(with: JSONEncoder().encode(app.openAPIDocument)) as! [String: Any]
            let paths = document["paths"] as! [String: [String: Any]]
            let apiRoutes = app.routes.all.filter { $0.path.count >= 2 && $0.path[0] == "api" && $0.path[1] == "v1" }
            #expect(!apiRoutes.isEmpty)
            for route in apiRoutes {
                let path = "/" + route.path.map { component -> String in
                    if case .parameter(let name) = component { return "{\(name)}" }
                    return component.description
                }.joined(separator: "/")
                let method = route.method.rawValue.lowercased()
                #expect(paths[path]?[method] != nil, "\(route.method) \(path) is missing from the OpenAPI document")
            }
        }
    }

    /// Uploads are described in their own media types: hand-ins and jobs as multipart with files, autograders as zips.
    @Test func uploadsAreDescribedInTheirMediaTypes() async throws {
        try await withTestApp { app in
            let document = try JSONSerialization.jsonObject(with: JSONEncoder().encode(app.openAPIDocument)) as! [String: Any]
            let paths = document["paths"] as! [String: [String: [String: Any]]]
            func content(_ path: String, _ method: String) -> [String: Any]? {
                (paths[path]?[method]?["requestBody"] as? [String: Any])?["content"] as? [String: Any]
            }
            let handIn = content("/api/v1/assignments/{assignmentID}/submissions", "post")?["multipart/form-data"] as? [String: Any]
            let files = ((handIn?["schema"] as? [String: Any])?["properties"] as? [String: Any])?["files"] as? [String: Any]
            #expect((files?["items"] as? [String: Any])?["format"] as? String == "binary")
            #expect(content("/api/v1/projects/{projectID}/jobs", "post")?["multipart/form-data"] != nil)
            #expect(content("/api/v1/assignments/{assignmentID}/autograder", "put")?["application/zip"] != nil)
            #expect(content("/api/v1/courses/{courseID}/roster", "post")?["text/csv"] != nil)
            #expect(content("/api/v1/auth/token", "post")?["application/json"] != nil)
        }
    }
}
