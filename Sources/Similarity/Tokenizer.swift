// Source code read as a stream of tokens in which a renamed variable or a changed constant looks the same: names
// become `$id`, numbers `$num`, strings and characters `$str`; keywords and operators stay as written; comments,
// blank space and (in C and C++) preprocessor lines go. This is what makes "the same program with other names" the
// same sequence.

/// The languages whose hand-ins are compared, told by a file's extension.
public enum SourceLanguage: String, Sendable, CaseIterable, Codable {
    case python, c, cpp, java, javascript

    /// The language of a file by its extension, or nil for files that are not compared (data, notes, binaries).
    public static func of(fileName: String) -> SourceLanguage? {
        guard let dot = fileName.lastIndex(of: "."), !fileName[dot...].contains("/") else { return nil }
        switch fileName[fileName.index(after: dot)...].lowercased() {
        case "py", "pyw": return .python
        case "c", "h": return .c
        case "cc", "cpp", "cxx", "c++", "hh", "hpp", "hxx": return .cpp
        case "java": return .java
        case "js", "mjs", "cjs", "jsx", "ts", "tsx": return .javascript
        default: return nil
        }
    }

    var keywords: Set<String> {
        switch self {
        case .python: Keywords.python
        case .c: Keywords.c
        case .cpp: Keywords.cpp
        case .java: Keywords.java
        case .javascript: Keywords.javascript
        }
    }
}

/// One token: its normalised text and the line (from 1) it starts on.
public struct Token: Sendable, Equatable {
    public var text: String
    public var line: Int

    public init(_ text: String, line: Int) { (self.text, self.line) = (text, line) }

    public static let identifier = "$id", number = "$num", string = "$str"
}

public enum Tokenizer {
    /// The normalised tokens of `source` in `language`. Never fails: text it cannot read (an unclosed string or
    /// comment, stray bytes) ends the string or comment at the end of the file, or becomes a one-byte token.
    /// At most `limit` tokens are read: the rest of a very long file is left out.
    public static func tokens(of source: String, in language: SourceLanguage, limit: Int = .max) -> [Token] {
        var lexer = Lexer(bytes: Array(source.utf8), language: language, limit: limit)
        return lexer.run()
    }
}

private struct Lexer {
    let bytes: [UInt8]
    let language: SourceLanguage
    let keywords: Set<String>
    let limit: Int
    var at = 0
    var line = 1
    var tokens: [Token] = []
    /// Only blank space so far on this line (a `#` there starts a C preprocessor line).
    var lineStart = true

    init(bytes: [UInt8], language: SourceLanguage, limit: Int) {
        (self.bytes, self.language, self.keywords, self.limit) = (bytes, language, language.keywords, limit)
    }

    func peek(_ offset: Int = 0) -> UInt8 { at + offset < bytes.count ? bytes[at + offset] : 0 }

    mutating func advance() {
        if bytes[at] == UInt8(ascii: "\n") { line += 1; lineStart = true }
        at += 1
    }

    mutating func skipToEndOfLine() { while at < bytes.count, bytes[at] != UInt8(ascii: "\n") { at += 1 } }

