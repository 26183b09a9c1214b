// Registers JSON API routes together with their OpenAPI description. Every route under /api/v1 goes through
// here; a test fails if one does not (it compares the router's table with the document).
import Vapor

final class APIRoutes {
    private let builder: any RoutesBuilder
    private let prefix: [PathComponent]
    private(set) var operations: [APIOperation] = []
    private(set) var schemas: [String: JSONSchema] = APIRoutes.sharedSchemas

    private let signedIn: any RoutesBuilder

    /// Every API request may carry a bearer token; routes declared with `auth: true` (the default) require one.
    init(_ builder: any RoutesBuilder, prefix: [PathComponent]) {
        self.builder = builder.grouped(prefix).grouped(BearerAuthenticator())
        self.prefix = prefix
        signedIn = self.builder.grouped(User.guardMiddleware(throwing: Abort(.unauthorized,
            reason: "Sign in first: send Authorization: Bearer <token>. Get a token from POST /api/v1/auth/token or create a key on your profile page.")))
    }

    static let sharedSchemas: [String: JSONSchema] = [
        "Error": .object([
            "error": .object(["message": .string(), "type": .string(), "code": .string()], required: ["message", "type"]),
        ], required: ["error"]),
    ]

    func schema(_ name: String, _ schema: JSONSchema) { schemas[name] = schema }

    /// `path` is relative to the API prefix, with `:name` for parameters (Vapor's syntax).
    @discardableResult
    func on<R: AsyncResponseEncodable>(
        _ method: HTTPMethod, _ path: String, id: String, summary: String, tag: String,
        request: JSONSchema? = nil, requestType: String = "application/json", response: JSONSchema? = nil, status: Int = 200,
        errors: [Int: String] = [:], auth: Bool = true, body: HTTPBodyStreamStrategy = .collect,
        use handler: @escaping @Sendable (Request) async throws -> R
    ) -> Route {
        let components = path.pathComponents
        let documented = (prefix + components).map { component -> String in
            if case .parameter(let name) = component { return "{\(name)}" }
            return component.description
        }
        operations.append(APIOperation(
            method: method, path: "/" + documented.joined(separator: "/"), operationID: id, summary: summary, tag: tag,
            request: request, requestType: requestType, response: response, responseStatus: status, errors: errors, requiresAuth: auth))
        return (auth ? signedIn : builder).on(method, components, body: body, use: handler)
    }

    func document(version: String) -> OpenAPIDocument {
        OpenAPIDocument(operations: operations, schemas: schemas, version: version)
    }
}
