// What usage costs: a price per meter, versioned by the date it takes effect. Usage is converted with the price in
// force when it happened, in integers, rounding up to the next micro-credit (a partner is never under-charged by
// rounding, and a student by at most a millionth of a credit per charge).
import Foundation

/// Something that is measured and charged: sandbox CPU or wall time, a model's input or output tokens, lab hours.
public struct Meter: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public var name: String
    public init(_ name: String) { self.name = name }

    /// Sandbox CPU time, measured in milliseconds, priced per CPU-second.
    public static let sandboxCPUSecond = Meter("sandbox_cpu_second")
    /// Sandbox wall-clock time, measured in milliseconds, priced per second.
    public static let sandboxWallSecond = Meter("sandbox_wall_second")
    /// Lab time, measured in seconds, priced per hour.
    public static let labHour = Meter("lab_hour")
    /// A lab session's CPU time (where its environment charges it), measured in milliseconds, priced per CPU-hour.
    public static let labCPUHour = Meter("lab_cpu_hour")
    /// A lab session's memory over time (where its environment charges it), measured in MB-seconds, priced per GB-hour.
    public static let labMemoryGBHour = Meter("lab_memory_gb_hour")
    /// A Slurm job's allocated cores over its elapsed time, measured in core-seconds, priced per core-hour.
    public static let slurmCoreHour = Meter("slurm_core_hour")
    /// A Slurm job's allocated memory over its elapsed time, measured in MB-seconds, priced per GB-hour.
    public static let slurmMemoryGBHour = Meter("slurm_memory_gb_hour")
    /// A Slurm job's allocated GPUs over its elapsed time, measured in GPU-seconds, priced per GPU-hour.
    public static let slurmGPUHour = Meter("slurm_gpu_hour")
    /// A model's prompt tokens, priced per million.
    public static func modelInput(_ model: String) -> Meter { Meter("model_input_tokens:\(model)") }
    /// A model's completion tokens, priced per million.
    public static func modelOutput(_ model: String) -> Meter { Meter("model_output_tokens:\(model)") }

    /// How many measured units make the unit a price is quoted in (ms per second, tokens per million, ...).
    public var unitsPerPricedUnit: Int64 {
        switch self {
        case .sandboxCPUSecond, .sandboxWallSecond: 1_000
        case .labHour, .slurmCoreHour, .slurmGPUHour: 3_600
        case .labCPUHour: 3_600_000
        case .labMemoryGBHour, .slurmMemoryGBHour: 1_024 * 3_600
        default: name.hasPrefix("model_") ? 1_000_000 : 1
        }
    }

    /// Whether this is a meter the platform knows how to measure.
    public var isKnown: Bool {
        [.sandboxCPUSecond, .sandboxWallSecond, .labHour, .labCPUHour, .labMemoryGBHour, .slurmCoreHour, .slurmMemoryGBHour, .slurmGPUHour]
            .contains(self)
            || ((name.hasPrefix("model_input_tokens:") || name.hasPrefix("model_output_tokens:")) && !name.hasSuffix(":"))
    }

    public var description: String { name }
    public static func < (a: Meter, b: Meter) -> Bool { a.name < b.name }

    public init(from decoder: any Decoder) throws { name = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// One price: `price` per priced unit of `meter`, from `effectiveFrom` until a later version replaces it.
public struct PriceVersion: Sendable, Equatable, Codable {
    public var meter: Meter
    public var price: Credits
    public var effectiveFrom: Date

    public init(meter: Meter, price: Credits, effectiveFrom: Date) {
        self.meter = meter
        self.price = price
        self.effectiveFrom = effectiveFrom
    }
}

public enum PricingError: Error, Equatable, CustomStringConvertible {
    case noPrice(Meter, Date)
    case tooLarge

    public var description: String {
        switch self {
        case .noPrice(let meter, _): "There is no price for \(meter) at that time; a programme manager sets one on the price list."
        case .tooLarge: "That usage is too large to price."
        }
    }
}

public struct PriceList: Sendable, Equatable {
    public private(set) var versions: [PriceVersion]

    public init(_ versions: [PriceVersion]) {
        self.versions = versions.sorted { ($0.meter, $0.effectiveFrom) < ($1.meter, $1.effectiveFrom) }
    }

    /// The price in force for `meter` at `time`: the latest version that took effect at or before it.
    public func price(of meter: Meter, at time: Date) -> PriceVersion? {
        versions.last { $0.meter == meter && $0.effectiveFrom <= time }
    }

    /// `quantity` measured units (ms, tokens, minutes) of `meter` at the price in force at `time`, rounded up.
    public func cost(of meter: Meter, quantity: Int64, at time: Date) throws -> Credits {
        guard quantity > 0 else { return .zero }
        guard let version = price(of: meter, at: time) else { throw PricingError.noPrice(meter, time) }
        return try Self.scale(version.price, quantity: quantity, per: meter.unitsPerPricedUnit)
    }

    /// The cost of several meters' usage at one time.
    public func cost(of usage: [Meter: Int64], at time: Date) throws -> Credits {
        var total = Credits.zero
        for (meter, quantity) in usage.sorted(by: { $0.key < $1.key }) {
            let part = try cost(of: meter, quantity: quantity, at: time)
            let (sum, overflow) = total.micro.addingReportingOverflow(part.micro)
            guard !overflow else { throw PricingError.tooLarge }
            total = Credits(micro: sum)
        }
        return total
    }

    /// price × quantity ÷ per, rounded up, without overflow in between.
    public static func scale(_ price: Credits, quantity: Int64, per: Int64) throws -> Credits {
        let product = Int128(price.micro) * Int128(quantity)
        let rounded = (product + Int128(per) - 1) / Int128(per)
        guard rounded <= Int128(Int64.max) else { throw PricingError.tooLarge }
        return Credits(micro: Int64(rounded))
    }
}
