// What the platform reads back from a Slurm cluster about a job (issue 24): its state as the scheduler names it, the
// trackable resources (TRES) it asked for or was given, and what it used, as HPC centres bill it: allocated resources
// × elapsed time. No Vapor, no database: the App's Slurm area runs the commands and keeps the rows.
import Foundation

/// A job's state (Slurm's `JobState` names, as `squeue`, `scontrol` and the job completion log spell them).
public enum SlurmJobState: Equatable, Sendable {
    case pending, running, suspended, completing, completed, failed, cancelled, timeout, nodeFail, preempted, outOfMemory, bootFail, deadline
    /// A state this code does not know (a newer Slurm's): kept as spelled, treated as not ended.
    case other(String)

    public init(_ name: String) {
        // `CANCELLED by 0` (scontrol) and flags after a `+` are the same state.
        let word = name.split(whereSeparator: { $0 == " " || $0 == "+" }).first.map(String.init)?.uppercased() ?? ""
        switch word {
        case "PENDING", "PD": self = .pending
        case "RUNNING", "R": self = .running
        case "SUSPENDED", "S": self = .suspended
        case "COMPLETING", "CG": self = .completing
        case "COMPLETED", "CD": self = .completed
        case "FAILED", "F": self = .failed
        case "CANCELLED", "CA": self = .cancelled
        case "TIMEOUT", "TO": self = .timeout
        case "NODE_FAIL", "NF": self = .nodeFail
        case "PREEMPTED", "PR": self = .preempted
        case "OUT_OF_MEMORY", "OOM": self = .outOfMemory
        case "BOOT_FAIL", "BF": self = .bootFail
        case "DEADLINE", "DL": self = .deadline
        default: self = .other(word)
        }
    }

    /// Whether the job will not run (any more): it is settled by what ran.
    public var hasEnded: Bool {
        switch self {
        case .pending, .running, .suspended, .completing, .other: false
        case .completed, .failed, .cancelled, .timeout, .nodeFail, .preempted, .outOfMemory, .bootFail, .deadline: true
        }
    }

    /// A run of a job that was put back in the queue (REQUEUED, REQUEUE_HOLD, …): another run of it follows.
    public var isRequeued: Bool {
        if case .other(let name) = self { return name.hasPrefix("REQUEUE") }
        return false
    }
}

/// Trackable resources, from Slurm's `cpu=2,mem=200M,node=1,billing=2,gres/gpu=1` (requested or allocated).
public struct SlurmResources: Equatable, Sendable {
    public var cpus: Int
    /// Memory in megabytes (Slurm's `M`; `G` and `T` are converted, `K` rounded up).
    public var memoryMB: Int
    public var gpus: Int

    public init(cpus: Int, memoryMB: Int, gpus: Int = 0) {
        (self.cpus, self.memoryMB, self.gpus) = (cpus, memoryMB, gpus)
    }

    /// Parses a TRES string; nil when a figure the platform bills by cannot be read. Unknown kinds are ignored.
    public init?(tres: String) {
        var cpus = 0, memoryMB = 0, gpus = 0
        for pair in tres.split(separator: ",") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let (kind, value) = (parts[0].lowercased(), String(parts[1]))
            switch kind {
            case "cpu": guard let n = Int(value), n >= 0 else { return nil }; cpus = n
            case "mem": guard let mb = Self.megabytes(value) else { return nil }; memoryMB = mb
            case "gres/gpu": guard let n = Int(value), n >= 0 else { return nil }; gpus = n
            default: continue  // node, billing, gres/gpu:<type>, licenses, energy: not billed apart
            }
        }
        self.init(cpus: cpus, memoryMB: memoryMB, gpus: gpus)
    }

    static func megabytes(_ text: String) -> Int? {
        guard let unit = text.last else { return nil }
        let scale: Double
        var digits = Substring(text)
        switch unit {
        case "K", "k": scale = 1.0 / 1024; digits = digits.dropLast()
        case "M", "m": scale = 1; digits = digits.dropLast()
        case "G", "g": scale = 1024; digits = digits.dropLast()
        case "T", "t": scale = 1024 * 1024; digits = digits.dropLast()
        default: scale = 1  // a bare number is megabytes
        }
        guard let value = Double(digits), value >= 0, value.isFinite, value * scale < Double(Int32.max) else { return nil }
        return Int((value * scale).rounded(.up))
    }

    /// The same resources written as Slurm reads them in a request.
    public var tres: String {
        "cpu=\(cpus),mem=\(memoryMB)M" + (gpus > 0 ? ",gres/gpu=\(gpus)" : "")
    }
}

/// What a job used, in the units the platform's meters price: resource × seconds.
public struct SlurmUsage: Equatable, Sendable {
    public var coreSeconds: Int64
    /// Megabyte-seconds (a meter in GB-seconds divides by 1024).
    public var memoryMBSeconds: Int64
    public var gpuSeconds: Int64

    public init(coreSeconds: Int64, memoryMBSeconds: Int64, gpuSeconds: Int64) {
        (self.coreSeconds, self.memoryMBSeconds, self.gpuSeconds) = (coreSeconds, memoryMBSeconds, gpuSeconds)
    }

    /// `resources` held for `seconds` (negative time counts as none).
    public init(_ resources: SlurmResources, seconds: Int64) {
        let seconds = max(0, seconds)
        self.init(coreSeconds: Int64(resources.cpus) * seconds, memoryMBSeconds: Int64(resources.memoryMB) * seconds,
                  gpuSeconds: Int64(resources.gpus) * seconds)
    }

    /// The most a job may use: what it asks for, for its whole time limit (what is held before it is queued).
    public static func worstCase(_ requested: SlurmResources, timeLimitMinutes: Int) -> SlurmUsage {
        SlurmUsage(requested, seconds: Int64(max(0, timeLimitMinutes)) * 60)
    }
}
