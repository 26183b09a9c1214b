// One unit of background work (grading a submission, a research batch job) in the durable queue.
import Fluent
import Foundation

enum QueuedJobStatus: String, Codable, Sendable { case queued, running, done, failed }

final class QueuedJob: Model, @unchecked Sendable {
    static let schema = "jobs"
    @ID(key: .id) var id: UUID?
    @Field(key: "kind") var kind: String
    /// What the handler needs (JSON text), e.g. the submission's id.
    @Field(key: "payload") var payload: String
    @Field(key: "status") var status: QueuedJobStatus
    @Field(key: "attempts") var attempts: Int
    @Field(key: "max_attempts") var maxAttempts: Int
    @Field(key: "run_after") var runAfter: Date
    @OptionalField(key: "lease_owner") var leaseOwner: String?
    @OptionalField(key: "lease_expires_at") var leaseExpiresAt: Date?
    @OptionalField(key: "result") var result: String?
    @OptionalField(key: "error") var error: String?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "started_at") var startedAt: Date?
    @OptionalField(key: "finished_at") var finishedAt: Date?

    init() {}
}
