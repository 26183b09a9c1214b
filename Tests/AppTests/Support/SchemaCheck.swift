// Checks JSON the platform sends against the schemas its OpenAPI document declares (the platform's own small
// JSONSchema). Objects are checked as closed: a field the schema does not name is a problem (sent but undocumented).
// It records which documented fields it saw, so a test can also find fields documented but never sent.
import Foundation
@testable import App

/// A JSON value as sent: numbers and booleans kept apart (JSONDecoder will not read `true` as a number or `1` as a Bool).
indirect enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let value = try? c.decode(Bool.self) { self = .bool(value) }
        else if let value = try? c.decode(Double.self) { self = .number(value) }
        else if let value = try? c.decode(String.self) { self = .string(value) }
        else if let value = try? c.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

struct SchemaCheck {
    let components: [String: JSONSchema]
    /// Documented fields seen in a checked value, as "Schema.field.subfield".
    private(set) var seen: Set<String> = []

    init(components: [String: JSONSchema]) { self.components = components }

    /// Every field the schema documents, as "root.field…" (not following references: those are their own roots).
    static func fields(of schema: JSONSchema, at path: String) -> [String] {
        switch schema {
        case .object(let properties, _, _):
            properties.flatMap { name, property in [path + "." + name] + fields(of: property, at: path + "." + name) }
        case .array(let items, _): fields(of: items, at: path)
        case .map(let values): fields(of: values, at: path)
        case .anyOf(let choices), .allOf(let choices): choices.flatMap { fields(of: $0, at: path) }
        default: []
        }
    }

    mutating func problems(_ value: JSONValue, _ schema: JSONSchema, at path: String) -> [String] {
        switch (schema, value) {
        case (.ref(let name), _):
            guard let target = components[name] else { return ["\(path): $ref \(name) names no schema"] }
            return problems(value, target, at: name)
        case (.null, .null): return []
        case (.nullableNumber, .null), (.nullableNumber, .number): return []
        case (.boolean, .bool): return []
        case (.number(let minimum, let maximum), .number(let number)):
            return bounds(number, minimum, maximum, at: path)
        case (.integer(_, let minimum, let maximum), .number(let number)):
            guard number.rounded() == number else { return ["\(path): \(number) is not a whole number"] }
            return bounds(number, minimum.map(Double.init), maximum.map(Double.init), at: path)
        case (.string(let format, let values, let minLength, let maxLength, let pattern), .string(let text)):
            var found: [String] = []
            if let values, !values.contains(text) { found.append("\(path): '\(text)' is not one of \(values)") }
            if let minLength, text.count < minLength { found.append("\(path): shorter than \(minLength)") }
            if let maxLength, text.count > maxLength { found.append("\(path): longer than \(maxLength)") }
            if let pattern, text.range(of: pattern, options: .regularExpression) == nil { found.append("\(path): '\(text)' does not match \(pattern)") }
            if let format, !Self.matches(text, format: format) { found.append("\(path): '\(text)' is not a \(format)") }
            return found
        case (.array(let items, let maxItems), .array(let elements)):
            var found = elements.enumerated().flatMap { index, element in problems(element, items, at: path) .map { $0 + " (item \(index))" } }
            if let maxItems, elements.count > maxItems { found.append("\(path): more than \(maxItems) items") }
            return found
        case (.map(let values), .object(let fields)):
            return fields.values.flatMap { problems($0, values, at: path) }
        case (.object(let properties, let required, _), .object(let fields)):
            var found = required.filter { fields[$0] == nil }.map { "\(path).\($0): required but missing" }
            for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
                guard let property = properties[name] else {
                    found.append("\(path).\(name): sent but not documented")
                    continue
                }
                seen.insert(path + "." + name)
                found += problems(field, property, at: path + "." + name)
            }
            return found
        case (.anyOf(let choices), _):
            for choice in choices {
                var trial = self
                if trial.problems(value, choice, at: path).isEmpty {
                    self = trial
                    return []
                }
            }
            return ["\(path): matches none of its choices"]
        case (.allOf(let parts), _):
            return parts.flatMap { problems(value, $0, at: path) }
        case (.not(let excluded), _):
            var trial = self
            return trial.problems(value, excluded, at: path).isEmpty ? ["\(path): matches what it must not"] : []
        default:
            return ["\(path): \(value) does not have the documented type \(schema)"]
        }
    }

    private func bounds(_ number: Double, _ minimum: Double?, _ maximum: Double?, at path: String) -> [String] {
        if let minimum, number < minimum { return ["\(path): \(number) is below \(minimum)"] }
        if let maximum, number > maximum { return ["\(path): \(number) is above \(maximum)"] }
        return []
    }

    static func matches(_ text: String, format: String) -> Bool {
        switch format {
        case "uuid": UUID(uuidString: text) != nil
        case "date-time": ISO8601DateFormatter().date(from: text) != nil
        case "date": text.range(of: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", options: .regularExpression) != nil
        case "decimal": text.range(of: "^-?[0-9]+(\\.[0-9]+)?$", options: .regularExpression) != nil
        case "email": text.contains("@")
        default: true
        }
    }
}
