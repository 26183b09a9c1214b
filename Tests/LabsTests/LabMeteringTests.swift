import Labs
import Ledger
import Testing

@Suite struct LabMeteringTests {
    /// 6 credits an hour of time, 36 a CPU-hour, 3.6 a GB-hour; half a core, 512 MB.
    static let rate = LabRate(perHour: Credits(whole: 6), perCPUHour: Credits(whole: 36), perGBHour: Credits.parse("3.6")!, cpuMillis: 500, memoryMB: 512)

    @Test func eachMeterIsPricedInItsOwnUnitsAndRoundedUp() {
        // A minute (0.1), 2.5 CPU-seconds (0.025), 3000 MB-seconds (3000/1024 GB-s × 0.001 = 0.0029296875 → 0.00293).
        let usage = LabUsage(seconds: 60, cpuMs: 2_500, memoryMBSeconds: 3_000)
        #expect(LabMetering.cost(usage, rate: Self.rate) == Credits(micro: 100_000 + 25_000 + 2_930))
        // Meters the environment does not charge cost nothing, whatever was used.
        let timeOnly = LabRate(perHour: Credits(whole: 6), cpuMillis: 500, memoryMB: 512)
        #expect(LabMetering.cost(usage, rate: timeOnly) == Credits(micro: 100_000))
        #expect(LabMetering.cost(seconds: 60, perHour: Credits(whole: 6)) == Credits(micro: 100_000))
        // One CPU-millisecond is charged (up), never nothing.
        #expect(LabMetering.cost(LabUsage(seconds: 0, cpuMs: 1), rate: Self.rate) == Credits(micro: 10))
    }

    @Test func aHoldCoversTheSessionAtItsCaps() {
        // 30 minutes at half a core and 512 MB: 3 + 9 + 0.9.
        #expect(LabMetering.worstCost(seconds: 1_800, rate: Self.rate) == Credits(micro: 12_900_000))
        let hold = LabMetering.nextHold(free: Credits(whole: 20), rate: Self.rate)
        #expect(hold?.seconds == 1_800 && hold?.amount == Credits(micro: 12_900_000))
        // Less free than half an hour at the caps: as many whole seconds as the credits pay for in the worst case.
        let short = LabMetering.nextHold(free: Credits(whole: 1), rate: Self.rate)
        #expect(short?.seconds == 139)  // 25.8 an hour: 139.5 s
        #expect(short.map { $0.amount <= Credits(whole: 1) } == true)
        #expect(LabMetering.nextHold(free: Credits(micro: 5), rate: Self.rate) == nil)
        // Nothing charged: no hold needed, no limit.
        #expect(LabMetering.coverage(of: .zero, rate: LabRate(perHour: .zero)) == nil)
    }

    @Test func coverageIsTheLongestStretchTheCreditsPayForAtTheCaps() {
        // Prices that divide evenly and prices that do not, down to a micro-credit per CPU-hour (whose rounding makes
        // an hour's price a poor guide to a second's).
        let rates = [Self.rate, LabRate(perHour: Credits(micro: 7), perCPUHour: Credits(micro: 13), perGBHour: Credits(micro: 1), cpuMillis: 8_000, memoryMB: 16_384),
                     LabRate(perHour: .zero, perCPUHour: Credits(whole: 1), cpuMillis: 100, memoryMB: 128),
                     LabRate(perHour: .zero, perCPUHour: Credits(micro: 1), cpuMillis: 500, memoryMB: 512),
                     LabRate(perHour: Credits(micro: 3), perGBHour: Credits(micro: 11), cpuMillis: 333, memoryMB: 777)]
        for rate in rates {
            for free in [0, 1, 9, 999, 123_457, 1_000_000, 20_000_000, 987_654_321] as [Int64] {
                let seconds = LabMetering.coverage(of: Credits(micro: free), rate: rate)!
                #expect(LabMetering.worstCost(seconds: seconds, rate: rate).micro <= free)
                #expect(seconds == LabMetering.longestCoverage || LabMetering.worstCost(seconds: seconds + 1, rate: rate).micro > free, "\(rate) \(free)")
            }
        }
        // However much is free: no overflow, and the longest stretch counted.
        #expect(LabMetering.coverage(of: Credits(micro: .max), rate: Self.rate) == LabMetering.longestCoverage)
        #expect(LabMetering.nextHold(free: Credits(micro: .max), rate: Self.rate)?.seconds == LabMetering.heldSeconds)
    }

    @Test func aSettleTakesWhatWasUsedNeverMoreThanTheHoldNorPastTheCaps() {
        let held = LabMetering.worstCost(seconds: 1_800, rate: Self.rate)
        let used = LabUsage(seconds: 60, cpuMs: 2_500, memoryMBSeconds: 3_000)
        #expect(LabMetering.settlement(used, heldSeconds: 1_800, rate: Self.rate, held: held) == LabMetering.cost(used, rate: Self.rate))
        // A late tick: the time past the held stretch is not charged; figures past the caps (a reading's jitter) are
        // cut to them.
        let late = LabUsage(seconds: 4_000, cpuMs: 10_000_000, memoryMBSeconds: 9_000_000)
        #expect(LabMetering.settlement(late, heldSeconds: 1_800, rate: Self.rate, held: held) == held)
        #expect(LabMetering.settlement(used, heldSeconds: 1_800, rate: Self.rate, held: Credits(micro: 1_000)) == Credits(micro: 1_000))
        #expect(LabMetering.settlement(LabUsage(seconds: -5, cpuMs: -1, memoryMBSeconds: -1), heldSeconds: 1_800, rate: Self.rate, held: held) == .zero)
    }
}
