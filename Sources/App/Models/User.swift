// A person who signs in: student, instructor, researcher, partner staff, manager or admin. Roles live in memberships.
import Fluent
import Foundation
import Insight

final class User: Model, @unchecked Sendable {
    static let schema = "users"

    @ID(key: .id) var id: UUID?
    /// Always stored lower-cased; unique.
    @Field(key: "email") var email: String
    @Field(key: "display_name") var displayName: String { didSet { sortKey = NaturalOrder.sortKey(displayName) } }
    /// `NaturalOrder.sortKey` of the name, kept with it, so lists of people page in the order they are read.
    @Field(key: "sort_key") var sortKey: String
    /// Bcrypt hash; nil until the person sets a password through an invitation or reset link.
    @OptionalField(key: "password_hash") var passwordHash: String?
    @Field(key: "is_admin") var isAdmin: Bool
    @Field(key: "is_active") var isActive: Bool
    /// When the password last changed (set, reset or changed): sessions begun before it are over.
    @OptionalField(key: "credentials_changed_at") var credentialsChangedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(id: UUID? = nil, email: String, displayName: String, passwordHash: String?, isAdmin: Bool = false, isActive: Bool = true) {
        self.id = id
        self.email = User.normalise(email: email)
        self.displayName = displayName
        self.sortKey = NaturalOrder.sortKey(displayName)
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
        self.isActive = isActive
    }

    static func normalise(email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}
