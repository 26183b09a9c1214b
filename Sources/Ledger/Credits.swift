// Credits: the programme's one unit, stored and computed as whole micro-credits (Int64). No floating point touches
// money: amounts are parsed from decimal text ("12.5") or whole numbers and printed back the same way.
import Foundation

/// An amount of credits, exact to a millionth.
public struct Credits: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let microPerCredit: Int64 = 1_000_000
    public static let zero = Credits(micro: 0)
    /// The most any one amount, and any one account, may hold: 10^12 credits (10^18 micro-credits, under Int64's
    /// 9.2 × 10^18), so no sum the ledger keeps can overflow, on SQLite or anywhere.
    public static let maximum = Credits(micro: 1_000_000_000_000_000_000)

    public var micro: Int64

    public init(micro: Int64) { self.micro = micro }
    public init(whole: Int64) { micro = whole * Credits.microPerCredit }

    /// Reads "12", "12.5", "0.000001", " 3.25 ", "-2" (a change can be negative; where an amount must be positive the
    /// ledger says so); nil for anything else (more than six decimals, exponents, more than `maximum`).
    public static func parse(_ text: String) -> Credits? {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("-") {
            trimmed.removeFirst()
            return trimmed.hasPrefix("-") ? nil : parse(trimmed).map { Credits(micro: -$0.micro) }
        }
        let parts = trimmed.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholePart = parts.first, !wholePart.isEmpty, wholePart.allSatisfy(\.isASCIIDigit) else { return nil }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= 6, fraction.allSatisfy(\.isASCIIDigit), parts.count == 1 || !fraction.isEmpty else { return nil }
        fraction += String(repeating: "0", count: 6 - fraction.count)
        guard let whole = Int64(wholePart), let micro = Int64(fraction) else { return nil }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: microPerCredit)
        guard !overflow, scaled <= maximum.micro - micro else { return nil }
        return Credits(micro: scaled + micro)
    }

    /// "12.5", "0.000001", "-3" — the shortest exact decimal.
    public var description: String {
        let sign = micro < 0 ? "-" : ""
        let magnitude = micro.magnitude
        let whole = magnitude / UInt64(Credits.microPerCredit), fraction = magnitude % UInt64(Credits.microPerCredit)
        guard fraction != 0 else { return sign + String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 6 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(sign)\(whole).\(digits)"
    }

    public static func < (a: Credits, b: Credits) -> Bool { a.micro < b.micro }
    public static func + (a: Credits, b: Credits) -> Credits { Credits(micro: a.micro + b.micro) }
    public static func - (a: Credits, b: Credits) -> Credits { Credits(micro: a.micro - b.micro) }
    public static func += (a: inout Credits, b: Credits) { a.micro += b.micro }
    public static func -= (a: inout Credits, b: Credits) { a.micro -= b.micro }
}

extension Credits: Codable {
    /// Encoded as a decimal string ("12.5") so no JSON reader turns it into a float.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Accepts a whole JSON number (12) or a decimal string ("12.5"); a fractional JSON number is refused, because
    /// it has already been through floating point.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let whole = try? container.decode(Int64.self) {
            guard whole.magnitude <= UInt64(Credits.maximum.micro / Credits.microPerCredit) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "at most \(Credits.maximum) credits can be counted")
            }
            self.init(whole: whole)
            return
        }
        guard let text = try? container.decode(String.self), let value = Credits.parse(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription:
                "credits are written as a whole number (12) or a decimal string with at most six decimals (\"12.5\"), at most \(Credits.maximum)")
        }
        self = value
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
