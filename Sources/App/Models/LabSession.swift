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
    /// What it has used so far, measured from its cgroup on its host and recorded at each tick: CPU milliseconds and
    /// memory MB-seconds (counted whether or not they are charged); and the same figures when its open hold began.
    @Field(key: "cpu_ms") var cpuMs: Int64
    @Field(key: "memory_mb_seconds") var memoryMBSeconds: Int64
    @Field(key: "held_cpu_ms") var heldCPUMs: Int64
    @Field(key: "held_memory_mb_seconds") var heldMemoryMBSeconds: Int64
    /// The terms it was started under: whether it pays for CPU time and memory too, and its caps (what a hold covers).
    @Field(key: "charge_cpu") var chargeCPU: Bool
    @Field(key: "charge_memory") var chargeMemory: Bool
    @Field(key: "cpu_millis") var cpuMillis: Int
    @Field(key: "memory_mb") var memoryMB: Int
    @Field(key: "started_at") var startedAt: Date
    /// When the longest-session limit stops it.
    @Field(key: "ends_at") var endsAt: Date
    /// Its host's last sign of life (the sweep settles a session whose host went quiet up to here).
    @Field(key: "seen_at") var seenAt: Date
    @OptionalField(key: "stopped_at") var stoppedAt: Date?
    @OptionalField(key: "stop_reason") var stopReason: String?
    /// When its host last saved its home while it ran (nil: not yet).
    @OptionalField(key: "home_saved_at") var homeSavedAt: Date?
    /// Why its last save while it ran was refused (nil: it was not, or a save has succeeded since).
    @OptionalField(key: "home_save_problem") var homeSaveProblem: String?

    /// A new session has used nothing yet (a loaded one takes its figures from its row).
    init() { (cpuMs, memoryMBSeconds, heldCPUMs, heldMemoryMBSeconds, chargeCPU, chargeMemory, cpuMillis, memoryMB) = (0, 0, 0, 0, false, false, 0, 0) }
}
