// Credits set aside for one use (a grading run, a model request, a batch job) until it is settled or voided.
import Fluent
import Foundation
import Ledger

final class LedgerHold: Model, @unchecked Sendable {
    static let schema = "ledger_holds"
    @ID(key: .id) var id: UUID?
    @Parent(key: "account_id") var account: LedgerAccount
    @Field(key: "amount") var amount: Int64
    @Field(key: "status") var status: HoldStatus
    @OptionalField(key: "settled_amount") var settledAmount: Int64?
    /// The client's key: the same key never holds twice (unique).
    @Field(key: "idempotency_key") var idempotencyKey: String
    @Field(key: "reason") var reason: String
    @OptionalField(key: "created_by") var createdBy: UUID?
    /// A person's hold (closed by them) or the platform's (closed only by the platform's code).
    @Field(key: "origin") var origin: HoldOrigin
    @Field(key: "expires_at") var expiresAt: Date
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @OptionalField(key: "closed_at") var closedAt: Date?
    @OptionalField(key: "closed_by") var closedBy: UUID?
    /// Why it was voided (e.g. "expired before it was settled"); the hold's reason otherwise.
    @OptionalField(key: "close_memo") var closeMemo: String?

    init() {}
}
