// One account of the credits ledger: the partner's external account, a programme's pool, a course's or project's
// allocation, or one person's allowance in a course or project. Amounts are micro-credits (see the Ledger module).
import Fluent
import Foundation
import Ledger

final class LedgerAccount: Model, @unchecked Sendable {
    static let schema = "ledger_accounts"
    @ID(key: .id) var id: UUID?
    @Parent(key: "programme_id") var programme: Programme
    @Field(key: "kind") var kind: AccountKind
    @OptionalParent(key: "parent_id") var parent: LedgerAccount?
    /// One account per place and person: "pool:<programme>", "course:<course>", "allowance:course:<course>:<user>".
    @Field(key: "natural_key") var naturalKey: String
    @OptionalField(key: "course_id") var courseID: UUID?
    @OptionalField(key: "project_id") var projectID: UUID?
    @OptionalField(key: "user_id") var userID: UUID?
    /// How people read it in a sentence: "the CS101 allocation", "Ada Lovelace's allowance in CS101".
    @Field(key: "label") var label: String
    @Field(key: "balance") var balance: Int64
    @Field(key: "held") var held: Int64
    @Field(key: "spent") var spent: Int64
    /// Usage the platform could not charge (its hold was gone and the free credits did not cover it): owed.
    @Field(key: "debt") var debt: Int64
    /// For course and project allocations: what each member's allowance starts with (nil: no allowance until set).
    @OptionalField(key: "default_allowance") var defaultAllowance: Int64?
    @OptionalField(key: "expires_at") var expiresAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(programmeID: UUID, kind: AccountKind, parentID: UUID?, naturalKey: String, label: String,
         courseID: UUID? = nil, projectID: UUID? = nil, userID: UUID? = nil) {
        self.$programme.id = programmeID
        self.kind = kind
        self.$parent.id = parentID
        self.naturalKey = naturalKey
        self.label = label
        self.courseID = courseID
        self.projectID = projectID
        self.userID = userID
        balance = 0
        held = 0
        spent = 0
        debt = 0
    }
}
