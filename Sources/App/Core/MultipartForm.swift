// A multipart/form-data body read part by part. Vapor's form decoder wants `files[]` for several files under one
// name; browsers (`<input type=file multiple>`) and curl (`-F files=@a -F files=@b`) repeat the plain name, so
// hand-ins are read here, keeping every part in order.
import Foundation
import MultipartKit
import Vapor

struct MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var data: Data
    }
    var parts: [Part]

    /// nil when the request is not multipart/form-data (or has no boundary); throws 400 for a broken body.
    init?(_ req: Request) throws {
        guard let type = req.headers.contentType, type.type == "multipart", type.subType == "form-data",
              let boundary = type.parameters["boundary"], let body = req.body.data else { return nil }
        let parser = MultipartParser(boundary: boundary)
        var parts: [Part] = [], headers: [(String, String)] = [], current = Data()
        parser.onHeader = { name, value in headers.append((name.lowercased(), value)) }
        parser.onBody = { buffer in current.append(contentsOf: buffer.readableBytesView) }
        parser.onPartComplete = {
            let disposition = headers.first { $0.0 == "content-disposition" }?.1 ?? ""
            parts.append(Part(name: Self.parameter("name", in: disposition) ?? "", filename: Self.parameter("filename", in: disposition), data: current))
            headers = []
            current = Data()
        }
        do { try parser.execute(body) } catch { throw Abort(.badRequest, reason: "The multipart/form-data body could not be read.") }
        self.parts = parts
    }

    func all(named name: String) -> [Part] { parts.filter { $0.name == name || $0.name == name + "[]" } }
    func text(_ name: String) -> String? { parts.first { $0.name == name }.map { String(decoding: $0.data, as: UTF8.self) } }

    /// A parameter of a Content-Disposition header: name="files"; filename="a.py".
    static func parameter(_ key: String, in header: String) -> String? {
        for piece in header.split(separator: ";") {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix(key + "=") else { continue }
            var value = String(pair.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.replacingOccurrences(of: "\\\"", with: "\"")
        }
        return nil
    }
}
