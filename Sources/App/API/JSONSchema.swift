// A small JSON Schema value for the OpenAPI document: enough to describe the API's bodies without a dependency.
public indirect enum JSONSchema: Sendable, Encodable {
    case string(format: String? = nil, enumValues: [String]? = nil)
    case integer(format: String? = "int64")
    case boolean
    case number
    /// A number or null (OpenAPI 3.1: `type: [number, null]`), e.g. a gradebook score not yet graded.
    case nullableNumber
    case array(JSONSchema)
    case object([String: JSONSchema], required: [String])
    case ref(String)

    private enum Keys: String, CodingKey { case type, format, items, properties, required, `enum`, ref = "$ref" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .string(let format, let values):
            try c.encode("string", forKey: .type)
            try c.encodeIfPresent(format, forKey: .format)
            try c.encodeIfPresent(values, forKey: .enum)
        case .integer(let format):
            try c.encode("integer", forKey: .type)
            try c.encodeIfPresent(format, forKey: .format)
        case .boolean:
            try c.encode("boolean", forKey: .type)
        case .number:
            try c.encode("number", forKey: .type)
        case .nullableNumber:
            try c.encode(["number", "null"], forKey: .type)
        case .array(let items):
            try c.encode("array", forKey: .type)
            try c.encode(items, forKey: .items)
        case .object(let properties, let required):
            try c.encode("object", forKey: .type)
            try c.encode(properties, forKey: .properties)
            if !required.isEmpty { try c.encode(required, forKey: .required) }
        case .ref(let name):
            try c.encode("#/components/schemas/\(name)", forKey: .ref)
        }
    }
}
