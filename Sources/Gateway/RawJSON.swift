// A JSON document (RFC 8259) checked whole once, its values kept as the bytes they were sent as. The gateway reads
// the few fields it rules on and passes everything else upstream byte for byte, without building a tree of objects
// first (JSONSerialization's `[String: Any]` trees, read and written again, were a tenth of a model request's time).
// Strict: one value, no trailing commas, no leading zeros, no control characters or invalid UTF-8 in strings, no
// nesting deeper than `maxDepth`.
import Foundation

public struct RawJSON: Sendable {
    public enum Kind: Sendable { case object, array, string, number, bool, null }

    /// A value: where its bytes are (exactly the value, no surrounding space) and what it is.
    public struct Value: Sendable {
        public let range: Range<Int>
        public let kind: Kind
    }

    public struct Invalid: Error, Sendable {
        public let offset: Int
    }

    public static let maxDepth = 256

    public let bytes: [UInt8]
    public let root: Value

    public init(_ data: some Collection<UInt8>) throws(Invalid) {
        let bytes = Array(data)
        guard String(validating: bytes, as: UTF8.self) != nil else { throw Invalid(offset: 0) }
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        let root = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == bytes.count else { throw Invalid(offset: reader.at) }
        self.bytes = bytes
        self.root = root
    }

    /// An object's members in the order sent (a name given twice appears twice). Empty for any other kind.
    public func members(_ object: Value) -> [(name: String, value: Value)] {
        guard object.kind == .object else { return [] }
        var reader = Reader(bytes: bytes, at: object.range.lowerBound + 1)
        var found: [(name: String, value: Value)] = []
        while true {
            reader.skipSpace()
            guard reader.at < object.range.upperBound - 1, let name = try? reader.value(depth: Self.maxDepth), name.kind == .string else { return found }
            reader.skipSpace()
            reader.at += 1  // ':'
            reader.skipSpace()
            guard let value = try? reader.value(depth: 1) else { return found }
            found.append((string(name) ?? "", value))
            reader.skipSpace()
            reader.at += 1  // ',' or '}'
        }
    }

    /// An object's member by name (the last given, as JSONSerialization reads it); nil when absent or not an object.
    public func member(_ object: Value, _ name: String) -> Value? {
        members(object).last { $0.name == name }?.value
    }

    /// An array's elements. Empty for any other kind.
    public func elements(_ array: Value) -> [Value] {
        guard array.kind == .array else { return [] }
        var reader = Reader(bytes: bytes, at: array.range.lowerBound + 1)
        var found: [Value] = []
        while true {
            reader.skipSpace()
            guard reader.at < array.range.upperBound - 1, let value = try? reader.value(depth: 1) else { return found }
            found.append(value)
            reader.skipSpace()
            reader.at += 1  // ',' or ']'
        }
    }

