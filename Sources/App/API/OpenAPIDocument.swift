// The OpenAPI 3 document served at /api/v1/openapi.json. It is built from the operations that `APIRoutes`
// registered, so a route and its documentation are written in one place and cannot drift apart.
import Vapor

public struct APIOperation: Sendable {
    public var method: HTTPMethod
    /// Path below the server root, with `{name}` for parameters, e.g. `/api/v1/courses/{courseID}`.
    public var path: String
    public var operationID: String
    public var summary: String
    public var tag: String
    public var request: JSONSchema?
    /// The request body's media type: JSON unless a route takes multipart/form-data, a zip or CSV.
    public var requestType: String = "application/json"
    public var response: JSONSchema?
    public var responseStatus: Int = 200
    /// Other answers worth knowing about (status → description), e.g. 404 for someone else's id.
    public var errors: [Int: String] = [:]
    public var requiresAuth: Bool = true
}

struct OpenAPIDocument: Content {
    var openapi = "3.1.0"
    var info: [String: String]
    var paths: [String: [String: Operation]]
    var components: Components

    struct Operation: Content {
        var operationId: String
        var summary: String
        var tags: [String]
        var requestBody: Body?
        var responses: [String: Answer]
        var security: [[String: [String]]]?
        var parameters: [Parameter]?
    }
    struct Body: Content { var required = true; var content: [String: MediaType] }
    struct MediaType: Content { var schema: SchemaBox }
    struct Answer: Content { var description: String; var content: [String: MediaType]? }
    struct Parameter: Content { var name: String; var `in` = "path"; var required = true; var schema: SchemaBox }
    struct Components: Content {
        var schemas: [String: SchemaBox]
        var securitySchemes: [String: [String: String]]
    }
    /// Wraps the encode-only JSONSchema so the document can be Content (it is only ever encoded).
    struct SchemaBox: Content {
        let schema: JSONSchema
        init(_ schema: JSONSchema) { self.schema = schema }
        init(from decoder: any Decoder) throws { schema = .object([:], required: []) }
        func encode(to encoder: any Encoder) throws { try schema.encode(to: encoder) }
    }

    init(operations: [APIOperation], schemas: [String: JSONSchema], version: String) {
        info = ["title": "CampusCloud API", "version": version,
                "description": "Courses, credits, research projects and governed AI access for a university–industry programme."]
        var paths: [String: [String: Operation]] = [:]
        let errorSchema = ["application/json": MediaType(schema: SchemaBox(.ref("Error")))]
        for op in operations {
            var responses = [String(op.responseStatus): Answer(
                description: "Success",
                content: op.response.map { ["application/json": MediaType(schema: SchemaBox($0))] })]
            for (status, text) in op.errors { responses[String(status)] = Answer(description: text, content: errorSchema) }
            let parameters = op.path.split(separator: "/")
                .filter { $0.hasPrefix("{") && $0.hasSuffix("}") }
                .map { Parameter(name: String($0.dropFirst().dropLast()), schema: SchemaBox(.string(format: "uuid"))) }
            paths[op.path, default: [:]][op.method.rawValue.lowercased()] = Operation(
                operationId: op.operationID,
                summary: op.summary,
                tags: [op.tag],
                requestBody: op.request.map { Body(content: [op.requestType: MediaType(schema: SchemaBox($0))]) },
                responses: responses,
                security: op.requiresAuth ? [["bearer": []]] : [],
                parameters: parameters.isEmpty ? nil : parameters)
        }
        self.paths = paths
        components = Components(
            schemas: schemas.mapValues(SchemaBox.init),
            securitySchemes: ["bearer": ["type": "http", "scheme": "bearer"]])
    }
}
