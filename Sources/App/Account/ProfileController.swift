// A person's own profile: personal API keys (created, listed by prefix, revoked), on the page and in the API.
import Fluent
import Vapor

struct APIKeyDTO: Content {
    var id: UUID
    var name: String
    var prefix: String
    var createdAt: Date?
    var lastUsedAt: Date?

    init(_ key: APIKey) throws {
        id = try key.requireID()
        name = key.name
        prefix = "cc_" + key.prefix
        createdAt = key.createdAt
        lastUsedAt = key.lastUsedAt
    }
}

struct MeDTO: Content {
    var id: UUID
    var email: String
    var name: String
    var isAdmin: Bool
    var memberships: MembershipsDTO
}

extension MembershipsDTO.Place: APIBody {
    static let schemaName = "Place"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "role": .string()], required: ["id", "name", "role"])
    static let samples = [Self(id: Sample.id, name: "CS101 Programming", role: "student")]
}

extension MeDTO: APIBody {
    static let schemaName = "Me"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "email": .string(), "name": .string(), "isAdmin": .boolean,
        "memberships": .object(["programmes": .array(.ref(MembershipsDTO.Place.self)), "courses": .array(.ref(MembershipsDTO.Place.self)),
                                "projects": .array(.ref(MembershipsDTO.Place.self))], required: ["programmes", "courses", "projects"]),
    ], required: ["id", "email", "name", "isAdmin", "memberships"])
    static var parts: [any APIBody.Type] { [MembershipsDTO.Place.self] }
    static let samples = [MeDTO(id: Sample.id, email: "ada@uni.test", name: "Ada", isAdmin: false,
                                memberships: MembershipsDTO(programmes: MembershipsDTO.Place.samples, courses: MembershipsDTO.Place.samples,
                                                            projects: MembershipsDTO.Place.samples))]
}

struct NewAPIKeyDTO: Content {
    /// Shown once; only its hash is kept.
    var token: String
    var key: APIKeyDTO
}

extension APIKeyDTO: APIBody {
    static let schemaName = "APIKey"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "prefix": .string(),
                                           "createdAt": .string(format: "date-time"), "lastUsedAt": .string(format: "date-time")],
                                          required: ["id", "name", "prefix"])
    static var samples: [APIKeyDTO] {
        let key = APIKey(userID: Sample.id, name: "laptop", kind: .personal, prefix: "abcdef", secretHash: "", expiresAt: nil)
        key.id = Sample.id
        key.createdAt = Sample.date
        key.lastUsedAt = Sample.date
        return [try! APIKeyDTO(key)]
    }
}

extension NewAPIKeyDTO: APIBody {
    static let schemaName = "NewAPIKey"
    static let schema = JSONSchema.object(["token": .string(), "key": .ref(APIKeyDTO.self)], required: ["token", "key"])
    static var parts: [any APIBody.Type] { [APIKeyDTO.self] }
    static var samples: [NewAPIKeyDTO] { [NewAPIKeyDTO(token: "cc_abcdef.secret", key: APIKeyDTO.samples[0])] }
}

enum ProfileController {
    struct NewKey: APIInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case name }
        typealias Fields = CodingKeys
        var name: String
        static let schema = JSONSchema.object(["name": .text(max: APIKeys.maxNameLength)], required: ["name"])
    }

    @Sendable static func page(req: Request) async throws -> View {
        try await render(req, newToken: nil, newKeyName: nil)
    }

    @Sendable static func createKeyFromForm(req: Request) async throws -> View {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let (token, key) = try await APIKeys.issue(to: user, name: try req.input(NewKey.self).name, kind: .personal, origin: req.credentialOrigin, on: req.db)
        return try await render(req, newToken: token, newKeyName: key.name)
    }

    @Sendable static func revokeKeyFromForm(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        try await APIKeys.revoke(try req.parameters.require("keyID", as: UUID.self), by: user, on: req.db)
        return req.redirect(to: .profile)
    }

    /// GET /api/v1/me: the signed-in person and every place they have a role.
    @Sendable static func me(req: Request) async throws -> MeDTO {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        return MeDTO(id: try user.requireID(), email: user.email, name: user.displayName, isAdmin: user.isAdmin,
                     memberships: try await MembershipsDTO.of(user, on: req.db))
    }

    @Sendable static func listKeys(req: Request) async throws -> [APIKeyDTO] {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        return try await APIKeys.list(for: user, on: req.db).map(APIKeyDTO.init)
    }

    @Sendable static func createKey(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let (token, key) = try await APIKeys.issue(to: user, name: try req.input(NewKey.self).name, kind: .personal, origin: req.credentialOrigin, on: req.db)
        return try await NewAPIKeyDTO(token: token, key: APIKeyDTO(key)).encodeResponse(status: .created, for: req)
    }

    @Sendable static func revokeKey(req: Request) async throws -> HTTPStatus {
        let user = try req.auth.require(User.self)
        try await APIKeys.revoke(try req.parameters.require("keyID", as: UUID.self), by: user, on: req.db)
        return .noContent
    }

    private static func render(_ req: Request, newToken: String?, newKeyName: String?) async throws -> View {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let keys = try await APIKeys.list(for: user, on: req.db).map { ProfilePage.KeyRow(try APIKeyDTO($0)) }
        return try await req.view.render("profile", ProfilePage(page: PageContext(req), name: user.displayName, email: user.email,
                                                                keys: keys, newToken: newToken, newKeyName: newKeyName,
                                                                changed: req.query[String.self, at: "changed"] != nil))
    }
}
