// The journal: every movement of credits, in order. A transfer names both accounts; a hold's steps (reserve,
// settle, release, void) name the account whose free, held and spent credits they move between.
import Fluent
import Foundation

enum LedgerEntryKind: String, Codable, Sendable, CaseIterable {
    case grant, allocate, `return`, expire, reserve, settle, release, void
    /// A use charged from free credits because its hold could not cover it (closed before its settle, or smaller).
    case charge
    /// The part of such a use that the free credits could not cover either: owed, shown to staff.
    case debt
}

final class LedgerEntry: Model, @unchecked Sendable {
    static let schema = "ledger_entries"
    @ID(key: .id) var id: UUID?
    @Field(key: "programme_id") var programmeID: UUID
    @Field(key: "kind") var kind: LedgerEntryKind
    @OptionalField(key: "from_account_id") var fromAccountID: UUID?
    @OptionalField(key: "to_account_id") var toAccountID: UUID?
    @Field(key: "amount") var amount: Int64
    @OptionalField(key: "hold_id") var holdID: UUID?
    @OptionalField(key: "idempotency_key") var idempotencyKey: String?
    @Field(key: "memo") var memo: String
    @OptionalField(key: "actor_id") var actorID: UUID?
    @Field(key: "created_at") var createdAt: Date

    init() {}

    init(programmeID: UUID, kind: LedgerEntryKind, from: UUID?, to: UUID?, amount: Int64, holdID: UUID? = nil,
         key: String? = nil, memo: String, actorID: UUID?, at time: Date) {
        self.programmeID = programmeID
        self.kind = kind
        fromAccountID = from
        toAccountID = to
        self.amount = amount
        self.holdID = holdID
        idempotencyKey = key
        self.memo = memo
        self.actorID = actorID
        createdAt = time
    }
}
