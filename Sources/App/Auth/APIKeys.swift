// Issuing, finding, listing and revoking bearer credentials. Revocation takes effect on the next request: every
// request looks its key up.
import Fluent
import Foundation
import Vapor

enum APIKeys {
    static let sessionTokenLifetime: TimeInterval = 30 * 24 * 3600
    static let maxNameLength = 100

    /// Creates a key; the token is returned once and never stored.
    /// `origin`: where the credentials of the request that makes it came from (it carries the same).
    static func issue(to user: User, name: String, kind: APIKey.Kind, origin: Credentials.Origin, now: Date = Date(),
                      on db: any Database) async throws -> (token: String, key: APIKey) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= maxNameLength else {
            throw Abort(.badRequest, reason: "Give the key a name of 1 to \(maxNameLength) characters, e.g. \"laptop\" or \"grading script\".")
        }
        let (token, prefix, secretHash) = TokenCodec.generate()
        let key = APIKey(userID: try user.requireID(), name: trimmed, kind: kind, prefix: prefix, secretHash: secretHash,
                         expiresAt: kind == .session ? now.addingTimeInterval(sessionTokenLifetime) : nil)
        (key.ltiRegistrationID, key.madeWith) = (origin.lms, origin.method.rawValue)
        try await key.create(on: db)
        return (token, key)
    }

    /// The active user a token belongs to, or nil (unknown, wrong secret, revoked, expired, deactivated user).
    static func user(for token: String, now: Date = Date(), on db: any Database) async throws -> User? {
        try await key(for: token, now: now, on: db)?.user
    }

    /// The live key a token names, with its (active) user.
    static func key(for token: String, now: Date = Date(), on db: any Database) async throws -> APIKey? {
        guard let parts = TokenCodec.parse(token),
              let key = try await APIKey.query(on: db).filter(\.$prefix == parts.prefix).with(\.$user).first(),
              TokenCodec.matches(parts.secret, hash: key.secretHash),
              key.revokedAt == nil, (key.expiresAt ?? .distantFuture) > now, key.user.isActive else { return nil }
        // A 30-day token is what a password sign-in gives: it ends when passwords are switched off for the domain.
        if key.kind == .session, try await SignInOptions.passwordSignInOff(for: key.user, on: db) != nil { return nil }
        key.lastUsedAt = now
        try await key.save(on: db)
        return key
    }

    static func list(for user: User, on db: any Database) async throws -> [APIKey] {
        try await APIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$kind == .personal)
            .filter(\.$revokedAt == nil).sort(\.$createdAt, .descending).all()
    }

    /// Revokes one of `user`'s keys. Someone else's key, or an unknown id, answers 404: ids leak nothing.
    static func revoke(_ id: UUID, by user: User, now: Date = Date(), on db: any Database) async throws {
        guard let key = try await APIKey.find(id, on: db), key.revokedAt == nil else { throw Abort(.notFound) }
        try Policy.require(user, can: .manageKey(ownerID: key.$user.id))
        key.revokedAt = now
        try await key.save(on: db)
    }
}
