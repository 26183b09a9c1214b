import Testing
import Foundation
import Vapor
import VaporTesting
import Fluent
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

    /// Every body the API sends declares its schema next to its type; its samples, encoded as the platform encodes
    /// them, match that schema, every field they send is documented, and every documented field is sent by a sample.
    @Test func everyBodyTheAPISendsMatchesItsOwnSchema() async throws {
        try await withTestApp { app in
            let bodies = app.documentedBodies.sorted { $0.name < $1.name }
            #expect(bodies.count >= 35, "\(bodies.map(\.name))")
            var check = SchemaCheck(components: Dictionary(uniqueKeysWithValues: bodies.map { ($0.name, $0.schema) }))
            for body in bodies {
                let samples = try body.encodedSamples()
                #expect(!samples.isEmpty, "\(body.name) has no sample")
                for sample in samples {
                    let value = try JSONDecoder().decode(JSONValue.self, from: sample)
                    let problems = check.problems(value, .ref(body.name), at: body.name)
                    #expect(problems.isEmpty, "\(body.name): \(problems.joined(separator: "; "))\n\(String(decoding: sample, as: UTF8.self))")
                }
            }
            for body in bodies {
                for field in SchemaCheck.fields(of: body.schema, at: body.name) where !check.seen.contains(field) {
                    Issue.record("\(field) is documented but no sample of \(body.name) sends it")
                }
            }
        }
    }

    /// Every JSON body a route reads is an input type with its schema beside it, and the document names exactly
    /// that type's fields: a field added to an input and not documented (or documented and not read) fails here.
    @Test func everyInputIsDocumentedWithExactlyItsTypesFields() async throws {
        try await withTestApp { app in
            let inputs = Dictionary(uniqueKeysWithValues: app.documentedInputs.map { ($0.operation, $0) })
            #expect(inputs.count >= 35)
            for input in inputs.values {
                #expect(input.schema.propertyNames == Set(input.fields),
                        "\(input.operation) reads \(input.type) with fields \(input.fields.sorted()) but documents \(input.schema.propertyNames.sorted())")
            }
            let document = try JSONSerialization.jsonObject(with: JSONEncoder().encode(app.openAPIDocument)) as! [String: Any]
            for (path, operations) in document["paths"] as! [String: [String: [String: Any]]] {
                for (method, operation) in operations {
                    let content = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                    guard content?["application/json"] != nil, let id = operation["operationId"] as? String else { continue }
                    #expect(inputs[id] != nil, "\(method.uppercased()) \(path) reads JSON that no input type declares")
                }
            }
        }
    }

    /// The check above can fail: a field sent but undocumented, a missing required field, a wrong type, a value
    /// outside its enumeration, and a documented field no sample sends are each caught.
    @Test func theSchemaCheckCatchesWhatDrifts() throws {
        let schema = JSONSchema.object(["id": .string(format: "uuid"), "status": .string(enumValues: ["open"]), "count": .integer(), "note": .string()],
                                       required: ["id", "count"])
        var check = SchemaCheck(components: ["Thing": schema])
        func problems(_ json: String) throws -> [String] {
            check.problems(try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)), .ref("Thing"), at: "Thing")
        }
        #expect(try problems(#"{"id": "\#(UUID())", "count": 2, "status": "open"}"#).isEmpty)
        #expect(try problems(#"{"id": "\#(UUID())", "count": 2, "extra": 1}"#) == ["Thing.extra: sent but not documented"])
        #expect(try problems(#"{"id": "\#(UUID())"}"#) == ["Thing.count: required but missing"])
        #expect(try problems(#"{"id": "\#(UUID())", "count": 2.5}"#).count == 1)
        #expect(try problems(#"{"id": "\#(UUID())", "count": true}"#).count == 1)
        #expect(try problems(#"{"id": "x", "count": 2, "status": "shut"}"#).count == 2)
        #expect(SchemaCheck.fields(of: schema, at: "Thing").filter { !check.seen.contains($0) } == ["Thing.note"])
    }

    /// Every reference in the served document names a schema it holds.
    @Test func everyReferenceInTheDocumentResolves() async throws {
        try await withTestApp { app in
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            let text = String(decoding: try encoder.encode(app.openAPIDocument), as: UTF8.self)
            let document = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
            let schemas = (document["components"] as! [String: Any])["schemas"] as! [String: Any]
            let references = Set(text.components(separatedBy: "#/components/schemas/").dropFirst().map { String($0.prefix { $0 != "\"" }) })
            #expect(references.count >= 30)
            for name in references { #expect(schemas[name] != nil, "#/components/schemas/\(name) is referred to but not in the document") }
        }
    }

    @Test func aMethodThePathDoesNotHaveAnswers405WithAllow() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let token = try await app.bearer("student1@demo.test")
            for (method, path) in [(HTTPMethod.TRACE, "api/v1/me"), (.DELETE, "api/v1/courses"), (.PATCH, "api/v1/auth/token"), (.PUT, "v1/models")] {
                let response = try await app.testing().sendRequest(method, path, headers: token)
                #expect(response.status == .methodNotAllowed, "\(method) \(path): \(response.status)")
                #expect(response.headers.first(name: "Allow")?.isEmpty == false, "\(method) \(path)")
            }
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: token).headers.first(name: "Allow") == nil)
            // A path the API does not have is still 404; so is a handler's own 404 (someone else's course).
            #expect(try await app.testing().sendRequest(.GET, "api/v1/no-such-thing", headers: token).status == .notFound)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/courses/\(UUID())", headers: token).status == .notFound)
        }
    }

    @Test func myCoursesAreListedWithMyRoleAndPaged() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let student = try await app.testing().sendRequest(.GET, "api/v1/courses", headers: try await app.bearer("student20@demo.test"))
            #expect(student.status == .ok)
            let mine = try student.content.decode(Page<CourseDTO>.self)
            #expect(mine.items.map(\.code) == ["CS101", "CS340"] && mine.items.allSatisfy { $0.yourRole == "student" } && mine.metadata.total == 2)
            let paged = try await app.testing().sendRequest(.GET, "api/v1/courses?per=1&page=2", headers: try await app.bearer("student20@demo.test"))
            #expect(try paged.content.decode(Page<CourseDTO>.self).items.map(\.code) == ["CS340"])
            let instructor = try await app.testing().sendRequest(.GET, "api/v1/courses", headers: try await app.bearer("instructor@demo.test"))
            #expect(try instructor.content.decode(Page<CourseDTO>.self).items.allSatisfy { $0.yourRole == "instructor" })
            #expect(try await app.testing().sendRequest(.GET, "api/v1/courses").status == .unauthorized)
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
