// A bearer credential: a personal API key a person named, or a token from POST /api/v1/auth/token. Only a hash of
// the secret is stored; the prefix (shown in lists) finds the row.
import Fluent
import Foundation

final class APIKey: Model, @unchecked Sendable {
    static let schema = "api_keys"

    enum Kind: String, Codable, Sendable { case personal, session }

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "name") var name: String
    @Field(key: "kind") var kind: Kind
    /// Public part of the token (cc_<prefix>_<secret>); unique.
    @Field(key: "prefix") var prefix: String
    /// SHA-256 of the secret part, hex.
    @Field(key: "secret_hash") var secretHash: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @OptionalField(key: "last_used_at") var lastUsedAt: Date?
    @OptionalField(key: "expires_at") var expiresAt: Date?
    @OptionalField(key: "revoked_at") var revokedAt: Date?
    /// The LMS whose launch began the session it was made in (revoked when that LMS is switched off).
    @OptionalField(key: "lti_registration_id") var ltiRegistrationID: UUID?
    /// How the session (or key) it was made with began: password, provider or lms (revoked, when password, if
    /// passwords are switched off for the person's domain).
    @OptionalField(key: "made_with") var madeWith: String?

    init() {}

    init(userID: UUID, name: String, kind: Kind, prefix: String, secretHash: String, expiresAt: Date?) {
        self.$user.id = userID
        self.name = name
        self.kind = kind
        self.prefix = prefix
        self.secretHash = secretHash
        self.expiresAt = expiresAt
    }
}
