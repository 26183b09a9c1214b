// A one-time link to set a password: an invitation (new people from a roster, or created by an admin) or a reset
// (printed by `campuscloud admin reset-link`). Only a hash of the link's secret is stored.
import Fluent
import Foundation

final class PasswordLink: Model, @unchecked Sendable {
    static let schema = "password_links"

    enum Purpose: String, Codable, Sendable { case invitation, reset }

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "purpose") var purpose: Purpose
    @Field(key: "secret_hash") var secretHash: String
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(userID: UUID, purpose: Purpose, secretHash: String, expiresAt: Date) {
        self.$user.id = userID
        self.purpose = purpose
        self.secretHash = secretHash
        self.expiresAt = expiresAt
    }
}
