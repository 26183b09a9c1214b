// The shapes inputs take, written once: what the platform's input checks (Core's `InputChecks`, `Credits.parse`)
// accept, so a request valid by the document is one the platform takes, and one the document refuses is refused.
import Ledger

extension JSONSchema {
    /// Text that is not blank, at most `max` characters (the platform trims it; `InputChecks.text`).
    static func text(max: Int = 200) -> JSONSchema { .string(minLength: 1, maxLength: max, pattern: "\\S") }

    /// Text that may be empty, at most `max` characters.
    static func optionalText(max: Int) -> JSONSchema { .string(maxLength: max) }

    /// One of an enumeration's raw values (`InputChecks.choice`).
    static func choice<E: CaseIterable & RawRepresentable>(_ type: E.Type) -> JSONSchema where E.RawValue == String {
        .string(enumValues: E.allCases.map(\.rawValue))
    }

    /// Credits written as text: digits with at most six decimals (`Credits.parse`).
    static let creditsText = JSONSchema.string(pattern: "^ *[0-9]{1,12}(\\.[0-9]{1,6})? *$")

    /// An amount of credits sent to the platform: a whole number, or a decimal string with at most six decimals
    /// (`Credits` decoding); never negative here, at most `Credits.maximum`.
    static let creditsInput = JSONSchema.anyOf([
        .integer(minimum: 0, maximum: Int(Credits.maximum.micro / Credits.microPerCredit)),
        .creditsText,
    ])

    /// An amount of credits that must be more than zero (grants, moves, holds, requests).
    static let positiveCreditsInput = JSONSchema.anyOf([
        .integer(minimum: 1, maximum: Int(Credits.maximum.micro / Credits.microPerCredit)),
        .allOf([.creditsText, .not(.string(pattern: "^ *0+(\\.0+)? *$"))]),
    ])

    /// A client's idempotency key (the same key does its work once).
    static let idempotencyKey = JSONSchema.string(minLength: 1, maxLength: 200)

    /// A day, YYYY-MM-DD.
    static let day = JSONSchema.string(format: "date")
}
