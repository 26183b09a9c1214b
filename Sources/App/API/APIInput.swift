// An input the API reads declares its schema next to its type, as its checks read it. A route reads `.input(T.self)`;
// the contract test checks every route's documented fields against the input type's own fields, so a field added to
// an input cannot be missing from the document (or the reverse).
import Vapor

protocol APIInput: CheckedInput {
    /// The input as created (`required` lists what creating needs; a change route requires none of it).
    static var schema: JSONSchema { get }
}

/// What a route reads: a checked JSON input, or a body of another media type (a zip, CSV, multipart form).
struct APIRequest {
    let schema: JSONSchema
    var mediaType = "application/json"
    /// The input type and its fields (`CheckedInput.Fields`), for the contract test; nil for a body of another kind.
    let input: (name: String, fields: [String])?

    /// `T`'s schema; `required` (when given) replaces what it requires, e.g. `[]` for a change.
    static func input<T: APIInput>(_ type: T.Type, required: [String]? = nil) -> APIRequest {
        APIRequest(schema: required.map { T.schema.requiring(only: $0) } ?? T.schema, input: fields(of: type))
    }

    /// `T` read with a schema the route states, e.g. one person's membership with the roles of that kind of place.
    static func input<T: CheckedInput>(_ type: T.Type, schema: JSONSchema) -> APIRequest {
        APIRequest(schema: schema, input: fields(of: type))
    }

    /// A body that is not a JSON input (a zip, CSV text, a multipart form with files).
    static func body(_ schema: JSONSchema, as mediaType: String) -> APIRequest {
        APIRequest(schema: schema, mediaType: mediaType, input: nil)
    }

    private static func fields<T: CheckedInput>(of type: T.Type) -> (name: String, fields: [String]) {
        (String(describing: T.self), T.Fields.allCases.map(\.stringValue))
    }
}

extension JSONSchema {
    /// The same object requiring exactly these properties.
    func requiring(only names: [String]) -> JSONSchema {
        guard case .object(let properties, _, let closed) = self else { return self }
        return .object(properties, required: names, closed: closed)
    }

    /// The property names of an object schema.
    var propertyNames: Set<String> {
        guard case .object(let properties, _, _) = self else { return [] }
        return Set(properties.keys)
    }
}
