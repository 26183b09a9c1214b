// Registers JSON API routes together with their OpenAPI description. Every route under /api/v1 goes through
// here; a test fails if one does not (it compares the router's table with the document).
import Vapor

final class APIRoutes {
    private let builder: any RoutesBuilder
    private let prefix: [PathComponent]
    private(set) var operations: [APIOperation] = []
    /// Every body the document names, by name (the error body first).
    private(set) var bodies: [String: DocumentedBody] = [:]
    /// Every route's checked input, with its type's fields (for the contract test).
    private(set) var inputs: [DocumentedInput] = []

    private let signedIn: any RoutesBuilder

    /// What a 422 means on every route that reads an input.
    static let invalid = "The input has problems; error.problems lists each one. Nothing was changed."

    /// Every API request may carry a bearer token; routes declared with `auth: true` (the default) require one.
    init(_ builder: any RoutesBuilder, prefix: [PathComponent]) {
        self.builder = builder.grouped(prefix).grouped(BearerAuthenticator(), PathIDMiddleware())
        self.prefix = prefix
        signedIn = self.builder.grouped(User.guardMiddleware(throwing: Abort(.unauthorized,
            reason: "Sign in first: send Authorization: Bearer <token>. Get a token from POST /api/v1/auth/token or create a key on your profile page.")))
    }

    /// Registers a body and the bodies its schema refers to.
    func register(_ type: any APIBody.Type) {
        guard bodies[type.schemaName] == nil else { return }
        bodies[type.schemaName] = DocumentedBody(type)
        for part in type.parts { register(part) }
    }

    /// `path` is relative to the API prefix, with `:name` for parameters (Vapor's syntax). Besides `errors`, the
    /// document lists what every route of its kind may answer: 401 without a valid token, 404 for an id that is not
    /// there or not the caller's, 400 and 422 for an unreadable or unacceptable input.
    @discardableResult
    func on<R: AsyncResponseEncodable>(
        _ method: HTTPMethod, _ path: String, id: String, summary: String, tag: String,
        request: APIRequest? = nil, response: APIAnswer? = nil, status: Int = 200,
        errors: [Int: String] = [:], auth: Bool = true, body: HTTPBodyStreamStrategy = .collect,
        use handler: @escaping @Sendable (Request) async throws -> R
    ) -> Route {
        let components = path.pathComponents
        let documented = (prefix + components).map { component -> String in
            if case .parameter(let name) = component { return "{\(name)}" }
            return component.description
        }
        var answers = errors
        if auth { answers[401] = answers[401] ?? "No valid bearer token." }
        if components.contains(where: { if case .parameter = $0 { true } else { false } }) {
            answers[404] = answers[404] ?? "No such thing, or not yours."
        }
        let requestType = request?.mediaType ?? "application/json"
        if let input = request?.input { inputs.append(DocumentedInput(operation: id, type: input.name, fields: input.fields, schema: request!.schema)) }
        if request != nil {
            answers[400] = answers[400] ?? "The body could not be read (not \(requestType))."
            answers[415] = answers[415] ?? "The body is not \(requestType) (Content-Type)."
            answers[413] = answers[413] ?? "The body is over this route's size limit."
            answers[422] = answers[422] ?? Self.invalid
        }
        register(ErrorBody.self)
        if let body = response?.body { register(body) }
        operations.append(APIOperation(
            method: method, path: "/" + documented.joined(separator: "/"), operationID: id, summary: summary, tag: tag,
            request: request.map { $0.mediaType == "application/json" ? $0.schema.closed : $0.schema },
            requestType: requestType, response: response?.schema, responseStatus: status, errors: answers, requiresAuth: auth))
        let route = (auth ? signedIn : builder).on(method, components, body: body, use: handler)
        route.userInfo["operationID"] = id
        return route
    }

    func document(version: String) -> OpenAPIDocument {
        OpenAPIDocument(operations: operations, schemas: bodies.mapValues(\.schema), version: version)
    }
}

/// Every path parameter of the API is an id (a UUID): one that is not a UUID names nothing, so it answers 404 like
/// an id that is not there, before any handler runs.
struct PathIDMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let names: [String] = request.route?.path.compactMap { component -> String? in
            if case .parameter(let name) = component { return name }
            return nil
        } ?? []
        for name in names where request.parameters.get(name, as: UUID.self) == nil {
            throw Abort(.notFound, reason: "No such \(name.dropLast(2)): '\(request.parameters.get(name) ?? "")' is not an id.")
        }
        return try await next.respond(to: request)
    }
}

/// A route's input as documented, with the fields its input type reads.
struct DocumentedInput: Sendable {
    let operation: String
    let type: String
    let fields: [String]
    let schema: JSONSchema
}