    /// A string's text, its escapes read; nil for any other kind.
    public func string(_ value: Value) -> String? {
        guard value.kind == .string else { return nil }
        let inner = bytes[(value.range.lowerBound + 1)..<(value.range.upperBound - 1)]
        guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(inner.count)
        var index = inner.startIndex
        func hex4(_ at: Int) -> UInt32 {
            bytes[at..<(at + 4)].reduce(UInt32(0)) { $0 << 4 | UInt32(Reader.hexValue($1) ?? 0) }
        }
        while index < inner.endIndex {
            let byte = inner[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            let escape = inner[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(index)
                index += 4
                // A surrogate pair (\uD83D\uDE00) is one character; a lone surrogate becomes U+FFFD.
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= inner.endIndex, inner[index] == UInt8(ascii: "\\"), inner[index + 1] == UInt8(ascii: "u") {
                    let low = hex4(index + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8))
            default: out.append(escape)  // " \ /
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A number's value; nil for any other kind.
    public func number(_ value: Value) -> Double? {
        guard value.kind == .number else { return nil }
        return Double(String(decoding: bytes[value.range], as: UTF8.self))
    }

    public func bool(_ value: Value) -> Bool? {
        guard value.kind == .bool else { return nil }
        return bytes[value.range.lowerBound] == UInt8(ascii: "t")
    }

    /// The value's bytes as sent.
    public func raw(_ value: Value) -> ArraySlice<UInt8> { bytes[value.range] }

    /// `text` as a JSON string, quotes included.
    public static func quoted(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(text.utf8.count + 2)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case ..<0x20: out.append(contentsOf: Array(String(format: "\\u%04x", byte).utf8))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    /// Reads values from `at` on; each read checks the value whole.
    struct Reader {
        let bytes: [UInt8]
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        private func invalid() -> Invalid { Invalid(offset: at) }

        private mutating func expect(_ byte: UInt8) throws(Invalid) {
            guard at < bytes.count, bytes[at] == byte else { throw invalid() }
            at += 1
        }

        mutating func value(depth: Int) throws(Invalid) -> Value {
            guard at < bytes.count else { throw invalid() }
            let start = at
            switch bytes[at] {
            case UInt8(ascii: "{"):
                guard depth < RawJSON.maxDepth else { throw invalid() }
                at += 1
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                    at += 1
                } else {
                    while true {
                        skipSpace()
                        guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw invalid() }
                        try string()
                        skipSpace()
                        try expect(UInt8(ascii: ":"))
                        skipSpace()
                        _ = try value(depth: depth + 1)
                        skipSpace()
                        guard at < bytes.count else { throw invalid() }
                        if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                        try expect(UInt8(ascii: "}"))
                        break
                    }
                }
                return Value(range: start..<at, kind: .object)
            case UInt8(ascii: "["):
                guard depth < RawJSON.maxDepth else { throw invalid() }
                at += 1
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                    at += 1
                } else {
                    while true {
                        skipSpace()
                        _ = try value(depth: depth + 1)
                        skipSpace()
                        guard at < bytes.count else { throw invalid() }
                        if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                        try expect(UInt8(ascii: "]"))
                        break
                    }
                }
                return Value(range: start..<at, kind: .array)
            case UInt8(ascii: "\""):
                try string()
                return Value(range: start..<at, kind: .string)
            case UInt8(ascii: "t"):
                try literal("true")
                return Value(range: start..<at, kind: .bool)
            case UInt8(ascii: "f"):
                try literal("false")
                return Value(range: start..<at, kind: .bool)
            case UInt8(ascii: "n"):
                try literal("null")
                return Value(range: start..<at, kind: .null)
            default:
                try number()
                return Value(range: start..<at, kind: .number)
            }
        }

        private mutating func literal(_ word: StaticString) throws(Invalid) {
            let count = word.utf8CodeUnitCount
            guard at + count <= bytes.count else { throw invalid() }
            for offset in 0..<count where bytes[at + offset] != word.utf8Start[offset] { throw invalid() }
            at += count
        }

        private mutating func string() throws(Invalid) {
            at += 1  // the opening quote
            while at < bytes.count {
                let byte = bytes[at]
                if byte == UInt8(ascii: "\"") {
                    at += 1
                    return
                }
                guard byte >= 0x20 else { throw invalid() }
                if byte == UInt8(ascii: "\\") {
                    guard at + 1 < bytes.count else { throw invalid() }
                    switch bytes[at + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                         UInt8(ascii: "r"), UInt8(ascii: "t"):
                        at += 2
                    case UInt8(ascii: "u"):
                        guard at + 6 <= bytes.count, bytes[(at + 2)..<(at + 6)].allSatisfy({ Self.hexValue($0) != nil }) else { throw invalid() }
                        at += 6
                    default:
                        throw invalid()
                    }
                } else {
                    at += 1
                }
            }
            throw invalid()
        }

        private mutating func number() throws(Invalid) {
            func digits() -> Int {
                let start = at
                while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
                return at - start
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count else { throw invalid() }
            if bytes[at] == UInt8(ascii: "0") {
                at += 1
            } else {
                guard digits() > 0 else { throw invalid() }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { throw invalid() }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw invalid() }
            }
        }

        static func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
    }
}
