// How a lab session is paid, minute by minute: before it starts, the first 30 minutes are held from the person's
// allowance; at each tick the time since the hold began is settled on it and a new hold covers what follows, as far
// as the allowance goes. A hold never covers more than the free credits, and a settle never takes more than its
// hold, so the charge never exceeds the allowance; when nothing is left to hold, the session stops.
import Ledger

public enum LabMetering {
    /// What a hold covers at most.
    public static let heldSeconds = 1_800
    /// Under this much time left, the session page warns.
    public static let warnSeconds = 300

    /// Seconds of lab time `credits` pay for at `perHour` (rounded down); unlimited (nil) when lab time is free.
    public static func coverage(of credits: Credits, perHour: Credits) -> Int? {
        guard perHour > .zero else { return nil }
        let seconds = Int128(max(0, credits.micro)) * 3_600 / Int128(perHour.micro)
        return Int(min(seconds, Int128(Int.max)))
    }

    /// `seconds` of lab time at `perHour`, rounded up to the micro-credit (as the price list rounds).
    public static func cost(seconds: Int, perHour: Credits) -> Credits {
        guard seconds > 0, perHour > .zero else { return .zero }
        return (try? PriceList.scale(perHour, quantity: Int64(seconds), per: Meter.labHour.unitsPerPricedUnit)) ?? .maximum
    }

    /// The next hold: up to `heldSeconds` of time, no more than the free credits pay for. nil: nothing can be held
    /// (the session stops).
    public static func nextHold(free: Credits, perHour: Credits) -> (seconds: Int, amount: Credits)? {
        guard let affordable = coverage(of: free, perHour: perHour) else { return (heldSeconds, .zero) }
        let seconds = min(heldSeconds, affordable)
        guard seconds >= 1 else { return nil }
        return (seconds, cost(seconds: seconds, perHour: perHour))
    }
}
