// The passages two hand-ins share: maximal runs of tokens equal in both (after normalising), found along each
// diagonal of matching k-token hashes, then laid out greedily longest first so no token is claimed by two passages
// (as greedy string tiling does). Runs through starter code or a common fragment are cut there.

public struct Matches: Sendable, Equatable, Codable {
    /// Lines `first...last` of one file.
    public struct Span: Sendable, Equatable, Codable {
        public var file: String
        public var first: Int
        public var last: Int
    }

    /// One shared passage: `tokens` long, where it lies in each hand-in.
    public struct Passage: Sendable, Equatable, Codable {
        public var tokens: Int
        public var a: Span
        public var b: Span
    }

    /// Longest first, no token in two of them.
    public var passages: [Passage]
    public var longestRun: Int

    init(_ a: TokenizedDocument, _ b: TokenizedDocument, leaveOut: Set<UInt64>, k: Int) {
        let runs = Self.runs(Places(a, leaveOut: leaveOut), b, leaveOut: leaveOut)
        var takenA = Array(repeating: false, count: a.tokenCount), takenB = Array(repeating: false, count: b.tokenCount)
        var passages: [Passage] = []
        for run in runs.sorted(by: { ($0.length, -$0.a, -$0.b) > ($1.length, -$1.a, -$1.b) }) {
            let inA = run.a..<(run.a + run.length + k - 1), inB = run.b..<(run.b + run.length + k - 1)
            guard !inA.contains(where: { takenA[$0] }), !inB.contains(where: { takenB[$0] }) else { continue }
            for index in inA { takenA[index] = true }
            for index in inB { takenB[index] = true }
            passages.append(Passage(tokens: inA.count, a: Self.span(a, inA), b: Self.span(b, inB)))
        }
        self.passages = passages
        self.longestRun = passages.first?.tokens ?? 0
    }

    /// The longest shared run in tokens, without laying out the rest (what ranking a pair needs).
    static func longestRun(_ a: Places, _ b: TokenizedDocument, leaveOut: Set<UInt64>, k: Int) -> Int {
        runs(a, b, leaveOut: leaveOut).map(\.length).max().map { $0 + k - 1 } ?? 0
    }

    static func span(_ document: TokenizedDocument, _ tokens: Range<Int>) -> Span {
        let first = document.places[tokens.lowerBound], last = document.places[tokens.upperBound - 1]
        return Span(file: document.files[first.file].name, first: first.line, last: last.line)
    }

    /// Where each k-token hash of a hand-in is, built once per hand-in. A hash found more than `repeatLimit` times
    /// (generated tables, a statement repeated to pad the file) is left out: it would make every comparison with
    /// this hand-in cost its count times over, and says little about copying.
    struct Places: Sendable {
        static let repeatLimit = 16
        var of: [UInt64: [Int]] = [:]

        init(_ document: TokenizedDocument, leaveOut: Set<UInt64>) {
            for (index, hash) in document.kgrams.enumerated() {
                guard let hash, !leaveOut.contains(hash) else { continue }
                of[hash, default: []].append(index)
            }
            of = of.filter { $0.value.count <= Self.repeatLimit }
        }
    }

    struct Run { var a: Int; var b: Int; var length: Int }

    /// Every maximal diagonal run of equal k-token hashes (lengths in hashes).
    static func runs(_ a: Places, _ b: TokenizedDocument, leaveOut: Set<UInt64>) -> [Run] {
        var open: [Int: Run] = [:]  // by diagonal (a - b): the run that reached the previous position of b
        var finished: [Run] = []
        for (j, hash) in b.kgrams.enumerated() {
            guard let hash, let list = a.of[hash] else { continue }
            for i in list {
                if var run = open[i - j], run.b + run.length == j {
                    run.length += 1
                    open[i - j] = run
                } else {
                    if let ended = open[i - j] { finished.append(ended) }
                    open[i - j] = Run(a: i, b: j, length: 1)
                }
            }
        }
        return finished + open.values
    }
}
