// A research project's audit trail (every status change: from, to, who, when, why) and its allocation requests
// (credits asked for, the programme manager's decision, and what was moved).
import Fluent
import Foundation

final class ProjectStatusChange: Model, @unchecked Sendable {
    static let schema = "project_status_changes"
    @ID(key: .id) var id: UUID?
    @Parent(key: "project_id") var project: ResearchProject
    @Field(key: "from_status") var from: String
    @Field(key: "to_status") var to: String
    @Parent(key: "changed_by") var changedBy: User
    @Field(key: "comment") var comment: String
    @Field(key: "changed_at") var changedAt: Date

    init() {}
    init(projectID: UUID, from: String, to: String, by userID: UUID, comment: String, at: Date) {
        self.$project.id = projectID
        self.from = from
        self.to = to
        self.$changedBy.id = userID
        self.comment = comment
        self.changedAt = at
    }
}

enum AllocationRequestStatus: String, Codable, Sendable, CaseIterable { case pending, approved, partial, denied }
enum AllocationRequestKind: String, Codable, Sendable, CaseIterable { case initial, renewal, supplement }

final class AllocationRequest: Model, @unchecked Sendable {
    static let schema = "allocation_requests"
    @ID(key: .id) var id: UUID?
    @Parent(key: "project_id") var project: ResearchProject
    @Parent(key: "requested_by") var requestedBy: User
    @Field(key: "kind") var kind: AllocationRequestKind
    /// The request this one renews or supplements.
    @OptionalParent(key: "follows_id") var follows: AllocationRequest?
    /// Micro-credits asked for.
    @Field(key: "amount") var amount: Int64
    @Field(key: "period_end") var periodEnd: Date
    @Field(key: "justification") var justification: String
    /// What the credits are for: compute, ai (comma-separated).
    @Field(key: "meters") var meters: String
    @Field(key: "status") var status: AllocationRequestStatus
    @OptionalParent(key: "decided_by") var decidedBy: User?
    @OptionalField(key: "decided_at") var decidedAt: Date?
    @OptionalField(key: "approved_amount") var approvedAmount: Int64?
    @OptionalField(key: "decision_comment") var decisionComment: String?
    @Field(key: "created_at") var createdAt: Date

    init() {}
}
