import Fluent
import Foundation

enum LabSessionStatus: String, Codable, Sendable, CaseIterable {
    case running, stopped, failed
}

/// One person's session of a lab environment: where it runs, what it has held and been charged, and how it ended.
/// At most one running session per person per lab (a partial unique index where the database has them; the
/// start checks it in its write transaction everywhere).
final class LabSession: Model, @unchecked Sendable {
    static let schema = "lab_sessions"
    @ID(key: .id) var id: UUID?
    @Parent(key: "lab_id") var lab: LabEnvironment
    @Parent(key: "user_id") var user: User
    @Field(key: "status") var status: LabSessionStatus
    /// The lab host (a `serve` or `worker` process) running it.
    @Field(key: "host") var host: String
    /// The open hold paying for the time from `heldFrom` for `heldSeconds`; nil when lab time is free.
    @OptionalField(key: "hold_id") var holdID: UUID?
    @Field(key: "held_from") var heldFrom: Date
    @Field(key: "held_seconds") var heldSeconds: Int
    /// How many holds it has had (each hold's idempotency key counts them).
    @Field(key: "holds") var holds: Int
    /// Micro-credits settled so far.
    @Field(key: "charged") var charged: Int64
    @Field(key: "started_at") var startedAt: Date
    /// When the longest-session limit stops it.
    @Field(key: "ends_at") var endsAt: Date
    /// Its host's last sign of life (the sweep settles a session whose host went quiet up to here).
    @Field(key: "seen_at") var seenAt: Date
    @OptionalField(key: "stopped_at") var stoppedAt: Date?
    @OptionalField(key: "stop_reason") var stopReason: String?

    init() {}
}
