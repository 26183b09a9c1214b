// Winnowing (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for document fingerprinting", 2003), the
// method behind MOSS: hash every run of k tokens, then keep the smallest hash of each window of w consecutive hashes.
// Any run of k + w - 1 tokens two documents share is guaranteed to give both a common fingerprint; runs shorter
// than k never do. A document's fingerprints are a small sample of it that still finds every long shared passage.

/// A source file of a hand-in.
public struct SourceFile: Sendable, Equatable {
    public var name: String
    public var text: String

    public init(name: String, text: String) { (self.name, self.text) = (name, text) }

    /// A file as stored: UTF-16 when it starts with a UTF-16 byte order mark (some Windows editors save so), else
    /// UTF-8 (a UTF-8 mark dropped); bytes that are not text in that encoding become U+FFFD.
    public init(name: String, bytes: [UInt8]) {
        self.name = name
        func utf16(bigEndian: Bool) -> String {
            var units: [UInt16] = []
            units.reserveCapacity(bytes.count / 2)
            for index in stride(from: 2, to: bytes.count - 1, by: 2) {
                let (high, low) = bigEndian ? (bytes[index], bytes[index + 1]) : (bytes[index + 1], bytes[index])
                units.append(UInt16(high) << 8 | UInt16(low))
            }
            return String(decoding: units, as: UTF16.self)
        }
        if bytes.starts(with: [0xFF, 0xFE]) {
            text = utf16(bigEndian: false)
        } else if bytes.starts(with: [0xFE, 0xFF]) {
            text = utf16(bigEndian: true)
        } else {
            text = String(decoding: bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes.dropFirst(3) : bytes[...], as: UTF8.self)
        }
    }
}

/// A hand-in read for comparison: its tokens (files in name order), where each token came from, and the hash of
/// every k-token run.
public struct TokenizedDocument: Sendable {
    public struct Place: Sendable, Equatable {
        public var file: Int
        public var line: Int
    }
    /// The files that were read (those in a known language), in name order.
    public var files: [SourceFile]
    public var places: [Place]
    /// `kgrams[i]` is the hash of tokens i ..< i + k of one file; nil where the run would cross into the next file.
    public var kgrams: [UInt64?]

    /// Tokens past `maxTokens` (all files together) are not read, and `truncated` says so: no hand-in, however
    /// large, costs more than that.
    public var truncated: Bool

    public init(files: [SourceFile], k: Int, maxTokens: Int = SimilarityCheck.Options.defaultMaxTokens) {
        let read = files.filter { SourceLanguage.of(fileName: $0.name) != nil }.sorted { $0.name < $1.name }
        var places: [Place] = [], kgrams: [UInt64?] = [], truncated = false
        for (index, file) in read.enumerated() {
            let room = maxTokens - places.count
            guard room > 0 else { truncated = true; break }
            let tokens = Tokenizer.tokens(of: file.text, in: SourceLanguage.of(fileName: file.name)!, limit: room + 1)
            if tokens.count > room { truncated = true }
            places += tokens.prefix(room).map { Place(file: index, line: $0.line) }
            kgrams += Self.hashes(tokens.prefix(room).map { Self.hash($0.text) }, k: k)
        }
        (self.files, self.places, self.kgrams, self.truncated) = (read, places, kgrams, truncated)
    }

    public var tokenCount: Int { places.count }

    /// FNV-1a of the token's text: the same text gives the same number in every process (Swift's `Hasher` does not).
    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// One hash per k-token window, one per token position (nil in the last k - 1, whose window runs off the file).
    static func hashes(_ tokens: [UInt64], k: Int) -> [UInt64?] {
        guard tokens.count >= k, k > 0 else { return Array(repeating: nil, count: tokens.count) }
        var result: [UInt64?] = []
        result.reserveCapacity(tokens.count)
        for start in 0...(tokens.count - k) {
            var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
            for token in tokens[start..<start + k] { hash = (hash ^ token) &* 0xff51_afd7_ed55_8ccd; hash ^= hash >> 29 }
            result.append(hash)
        }
        return result + Array(repeating: nil, count: k - 1)
    }

    /// The winnowed fingerprints: in every window of `window` consecutive k-gram hashes, the smallest (the rightmost
    /// of equals), each kept once; `leaveOut` hashes (starter code, common fragments) are skipped first.
    public func fingerprints(window: Int, leaveOut: Set<UInt64> = []) -> Set<UInt64> {
        var kept = Set<UInt64>()
        var run: [UInt64] = []
        func winnow() {
            guard !run.isEmpty else { return }
            if run.count <= window { kept.insert(run.min()!); return }
            for start in 0...(run.count - window) { kept.insert(run[start..<start + window].min()!) }
        }
        // Windows do not span a gap (a left-out hash or a file's end): each stretch between gaps is winnowed alone.
        for hash in kgrams {
            if let hash, !leaveOut.contains(hash) { run.append(hash) } else { winnow(); run.removeAll(keepingCapacity: true) }
        }
        winnow()
        return kept
    }
}
