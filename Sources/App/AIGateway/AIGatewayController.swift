// The OpenAI-compatible endpoint (/v1: chat completions, embeddings, models) and the gateway's management API:
// providers and models (admins), keys (each person, per course), policy (instructors), usage (staff; one's own).
// Decode → authorise → call AIGateway / AICatalogue, AIKeys, AIPolicies, AIUsageReports → encode.
import Fluent
import Foundation
import Gateway
import Vapor

enum AIGatewayController {
    // MARK: /v1 (authenticated by a gateway key, answers in OpenAI's formats)

    @Sendable static func chatCompletions(req: Request) async throws -> Response { try await serve(.chat, req) }
    @Sendable static func embeddings(req: Request) async throws -> Response { try await serve(.embeddings, req) }

    private static func serve(_ endpoint: Endpoint, _ req: Request) async throws -> Response {
        let started = ContinuousClock.now
        let caller: GatewayCaller
        do { caller = try await AIGateway.caller(token: req.headers.bearerAuthorization?.token, app: req.application) } catch let error as GatewayError {
            return AIGateway.errorResponse(error)
        }
        guard isJSON(req.headers.first(name: .contentType)) else {
            return AIGateway.errorResponse(.invalid("Send the request as application/json.", param: nil))
        }
        let body = req.body.data.map { Data(buffer: $0) } ?? Data()
        return try await AIGateway.handle(endpoint, body: body, caller: caller, app: req.application, started: started)
    }

    /// No content type, or application/json with any parameters (read from the header as it is: parsing it into a
    /// media type was a measurable share of a model request's time).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return true }
        var type = contentType.utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        while type.first == UInt8(ascii: " ") || type.first == UInt8(ascii: "\t") { type = type.dropFirst() }
        while type.last == UInt8(ascii: " ") || type.last == UInt8(ascii: "\t") { type = type.dropLast() }
        let json = "application/json".utf8
        // ASCII letters compared without case.
        return type.count == json.count && zip(type, json).allSatisfy { ((65...90).contains($0) ? $0 + 32 : $0) == $1 }
    }

    /// GET /v1/models: only the models this key may use.
    @Sendable static func models(req: Request) async throws -> Response {
        let caller: GatewayCaller
        do { caller = try await AIGateway.caller(token: req.headers.bearerAuthorization?.token, app: req.application) } catch let error as GatewayError {
            return AIGateway.errorResponse(error)
        }
        let models = try await AIGateway.models(for: caller, on: req.db).map {
            ModelDTO(id: $0.name, created: Int(($0.createdAt ?? Date()).timeIntervalSince1970), owned_by: "campuscloud")
        }
        struct List: Content { var object = "list"; var data: [ModelDTO] }
        return try await List(data: models).encodeResponse(for: req)
    }

    // MARK: Catalogue (admins)

    @Sendable static func providers(req: Request) async throws -> [ProviderDTO] {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await AIProvider.query(on: req.db).sort(\.$name).all().map(AICatalogue.providerDTO)
    }

    @Sendable static func addProvider(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let provider = try await AICatalogue.addProvider(try req.input(ProviderInput.self), app: req.application, on: req.db)
        return try await AICatalogue.providerDTO(provider).encodeResponse(status: .created, for: req)
    }

    @Sendable static func catalogue(req: Request) async throws -> [CatalogueModelDTO] {
        _ = try req.auth.require(User.self)
        return try await AICatalogue.catalogue(at: req.now, on: req.db)
    }

    @Sendable static func addModel(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let model = try await AICatalogue.addModel(try req.input(ModelInput.self), app: req.application, on: req.db)
        guard let entry = try await AICatalogue.catalogue(at: req.now, on: req.db).first(where: { $0.id == model.id }) else { throw Abort(.internalServerError) }
        return try await entry.encodeResponse(status: .created, for: req)
    }

    // MARK: Keys (each person, for a course they belong to)

    @Sendable static func keys(req: Request) async throws -> [AIKeyDTO] {
        let (course, user, _) = try await req.course(for: Policy.Action.useAI)
        return try await AIKeys.list(of: user, in: course, on: req.db)
    }

    @Sendable static func createKey(req: Request) async throws -> Response {
        let (course, user, _) = try await req.course(for: Policy.Action.useAI)
        return try await AIKeys.issue(to: user, in: course, name: try req.input(AIKeyInput.self).name, origin: req.credentialOrigin, on: req.db).encodeResponse(status: .created, for: req)
    }

    @Sendable static func projectKeys(req: Request) async throws -> [AIKeyDTO] {
        let (project, user, _) = try await req.project(for: Policy.Action.useAIInProject)
        return try await AIKeys.list(of: user, in: project, on: req.db)
    }

    @Sendable static func createProjectKey(req: Request) async throws -> Response {
        let (project, user, _) = try await req.project(for: Policy.Action.useAIInProject)
        return try await AIKeys.issue(to: user, in: project, name: try req.input(AIKeyInput.self).name, origin: req.credentialOrigin, on: req.db).encodeResponse(status: .created, for: req)
    }

    @Sendable static func revokeKey(req: Request) async throws -> HTTPStatus {
        guard let id = req.parameters.get("keyID", as: UUID.self) else { throw Abort(.notFound) }
        try await AIKeys.revoke(id, by: try req.auth.require(User.self), app: req.application, on: req.db)
        return .noContent
    }

    // MARK: Policy and usage

    @Sendable static func policy(req: Request) async throws -> GatewayPolicy {
        let (course, _, _) = try await req.course(for: Policy.Action.viewCourse)
        return try await AIPolicies.editablePolicy(of: try course.requireID(), on: req.db)
    }

    @Sendable static func setPolicy(req: Request) async throws -> GatewayPolicy {
        let (course, user, _) = try await req.course(for: Policy.Action.setAIPolicy)
        return try await AIPolicies.update(course, try req.input(AIPolicyInput.self), by: user, app: req.application, on: req.db)
    }

    @Sendable static func usage(req: Request) async throws -> AIUsageReport {
        let (course, _, _) = try await req.course(for: Policy.Action.viewAIUsage)
        return try await AIUsageReports.course(course, since: try since(req), on: req.db)
    }

    @Sendable static func myUsage(req: Request) async throws -> AIUsageReport.Line {
        let (course, user, _) = try await req.course(for: Policy.Action.useAI)
        return try await AIUsageReports.mine(user, in: course, since: try since(req), on: req.db)
    }

    /// ?since=YYYY-MM-DD (default: the last 30 days).
    static func since(_ req: Request) throws -> Date {
        guard let text = req.query[String.self, at: "since"] else { return req.now.addingTimeInterval(-30 * 86_400) }
        var checks = InputChecks()
        let date = checks.date(text, "since")
        try checks.finish()
        return date!
    }
}

extension GatewayPolicy: Content {}