    mutating func run() -> [Token] {
        let cLike = language != .python
        while at < bytes.count, tokens.count < limit {
            let byte = bytes[at]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") || byte == 0x0C {
                advance(); continue
            }
            let startsLine = lineStart
            lineStart = false
            if language == .python, byte == UInt8(ascii: "#") { skipToEndOfLine(); continue }
            if cLike, byte == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "/") { skipToEndOfLine(); continue }
            if cLike, byte == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") {
                // A comment is blank space: `/* note */ #include …` is still a preprocessor line.
                blockComment()
                if startsLine { lineStart = true }
                continue
            }
            if (language == .c || language == .cpp), byte == UInt8(ascii: "#"), startsLine { preprocessorLine(); continue }
            if isIdentifierStart(byte) {
                if let quote = stringPrefix() { string(quote.prefixLength, quote: quote.quote); continue }
                identifier(); continue
            }
            if isDigit(byte) || (byte == UInt8(ascii: ".") && isDigit(peek(1))) { number(); continue }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || (language == .javascript && byte == UInt8(ascii: "`")) {
                string(0, quote: byte); continue
            }
            if language == .javascript, byte == UInt8(ascii: "/"), regexCanStart { regex(); continue }
            punctuation()
        }
        return tokens
    }

    // MARK: Pieces

    mutating func blockComment() {
        at += 2
        while at < bytes.count, !(bytes[at] == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/")) { advance() }
        at = min(at + 2, bytes.count)
    }

    /// A C preprocessor line (with its backslash continuations) says which headers and macros a file uses: left out,
    /// like the boilerplate it usually is.
    mutating func preprocessorLine() {
        while at < bytes.count, bytes[at] != UInt8(ascii: "\n") {
            if bytes[at] == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "\n") { at += 1 }
            if bytes[at] == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "\r"), peek(2) == UInt8(ascii: "\n") { at += 2 }  // Windows line ends
            advance()
        }
    }

    /// In JavaScript a `/` after an operator, an opening bracket, a comma or a keyword such as `return` (or at the
    /// start) begins a regular expression, not a division: read whole, so `/\/*$/` does not open a comment.
    var regexCanStart: Bool {
        guard let previous = tokens.last?.text else { return true }
        if previous == Token.identifier || previous == Token.number || previous == Token.string { return false }
        if [")", "]", "}", "++", "--", "this", "super", "true", "false", "null", "undefined"].contains(previous) { return false }
        return true
    }

    mutating func regex() {
        let startLine = line
        at += 1
        var inClass = false
        while at < bytes.count, bytes[at] != UInt8(ascii: "\n") {
            let byte = bytes[at]
            if byte == UInt8(ascii: "\\") { at = min(at + 2, bytes.count); continue }
            if byte == UInt8(ascii: "[") { inClass = true } else if byte == UInt8(ascii: "]") { inClass = false }
            at += 1
            if byte == UInt8(ascii: "/"), !inClass { break }
        }
        while at < bytes.count, isIdentifierPart(bytes[at]) { at += 1 }  // flags
        tokens.append(Token(Token.string, line: startLine))
    }

    mutating func identifier() {
        let start = at, startLine = line
        while at < bytes.count, isIdentifierPart(bytes[at]) { at += 1 }
        let word = String(decoding: bytes[start..<at], as: UTF8.self)
        tokens.append(Token(keywords.contains(word) ? word : Token.identifier, line: startLine))
    }

    mutating func number() {
        let startLine = line
        // In a hexadecimal number e is a digit (0xE-1 is 0xE minus 1); only p starts a (hexadecimal float's) exponent.
        let hex = bytes[at] == UInt8(ascii: "0") && peek(1) | 0x20 == UInt8(ascii: "x")
        while at < bytes.count, tokens.count < limit {
            let byte = bytes[at]
            if isIdentifierPart(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "'") && language == .cpp {
                let exponent = byte | 0x20 == (hex ? UInt8(ascii: "p") : UInt8(ascii: "e"))
                at += 1
                if exponent, peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { at += 1 }
            } else {
                break
            }
        }
        tokens.append(Token(Token.number, line: startLine))
    }

    /// A string's prefix before its quote: Python's r, b, f, u and their pairs; C++'s u8, u, U, L and R (raw).
    func stringPrefix() -> (prefixLength: Int, quote: UInt8)? {
        var length = 0
        while length < 3, isIdentifierPart(peek(length)) { length += 1 }
        let quote = peek(length)
        guard length > 0, quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else { return nil }
        let prefix = String(decoding: bytes[at..<at + length], as: UTF8.self)
        switch language {
        case .python: return ["r", "b", "f", "u", "rb", "br", "fr", "rf"].contains(prefix.lowercased()) ? (length, quote) : nil
        case .c, .cpp: return ["L", "u", "U", "u8", "R", "LR", "uR", "UR", "u8R"].contains(prefix) ? (length, quote) : nil
        case .java, .javascript: return nil
        }
    }

    mutating func string(_ prefixLength: Int, quote: UInt8) {
        let startLine = line
        let raw = (language == .cpp || language == .c) && prefixLength > 0 && bytes[at + prefixLength - 1] == UInt8(ascii: "R")
        at += prefixLength
        if raw { rawString() } else if quote != UInt8(ascii: "`"), peek(1) == quote, peek(2) == quote, language == .python || language == .java {
            at += 3
            while at < bytes.count, !(bytes[at] == quote && peek(1) == quote && peek(2) == quote) {
                if bytes[at] == UInt8(ascii: "\\") { at += 1; if at >= bytes.count { break } }
                advance()
            }
            at = min(at + 3, bytes.count)
        } else {
            at += 1
            while at < bytes.count, bytes[at] != quote {
                if bytes[at] == UInt8(ascii: "\\") {
                    // An escaped character, or a line continued with a backslash: part of the string.
                    at += 1
                    if at >= bytes.count { break }
                    if bytes[at] == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { at += 1 }
                    advance()
                    continue
                }
                // Only JavaScript's template strings run over lines; any other unclosed string ends with its line.
                if bytes[at] == UInt8(ascii: "\n"), quote != UInt8(ascii: "`") { break }
                advance()
            }
            if at < bytes.count, bytes[at] == quote { at += 1 }
        }
        tokens.append(Token(Token.string, line: startLine))
    }

    /// C++ R"delim( … )delim".
    mutating func rawString() {
        at += 1
        var delimiter: [UInt8] = []
        while at < bytes.count, bytes[at] != UInt8(ascii: "("), delimiter.count < 16 { delimiter.append(bytes[at]); at += 1 }
        let end = [UInt8(ascii: ")")] + delimiter + [UInt8(ascii: "\"")]
        while at < bytes.count, !bytes[at...].starts(with: end) { advance() }
        at = min(at + end.count, bytes.count)
    }

    static let operators: [String] = [
        ">>>=", "<<=", ">>=", "**=", "//=", "...", "===", "!==", ">>>", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&",
        "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "::", "**", "//", "=>", "?.", "??", ":=",
    ].sorted { $0.count > $1.count }
    static let operatorBytes = operators.map { Array($0.utf8) }

    mutating func punctuation() {
        let startLine = line
        for (index, op) in Self.operatorBytes.enumerated() where bytes[at...].starts(with: op) {
            at += op.count
            tokens.append(Token(Self.operators[index], line: startLine))
            return
        }
        tokens.append(Token(String(decoding: [bytes[at]], as: UTF8.self), line: startLine))
        advance()
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
/// Letters, `_`, `$` (Java and JavaScript names) and any byte of a non-ASCII character.
private func isIdentifierStart(_ byte: UInt8) -> Bool {
    (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$") || byte >= 0x80
}
private func isIdentifierPart(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || isDigit(byte) }

enum Keywords {
    static let python: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
        "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
        "return", "try", "while", "with", "yield",
    ]
    static let c: Set<String> = [
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern", "float", "for", "goto",
        "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
        "typedef", "union", "unsigned", "void", "volatile", "while", "_Bool", "bool", "true", "false", "NULL",
    ]
    static let cpp: Set<String> = c.union([
        "alignas", "alignof", "and", "asm", "catch", "class", "constexpr", "const_cast", "decltype", "delete", "dynamic_cast", "explicit",
        "export", "friend", "mutable", "namespace", "new", "noexcept", "not", "nullptr", "operator", "or", "private", "protected", "public",
        "reinterpret_cast", "static_assert", "static_cast", "template", "this", "throw", "try", "typeid", "typename", "using", "virtual",
        "wchar_t", "override", "final", "auto",
    ])
    static let java: Set<String> = [
        "abstract", "assert", "boolean", "break", "byte", "case", "catch", "char", "class", "const", "continue", "default", "do", "double",
        "else", "enum", "extends", "final", "finally", "float", "for", "goto", "if", "implements", "import", "instanceof", "int",
        "interface", "long", "native", "new", "package", "private", "protected", "public", "return", "short", "static", "strictfp",
        "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try", "void", "volatile", "while", "var", "record",
        "yield", "true", "false", "null",
    ]
    static let javascript: Set<String> = [
        "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "export", "extends",
        "false", "finally", "for", "function", "if", "import", "in", "instanceof", "let", "new", "null", "return", "super", "switch",
        "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield", "async", "await", "of", "undefined",
    ]
}
