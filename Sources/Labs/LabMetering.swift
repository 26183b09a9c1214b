// How a lab session is paid, minute by minute: before it starts, the first 30 minutes are held from the person's
// allowance; at each tick the usage since the hold began is settled on it and a new hold covers what follows, as far
// as the allowance goes. A hold never covers more than the free credits, and a settle never takes more than its
// hold, so the charge never exceeds the allowance; when nothing is left to hold, the session stops.
//
// What is charged: lab time (`lab_hour`), and where the environment says so, the CPU time (`lab_cpu_hour`) and the
// memory held over time (`lab_memory_gb_hour`) measured from the session's cgroup. Those two are not known ahead, so a
// hold covers the worst case — the session at its CPU cap and its memory limit for the whole stretch — and the settle
// takes what was measured (cut to the caps: a host that charges them enforces them, see App's LabHost.ready).
import Ledger

/// What an hour of a session costs on each meter, and the caps that bound its use.
public struct LabRate: Sendable, Equatable {
    /// Per hour of lab time.
    public var perHour: Credits
    /// Per CPU-hour (zero: CPU is not charged).
    public var perCPUHour: Credits
    /// Per GB-hour of memory (zero: memory is not charged).
    public var perGBHour: Credits
    /// The session's CPU cap in thousandths of a core, and its memory limit.
    public var cpuMillis: Int
    public var memoryMB: Int

    public init(perHour: Credits, perCPUHour: Credits = .zero, perGBHour: Credits = .zero, cpuMillis: Int = 1000, memoryMB: Int = 1024) {
        self.perHour = perHour
        self.perCPUHour = perCPUHour
        self.perGBHour = perGBHour
        self.cpuMillis = max(0, cpuMillis)
        self.memoryMB = max(0, memoryMB)
    }

    /// Whether anything is charged at all.
    public var isFree: Bool { perHour <= .zero && perCPUHour <= .zero && perGBHour <= .zero }

    /// The most `seconds` of the session could use: the whole stretch at its CPU cap and memory limit (`seconds` is
    /// at most `LabMetering.longestCoverage`, so the products fit).
    public func worstUse(seconds: Int) -> LabUsage {
        let counted = Int64(min(max(0, seconds), LabMetering.longestCoverage))
        return LabUsage(seconds: Int(counted), cpuMs: counted * Int64(min(cpuMillis, 1 << 20)), memoryMBSeconds: counted * Int64(min(memoryMB, 1 << 24)))
    }
}

/// A stretch of a session's use, in the units the meters count: seconds of time, milliseconds of CPU, MB-seconds of
/// memory.
public struct LabUsage: Sendable, Equatable {
    public var seconds: Int
    public var cpuMs: Int64
    public var memoryMBSeconds: Int64

    public init(seconds: Int, cpuMs: Int64 = 0, memoryMBSeconds: Int64 = 0) {
        self.seconds = seconds
        self.cpuMs = cpuMs
        self.memoryMBSeconds = memoryMBSeconds
    }
}

public enum LabMetering {
    /// What a hold covers at most.
    public static let heldSeconds = 1_800
    /// The longest stretch `coverage` counts (ten years: more is "unlimited" for any purpose).
    public static let longestCoverage = 10 * 366 * 86_400
    /// Under this much time left, the session page warns.
    public static let warnSeconds = 300
    /// What `usage` costs at `rate`: each meter rounded up to the micro-credit (as the price list rounds).
    public static func cost(_ usage: LabUsage, rate: LabRate) -> Credits {
        func part(_ price: Credits, _ quantity: Int64, per: Int64) -> Int128 {
            guard price > .zero, quantity > 0 else { return 0 }
            return Int128((try? PriceList.scale(price, quantity: quantity, per: per))?.micro ?? Int64.max)
        }
        let total = part(rate.perHour, Int64(max(0, usage.seconds)), per: Meter.labHour.unitsPerPricedUnit)
            + part(rate.perCPUHour, usage.cpuMs, per: Meter.labCPUHour.unitsPerPricedUnit)
            + part(rate.perGBHour, usage.memoryMBSeconds, per: Meter.labMemoryGBHour.unitsPerPricedUnit)
        return Credits(micro: Int64(min(total, Int128(Int64.max))))
    }

    /// `seconds` of lab time at `perHour`, rounded up to the micro-credit.
    public static func cost(seconds: Int, perHour: Credits) -> Credits { cost(LabUsage(seconds: seconds), rate: LabRate(perHour: perHour)) }

    /// The most `seconds` of the session can cost (the hold for them).
    public static func worstCost(seconds: Int, rate: LabRate) -> Credits { cost(rate.worstUse(seconds: seconds), rate: rate) }

    /// Seconds of the session `credits` pay for in the worst case (rounded down; at most `longestCoverage`); unlimited
    /// (nil) when nothing is charged. The worst cost only grows with time, so a binary search finds it (some thirty
    /// steps, whatever the prices).
    public static func coverage(of credits: Credits, rate: LabRate) -> Int? {
        guard !rate.isFree else { return nil }
        let free = max(0, credits.micro)
        var (low, high) = (0, longestCoverage)  // low is affordable; anything above high is not counted
        if worstCost(seconds: high, rate: rate).micro <= free { return high }
        while low < high {
            let middle = low + (high - low + 1) / 2
            if worstCost(seconds: middle, rate: rate).micro <= free { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// Seconds of lab time `credits` pay for at `perHour`.
    public static func coverage(of credits: Credits, perHour: Credits) -> Int? { coverage(of: credits, rate: LabRate(perHour: perHour)) }

    /// The next hold: up to `heldSeconds` of the session in the worst case, no more than the free credits pay for.
    /// nil: nothing can be held (the session stops).
    public static func nextHold(free: Credits, rate: LabRate) -> (seconds: Int, amount: Credits)? {
        guard !rate.isFree else { return (heldSeconds, .zero) }
        let whole = worstCost(seconds: heldSeconds, rate: rate)
        if whole <= free { return (heldSeconds, whole) }
        guard let affordable = coverage(of: free, rate: rate) else { return (heldSeconds, .zero) }
        let seconds = min(heldSeconds, affordable)
        guard seconds >= 1 else { return nil }
        return (seconds, worstCost(seconds: seconds, rate: rate))
    }

    public static func nextHold(free: Credits, perHour: Credits) -> (seconds: Int, amount: Credits)? { nextHold(free: free, rate: LabRate(perHour: perHour)) }

    /// What a stretch of `usage` is charged against a hold of `held`: its cost, never more than the hold (a stretch
    /// longer than the hold covers — a late tick — is charged for the held seconds only, at most).
    public static func settlement(_ usage: LabUsage, heldSeconds: Int, rate: LabRate, held: Credits) -> Credits {
        var counted = usage
        counted.seconds = min(max(0, usage.seconds), heldSeconds)
        let cap = rate.worstUse(seconds: counted.seconds)
        counted.cpuMs = min(max(0, usage.cpuMs), cap.cpuMs)
        counted.memoryMBSeconds = min(max(0, usage.memoryMBSeconds), cap.memoryMBSeconds)
        return min(cost(counted, rate: rate), held)
    }
}
