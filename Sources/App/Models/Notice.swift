// Something a person should know, shown on their dashboard until they mark it read (e.g. an allowance 80% used).
import Fluent
import Foundation

final class Notice: Model, @unchecked Sendable {
    static let schema = "notices"
    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "kind") var kind: String
    @Field(key: "message") var message: String
    /// A page that shows more (e.g. the course's credits).
    @OptionalField(key: "link") var link: String?
    /// For credit alerts: the account and the threshold (80 or 100) — one notice per person, account and threshold.
    @OptionalField(key: "account_id") var accountID: UUID?
    @OptionalField(key: "threshold") var threshold: Int?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "read_at") var readAt: Date?

    init() {}

    init(userID: UUID, kind: String, message: String, link: String?, accountID: UUID?, threshold: Int?, at time: Date) {
        self.$user.id = userID
        self.kind = kind
        self.message = message
        self.link = link
        self.accountID = accountID
        self.threshold = threshold
        createdAt = time
    }
}
