// People's AI gateway keys, per course or research project: shown once, stored hashed, at most 20 live per person.
import Fluent
import Foundation
import Gateway
import Ledger
import Vapor

struct AIKeyInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name }
    typealias Fields = CodingKeys
    var name: String?
}

extension AIKeyInput: APIInput {
    static let schema = JSONSchema.object(["name": .text(max: 100)], required: ["name"])
}

struct AIKeyDTO: Content {
    var id: UUID
    var name: String
    var courseID: UUID?
    var projectID: UUID?
    /// The start of the token, to recognise it (cc_<prefix>_…).
    var prefix: String
    var createdAt: Date?
    var lastUsedAt: Date?
    /// Only in the answer that created it.
    var token: String?
}

extension AIKeyDTO: APIBody {
    static let schemaName = "AIKey"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "courseID": .string(format: "uuid"),
                                           "projectID": .string(format: "uuid"), "prefix": .string(), "createdAt": .string(format: "date-time"),
                                           "lastUsedAt": .string(format: "date-time"), "token": .string()], required: ["id", "name", "prefix"])
    static let samples = [AIKeyDTO(id: Sample.id, name: "homework", courseID: Sample.id, projectID: Sample.id, prefix: "cc_ab12cd", createdAt: Sample.date,
                                   lastUsedAt: Sample.date, token: "cc_ab12cd_secret")]
}

enum AIKeys {
    /// `origin`: where the credentials of the request that makes it came from (it carries the same).
    static func issue(to user: User, in course: Course, name: String?, origin: Credentials.Origin, on db: any Database) async throws -> AIKeyDTO {
        try await issue(to: user, courseID: try course.requireID(), projectID: nil, name: name, origin: origin, on: db)
    }

    /// A key for a research project: requests are paid from the member's allowance in the project (default policy).
    static func issue(to user: User, in project: ResearchProject, name: String?, origin: Credentials.Origin, on db: any Database) async throws -> AIKeyDTO {
        try await issue(to: user, courseID: nil, projectID: try project.requireID(), name: name, origin: origin, on: db)
    }

    private static func issue(to user: User, courseID: UUID?, projectID: UUID?, name: String?, origin: Credentials.Origin, on db: any Database) async throws -> AIKeyDTO {
        var checks = InputChecks()
        let label = checks.text(name, "name", max: 100)
        try checks.finish()
        let live = try await AIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$revokedAt == nil).count()
        guard live < 20 else { throw InputRejection.conflict("You have 20 live AI keys; revoke one first.") }
        let (token, prefix, hash) = TokenCodec.generate()
        let key = AIKey(userID: try user.requireID(), courseID: courseID, projectID: projectID, name: label!, prefix: prefix, secretHash: hash)
        (key.ltiRegistrationID, key.madeWith) = (origin.lms, origin.method.rawValue)
        try await key.create(on: db)
        var dto = try dto(key)
        dto.token = token
        return dto
    }

    static func list(of user: User, in project: ResearchProject, on db: any Database) async throws -> [AIKeyDTO] {
        try await AIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$project.$id == project.requireID())
            .filter(\.$revokedAt == nil).sort(\.$createdAt).all().map(dto)
    }

    static func dto(_ key: AIKey) throws -> AIKeyDTO {
        AIKeyDTO(id: try key.requireID(), name: key.name, courseID: key.$course.id, projectID: key.$project.id, prefix: "cc_\(key.prefix)_", createdAt: key.createdAt,
                 lastUsedAt: key.lastUsedAt, token: nil)
    }

    static func list(of user: User, in course: Course, on db: any Database) async throws -> [AIKeyDTO] {
        try await AIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$course.$id == course.requireID())
            .filter(\.$revokedAt == nil).sort(\.$createdAt).all().map(dto)
    }

    /// Revokes one of `user`'s keys (at once in this process); anyone else's (or an unknown id) is 404.
    @discardableResult
    static func revoke(_ id: UUID, by user: User, app: Application, on db: any Database) async throws -> AIKey {
        guard let key = try await AIKey.find(id, on: db), key.revokedAt == nil else { throw Abort(.notFound) }
        try Policy.require(user, can: .manageKey(ownerID: key.$user.id))
        key.revokedAt = Date()
        try await key.save(on: db)
        app.gatewayCache.forgetAll()
        return key
    }
}
