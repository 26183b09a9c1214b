// A small JSON Schema value for the OpenAPI document: enough to describe the API's bodies without a dependency.
public indirect enum JSONSchema: Sendable, Encodable, Equatable {
    /// Text; `minLength`/`maxLength` count characters, `pattern` is an (unanchored) ECMA regular expression.
    case string(format: String? = nil, enumValues: [String]? = nil, minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil)
    case integer(format: String? = "int64", minimum: Int? = nil, maximum: Int? = nil)
    case boolean
    case number(minimum: Double? = nil, maximum: Double? = nil)
    /// A number or null (OpenAPI 3.1: `type: [number, null]`), e.g. a gradebook score not yet graded.
    case nullableNumber
    case array(JSONSchema, maxItems: Int? = nil)
    /// `closed`: no properties but these (`additionalProperties: false`), as every input is read.
    case object([String: JSONSchema], required: [String], closed: Bool = false)
    /// An object used as a dictionary: any keys, each value of this schema (`additionalProperties`).
    case map(JSONSchema)
    /// Any one of these (`anyOf`), e.g. an amount of credits written as a number or as text.
    case anyOf([JSONSchema])
    /// All of these at once (`allOf`), and not this one (`not`).
    case allOf([JSONSchema])
    case not(JSONSchema)
    case ref(String)
    /// JSON's null.
    case null

    /// One schema for every paginated list: the items and where they are in the whole.
    public static func page(of item: JSONSchema) -> JSONSchema {
        .object(["items": .array(item), "metadata": .object(["page": .integer(), "per": .integer(), "total": .integer()],
                                                            required: ["page", "per", "total"])], required: ["items", "metadata"])
    }

    /// The same schema as an input reads it: the top-level object closed (an unknown field is refused), and a field
    /// that is not required may also be null (read as "not given").
    public var closed: JSONSchema {
        guard case .object(let properties, let required, _) = self else { return self }
        var fields = properties
        for (name, schema) in properties where !required.contains(name) { fields[name] = .anyOf([schema, .null]) }
        return .object(fields, required: required, closed: true)
    }


    private enum Keys: String, CodingKey {
        case type, format, items, properties, required, `enum`, ref = "$ref", minLength, maxLength, pattern, minimum, maximum, maxItems
        case additionalProperties, anyOf, allOf, not
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .string(let format, let values, let minLength, let maxLength, let pattern):
            try c.encode("string", forKey: .type)
            try c.encodeIfPresent(format, forKey: .format)
            try c.encodeIfPresent(values, forKey: .enum)
            try c.encodeIfPresent(minLength, forKey: .minLength)
            try c.encodeIfPresent(maxLength, forKey: .maxLength)
            try c.encodeIfPresent(pattern, forKey: .pattern)
        case .integer(let format, let minimum, let maximum):
            try c.encode("integer", forKey: .type)
            try c.encodeIfPresent(format, forKey: .format)
            try c.encodeIfPresent(minimum, forKey: .minimum)
            try c.encodeIfPresent(maximum, forKey: .maximum)
        case .boolean:
            try c.encode("boolean", forKey: .type)
        case .number(let minimum, let maximum):
            try c.encode("number", forKey: .type)
            try c.encodeIfPresent(minimum, forKey: .minimum)
            try c.encodeIfPresent(maximum, forKey: .maximum)
        case .nullableNumber:
            try c.encode(["number", "null"], forKey: .type)
        case .array(let items, let maxItems):
            try c.encode("array", forKey: .type)
            try c.encode(items, forKey: .items)
            try c.encodeIfPresent(maxItems, forKey: .maxItems)
        case .object(let properties, let required, let closed):
            try c.encode("object", forKey: .type)
            try c.encode(properties, forKey: .properties)
            if !required.isEmpty { try c.encode(required, forKey: .required) }
            if closed { try c.encode(false, forKey: .additionalProperties) }
        case .map(let values):
            try c.encode("object", forKey: .type)
            try c.encode(values, forKey: .additionalProperties)
        case .anyOf(let choices):
            try c.encode(choices, forKey: .anyOf)
        case .allOf(let parts):
            try c.encode(parts, forKey: .allOf)
        case .not(let schema):
            try c.encode(schema, forKey: .not)
        case .ref(let name):
            try c.encode("#/components/schemas/\(name)", forKey: .ref)
        case .null:
            try c.encode("null", forKey: .type)
        }
    }
}
