// A body the API answers with declares its schema next to its type, with samples: the contract test encodes every
// sample with the platform's own encoder and checks it against that schema — every field sent is documented,
// every documented field is sent by some sample — so the document cannot drift from what the code sends.
import Vapor

protocol APIBody: Encodable, Sendable {
    /// Its name in the document's components (by default the type's name without "DTO").
    static var schemaName: String { get }
    static var schema: JSONSchema { get }
    /// Values between them setting every field, optional ones included.
    static var samples: [Self] { get }
    /// The bodies its schema refers to (`.ref(T.self)`), registered with it.
    static var parts: [any APIBody.Type] { get }
}

extension APIBody {
    static var schemaName: String { String(describing: Self.self).replacingOccurrences(of: "DTO", with: "") }
    static var parts: [any APIBody.Type] { [] }
}

extension JSONSchema {
    static func ref<T: APIBody>(_ type: T.Type) -> JSONSchema { .ref(T.schemaName) }

    /// An amount of credits as the platform sends it: an exact decimal string ("12.5").
    static let credits = JSONSchema.string(format: "decimal")
}

/// What a route answers with: one body, a list of them, or a page of them (`JSONSchema.page`).
struct APIAnswer {
    let schema: JSONSchema
    let body: (any APIBody.Type)?

    static func one<T: APIBody>(_ type: T.Type) -> APIAnswer { APIAnswer(schema: .ref(T.self), body: type) }
    static func list<T: APIBody>(_ type: T.Type) -> APIAnswer { APIAnswer(schema: .array(.ref(T.self)), body: type) }
    static func page<T: APIBody>(_ type: T.Type) -> APIAnswer { APIAnswer(schema: .page(of: .ref(T.self)), body: type) }
    /// A JSON object with a standard of its own, not described here (the OpenAPI document itself).
    static var document: APIAnswer { APIAnswer(schema: .object([:], required: []), body: nil) }
}

/// A body the document names, with its samples as the platform encodes them (JSON text), for the contract test.
struct DocumentedBody: Sendable {
    let name: String
    let schema: JSONSchema
    let encodedSamples: @Sendable () throws -> [Data]

    init<T: APIBody>(_ type: T.Type) {
        name = T.schemaName
        schema = T.schema
        let samples = T.samples
        encodedSamples = {
            let encoder = try ContentConfiguration.global.requireEncoder(for: .json)
            return try samples.map { sample in
                var buffer = ByteBuffer(), headers = HTTPHeaders()
                try encoder.encode(sample, to: &buffer, headers: &headers)
                return Data(buffer.readableBytesView)
            }
        }
    }
}

/// Values for samples.
enum Sample {
    static let id = UUID(uuidString: "0d4c1d8e-6a0b-4a8e-9d7e-2f1c3b4a5d6e")!
    static let date = Date(timeIntervalSince1970: 1_790_000_000)
}

extension ErrorBody: APIBody {
    static let schemaName = "Error"
    static let schema = JSONSchema.object([
        "error": .object(["message": .string(), "type": .string(), "code": .string(), "problems": .array(.string())], required: ["message", "type"]),
    ], required: ["error"])
    static let samples = [
        ErrorBody(error: Detail(message: "The input has problems.", type: "invalid_request_error", code: "invalid", problems: ["title: is empty"])),
    ]
}
