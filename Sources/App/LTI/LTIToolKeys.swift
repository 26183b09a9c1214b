// The tool's own signing keys (what an LMS verifies the tool's messages with, from /.well-known/jwks.json). The first
// is made when first needed. A rotation publishes the next key a day before it signs (LMSs cache key sets), and the
// key it replaces stays published for a day after; older ones are deleted. A key rotates by itself after 90 days; an
// administrator can rotate at once (admin page, `campuscloud admin rotate-lti-key`), or replace a key that must not
// sign any more (`--now`: the new key signs at once and the old one is no longer published). Private keys are kept
// sealed (AES-GCM, bound to their key id) under a key derived from the platform secret, so a copy of the database
// alone signs nothing; the public halves are kept as published, so every process publishes the same set.
import Crypto
import Fluent
import Foundation
import Identity
import Vapor

enum LTIToolKeys {
    static let notice: TimeInterval = 86_400
    static let overlap: TimeInterval = 86_400
    static let lifetime: TimeInterval = 90 * 86_400

    struct Published: Content, Equatable {
        var kid: String
        var activatesAt: Date
        /// "signing", "next" (published, signing from activatesAt) or "previous" (published for the overlap).
        var state: String
    }

    /// The key that signs now (made, or its successor published, as needed).
    static func signing(secret: String, on db: any Database, now: Date, logger: Logger) async throws -> ToolSigningKey {
        var keys = try await all(on: db)
        if let active = keys.first(where: { $0.activatesAt <= now }) {
            if let key = open(active, secret: secret) {
                if active.activatesAt.addingTimeInterval(lifetime) <= now, keys.first!.generation == active.generation {
                    try await prune(try await add(after: keys, activatingAt: now.addingTimeInterval(notice), secret: secret, on: db, now: now), on: db, now: now)
                    logger.info("LTI signing key \(active.kid) is 90 days old: its successor is published and signs from tomorrow")
                }
                return key
            }
            // The platform secret changed since it was sealed: a new key signs at once (LMSs fetch the key set again
            // when they meet a key id they do not know).
            logger.warning("LTI signing key \(active.kid) cannot be opened with this platform secret; a new one signs from now")
        }
        keys = try await add(after: keys, activatingAt: now, secret: secret, on: db, now: now)
        try await prune(keys, on: db, now: now)
        guard let row = keys.first(where: { $0.activatesAt <= now }), let key = open(row, secret: secret) else {
            throw Abort(.internalServerError, reason: "The tool's signing key could not be made.")
        }
        return key
    }

    /// Publishes a new key that signs a day from `now` — at once with `immediately`, the one it replaces no longer
    /// published — and deletes keys no longer published.
    static func rotate(secret: String, immediately: Bool = false, on db: any Database, now: Date) async throws -> [Published] {
        var keys = try await all(on: db)
        if immediately {
            // Only the new key stays: whatever signed or waited before is withdrawn.
            for row in keys { try await row.delete(on: db) }
            _ = try await add(after: keys, activatingAt: now, secret: secret, on: db, now: now)
            return try await published(on: db, now: now)
        }
        // Rotating again within a day replaces nothing: the next key is already waiting its day.
        if let next = keys.first, next.activatesAt > now { return try await published(on: db, now: now) }
        keys = try await add(after: keys, activatingAt: keys.isEmpty ? now : now.addingTimeInterval(notice), secret: secret, on: db, now: now)
        try await prune(keys, on: db, now: now)
        return try await published(on: db, now: now)
    }

    /// Deletes the keys no LMS can meet any more.
    private static func prune(_ keys: [LTIToolKey], on db: any Database, now: Date) async throws {
        for (row, state) in classify(keys, now: now) where state == nil { try await row.delete(on: db) }
    }

    /// The keys an LMS may meet now, newest first.
    static func published(on db: any Database, now: Date) async throws -> [Published] {
        classify(try await all(on: db), now: now).compactMap { row, state in
            state.map { Published(kid: row.kid, activatesAt: row.activatesAt, state: $0) }
        }
    }

    /// The key set: the public halves of the published keys.
    static func keySet(on db: any Database, now: Date) async throws -> [[String: String]] {
        classify(try await all(on: db), now: now).compactMap { row, state in
            state == nil ? nil : (try? JSONDecoder().decode([String: String].self, from: Data(row.publicJWK.utf8)))
        }
    }

    /// Each key's state now (newest activation first); nil for one no longer published.
    private static func classify(_ keys: [LTIToolKey], now: Date) -> [(LTIToolKey, String?)] {
        guard let active = keys.firstIndex(where: { $0.activatesAt <= now }) else { return keys.map { ($0, "next") } }
        return keys.enumerated().map { index, row in
            if index < active { return (row, "next") }
            if index == active { return (row, "signing") }
            if index == active + 1, keys[active].activatesAt.addingTimeInterval(overlap) > now { return (row, "previous") }
            return (row, nil)
        }
    }

    /// Newest activation first (a key made to sign at once comes before one that signed earlier).
    private static func all(on db: any Database) async throws -> [LTIToolKey] {
        try await LTIToolKey.query(on: db).sort(\.$activatesAt, .descending).sort(\.$generation, .descending).all()
    }

    /// A new generation after `keys`; when another process made the same generation at the same moment, theirs stands.
    private static func add(after keys: [LTIToolKey], activatingAt: Date, secret: String, on db: any Database, now: Date) async throws -> [LTIToolKey] {
        let key = try ToolSigningKey.generate()
        let row = LTIToolKey()
        row.generation = (keys.map(\.generation).max() ?? 0) + 1
        // Whole seconds: a database that keeps less than the clock's precision must not push a key a moment later.
        let activates = Date(timeIntervalSince1970: activatingAt.timeIntervalSince1970.rounded(.down))
        row.publicJWK = String(decoding: try JSONEncoder().encode(try key.publicJWK()), as: UTF8.self)
        (row.kid, row.sealedKey, row.activatesAt, row.createdAt) = (key.kid, try seal(key.pem, kid: key.kid, secret: secret), activates, now)
        do { try await row.create(on: db) } catch let error as any DatabaseError where error.isConstraintFailure {}
        return try await all(on: db)
    }

    static func sealingKey(_ secret: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)), info: Data("campuscloud lti tool key v1".utf8), outputByteCount: 32)
    }

    /// Sealed under the platform secret and bound to its key id (a sealed key moved to another row opens nothing).
    static func seal(_ pem: String, kid: String, secret: String) throws -> String {
        guard let combined = try AES.GCM.seal(Data(pem.utf8), using: sealingKey(secret), authenticating: Data(kid.utf8)).combined else {
            throw Abort(.internalServerError)
        }
        return combined.base64EncodedString()
    }

    static func open(_ row: LTIToolKey, secret: String) -> ToolSigningKey? {
        guard let data = Data(base64Encoded: row.sealedKey), let box = try? AES.GCM.SealedBox(combined: data),
              let plain = try? AES.GCM.open(box, using: sealingKey(secret), authenticating: Data(row.kid.utf8)),
              let pem = String(data: plain, encoding: .utf8) else { return nil }
        return try? ToolSigningKey(kid: row.kid, pem: pem)
    }
}
