// Invitation and reset links: issued for a person, used once before they expire, to set a password. Setting a
// password through a link also revokes the person's other open links.
import Fluent
import Foundation
import SQLKit
import Vapor

enum PasswordLinks {
    static let invitationLifetime: TimeInterval = 14 * 24 * 3600
    static let resetLifetime: TimeInterval = 24 * 3600
    static let minimumPasswordLength = 10

    /// A new link's path (`/set-password?token=…`); the secret exists only in the returned path.
    static func issue(for user: User, purpose: PasswordLink.Purpose, now: Date = Date(), on db: any Database) async throws -> String {
        let secret = TokenCodec.randomSecret()
        let lifetime = purpose == .invitation ? invitationLifetime : resetLifetime
        try await PasswordLink(userID: user.requireID(), purpose: purpose, secretHash: TokenCodec.hash(secret),
                               expiresAt: now.addingTimeInterval(lifetime)).create(on: db)
        return SitePath.setPassword.url + "?token=" + secret
    }

    /// The open link with this secret and its person, or nil (unknown, used, expired).
    static func find(_ secret: String, now: Date = Date(), on db: any Database) async throws -> PasswordLink? {
        guard !secret.isEmpty, secret.count <= 100,
              let link = try await PasswordLink.query(on: db).filter(\.$secretHash == TokenCodec.hash(secret)).with(\.$user).first(),
              link.usedAt == nil, link.expiresAt > now else { return nil }
        return link
    }

    /// Sets the password through the link; fails with a sentence when the password is not acceptable. The link is
    /// taken with one conditional UPDATE (`used_at IS NULL`, its row count checked), so of two concurrent uses one
    /// wins; the password change ends the person's other sessions and revokes their API tokens.
    static func use(_ secret: String, password: String, confirmation: String, hasher: AsyncPasswordHasher,
                    now: Date = Date(), on writes: Writes) async throws -> User {
        try check(password, confirmation: confirmation)
        guard let link = try await find(secret, now: now, on: writes.db) else {
            throw Abort(.gone, reason: "This link has expired or was already used. Ask your instructor or an administrator for a new one.")
        }
        if let provider = try await SignInOptions.passwordSignInOff(for: link.user.email, on: writes.db) {
            throw Abort(.forbidden, reason: "This email address signs in with \(provider), without a password here: use its button on the sign-in page.")
        }
        let hash = try await hasher.hash(password)
        return try await writes.transaction { db in
            let user = link.user, sql = try db.sqlDatabase()
            let taken = try await sql.raw("""
                UPDATE password_links SET used_at = \(bind: now) WHERE id = \(bind: link.requireID()) AND used_at IS NULL RETURNING id
                """).all()
            guard !taken.isEmpty else {
                throw Abort(.gone, reason: "This link has expired or was already used. Ask your instructor or an administrator for a new one.")
            }
            try await Credentials.passwordChanged(user, hash: hash, on: Writes(db: db, gate: nil), req: nil, now: now)
            try await PasswordLink.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$usedAt == nil).set(\.$usedAt, to: now).update()
            return user
        }
    }

    static func check(_ password: String, confirmation: String) throws {
        guard password == confirmation else { throw Abort(.badRequest, reason: "The two passwords are not the same.") }
        guard password.count >= minimumPasswordLength else {
            throw Abort(.badRequest, reason: "Choose a password of at least \(minimumPasswordLength) characters.")
        }
        guard password.count <= 200 else { throw Abort(.badRequest, reason: "Choose a password of at most 200 characters.") }
    }
}
