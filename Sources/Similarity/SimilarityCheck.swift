// A similarity check over one assignment's hand-ins: every pair of students that shares fingerprints, ranked, with
// what everyone was given (starter code) and what almost everyone wrote (the obvious way to do a small task) left
// out. Hand-ins from earlier offerings are sources only: compared with this offering's, never with each other.
// The result measures likeness; whether it means anything is for a person to judge.

public struct SimilarityCheck: Sendable {
    public struct Options: Sendable, Equatable, Codable {
        /// Tokens in a hashed run: shared runs shorter than this are noise.
        public var k: Int
        /// The winnowing window: shared runs of k + window - 1 tokens or more are always found.
        public var window: Int
        /// A fragment found in more than this share of this offering's hand-ins, and in at least `commonMinimum` of
        /// them, is common to the task (the obvious way to read the input), and left out. The minimum keeps a small
        /// class's copies from being called common because several students share them (MOSS instead ignores a
        /// passage found in more than 10 hand-ins, whatever the class's size).
        public var commonShare: Double
        public var commonMinimum: Int
        /// Tokens read of each hand-in (about 2,000 lines of code): a larger one is compared by its beginning.
        public var maxTokens: Int
        /// The most similar pairs whose longest shared run is measured; the rest are listed without it.
        public var measuredPairs: Int
        /// The most similar pairs the report lists (all are counted in its histogram and `pairsFound`).
        public var keptPairs: Int

        public static let defaultMaxTokens = 20_000
        /// Similarity is shared fingerprints over at least this many: a hand-in of a line or two is not "100% alike".
        public static let fewestFingerprints = 8

        /// Tokens of starter code read: it may be larger than any hand-in (a whole project handed out).
        public static let starterTokens = 200_000

        public init(k: Int = 12, window: Int = 8, commonShare: Double = 0.5, commonMinimum: Int = 10, maxTokens: Int = defaultMaxTokens,
                    measuredPairs: Int = 1_000, keptPairs: Int = .max) {
            (self.k, self.window, self.commonShare, self.commonMinimum) = (max(k, 1), max(window, 1), commonShare, commonMinimum)
            (self.maxTokens, self.measuredPairs, self.keptPairs) = (maxTokens, measuredPairs, max(keptPairs, 0))
        }
    }

    /// One student's hand-in (or an earlier offering's, `earlier`). Two hand-ins of one `author` (a student who
    /// takes the course again, against their own earlier hand-in) are not compared.
    public struct Document: Sendable {
        public var id: String
        public var files: [SourceFile]
        public var earlier: Bool
        public var author: String?

        public init(id: String, files: [SourceFile], earlier: Bool = false, author: String? = nil) {
            (self.id, self.files, self.earlier, self.author) = (id, files, earlier, author)
        }
    }

    public struct Pair: Sendable, Equatable, Codable {
        public var a: String
        public var b: String
        /// Shared fingerprints over the smaller hand-in's: 1 when one is contained in the other.
        public var similarity: Double
        /// The shares of each hand-in's fingerprints found in the other.
        public var shareOfA: Double
        public var shareOfB: Double
        public var sharedFingerprints: Int
        /// The longest run of tokens the two have in common, outside starter code and common fragments (nil beyond
        /// the `measuredPairs` most similar).
        public var longestRun: Int?
        /// `b` is a hand-in from an earlier offering.
        public var bIsEarlier: Bool
    }

    public struct Summary: Sendable, Equatable, Codable {
        public var id: String
        public var tokens: Int
        public var fingerprints: Int
        public var earlier: Bool
        /// Longer than `maxTokens`: only its beginning was compared.
        public var truncated: Bool
    }

    public struct Report: Sendable, Equatable, Codable {
        public var options: Options
        /// Pairs that share anything, most similar first (then by longest run): the `keptPairs` most similar.
        public var pairs: [Pair]
        /// Pairs that share anything, kept or not.
        public var pairsFound: Int
        /// How many compared pairs (this offering's hand-ins with each other and with earlier ones, not two of one
        /// author) fall in each tenth of similarity, those sharing nothing in the first.
        public var histogram: [Int]
        public var documents: [Summary]
        /// Fingerprints left out as starter code and as common to most hand-ins.
        public var starterFingerprints: Int
        public var commonFingerprints: Int
        /// Every k-token hash left out (starter code and common fragments): kept with a check so one pair can be
        /// laid out again later (`matches(_:_:leavingOut:)`) without reading the whole class. Not encoded.
        public var leftOut: Set<UInt64> = []

        enum CodingKeys: String, CodingKey { case options, pairs, pairsFound, histogram, documents, starterFingerprints, commonFingerprints }

        /// Groups of this offering's students joined by pairs at or above `threshold`, largest first; each
        /// group's ids in the order of the documents.
        public func clusters(threshold: Double) -> [[String]] {
            let index = Dictionary(documents.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
            var parent = Array(documents.indices)
            func root(_ node: Int) -> Int {
                var node = node
                while parent[node] != node { parent[node] = parent[parent[node]]; node = parent[node] }
                return node
            }
            for pair in pairs where pair.similarity >= threshold && !pair.bIsEarlier {
                guard let a = index[pair.a], let b = index[pair.b] else { continue }
                parent[root(a)] = root(b)
            }
            let groups = Dictionary(grouping: documents.indices.filter { !documents[$0].earlier }, by: root).values
                .filter { $0.count > 1 }.map { $0.sorted() }
            return groups.sorted { ($0.count, -$0[0]) > ($1.count, -$1[0]) }.map { $0.map { documents[$0].id } }
        }
    }

    public var options: Options

    public init(options: Options = Options()) { self.options = options }

    /// Compares every hand-in of this offering with every other and with each earlier one.
    public func run(_ documents: [Document], starter: [SourceFile] = []) -> Report {
        let read = documents.map { TokenizedDocument(files: $0.files, k: options.k, maxTokens: options.maxTokens) }
        let (starterHashes, common) = leftOut(read, earlier: documents.map(\.earlier), starter: starter)
        let leaveOut = starterHashes.union(common)
        let prints = read.map { $0.fingerprints(window: options.window, leaveOut: leaveOut) }

        // Pairs that share anything, found through who holds each fingerprint (common ones are gone, so lists are short).
        var holders: [UInt64: [Int]] = [:]
        for (index, set) in prints.enumerated() { for hash in set { holders[hash, default: []].append(index) } }
        var shared: [Int: Int] = [:]
        let n = documents.count
        func compared(_ i: Int, _ j: Int) -> Bool {
            !(documents[i].earlier && documents[j].earlier) && (documents[i].author == nil || documents[i].author != documents[j].author)
        }
        for list in holders.values where list.count > 1 {
            for i in 0..<list.count {
                for j in (i + 1)..<list.count where compared(list[i], list[j]) {
                    shared[list[i] * n + list[j], default: 0] += 1
                }
            }
        }
        // Every pair that shares anything, as small values; Pair values (with their ids) only for the kept ones.
        var scored = shared.map { key, count -> (similarity: Double, count: Int, a: Int, b: Int) in
            var (a, b) = (key / n, key % n)
            if documents[a].earlier { swap(&a, &b) }
            let smaller = max(min(prints[a].count, prints[b].count), Options.fewestFingerprints)
            return (Double(count) / Double(smaller), count, a, b)
        }
        shared = [:]
        var histogram = Array(repeating: 0, count: 10)
        for pair in scored { histogram[min(9, Int(pair.similarity * 10))] += 1 }
        histogram[0] += comparablePairs(documents) - scored.count
        let pairsFound = scored.count
        scored.sort { ($0.similarity, $0.count, $1.a, $1.b) > ($1.similarity, $1.count, $0.a, $0.b) }
        var found = scored.prefix(options.keptPairs).map { similarity, count, a, b -> (pair: Pair, a: Int, b: Int) in
            let sizeA = max(prints[a].count, Options.fewestFingerprints), sizeB = max(prints[b].count, Options.fewestFingerprints)
            return (Pair(a: documents[a].id, b: documents[b].id, similarity: similarity, shareOfA: Double(count) / Double(sizeA),
                         shareOfB: Double(count) / Double(sizeB), sharedFingerprints: count, longestRun: nil, bIsEarlier: documents[b].earlier), a, b)
        }
        scored = []
        // The longest shared run of the most similar pairs, each hand-in's hash places built once.
        var places: [Int: Matches.Places] = [:]
        for index in found.indices.prefix(options.measuredPairs) {
            let (a, b) = (found[index].a, found[index].b)
            if places[a] == nil { places[a] = Matches.Places(read[a], leaveOut: leaveOut) }
            found[index].pair.longestRun = Matches.longestRun(places[a]!, read[b], leaveOut: leaveOut, k: options.k)
        }
        let pairs = found.sorted {
            ($0.pair.similarity, $0.pair.longestRun ?? 0, $1.a, $1.b) > ($1.pair.similarity, $1.pair.longestRun ?? 0, $0.a, $0.b)
        }.map(\.pair)
        return Report(options: options, pairs: pairs, pairsFound: pairsFound, histogram: histogram,
                      documents: documents.indices.map { Summary(id: documents[$0].id, tokens: read[$0].tokenCount, fingerprints: prints[$0].count,
                                                                 earlier: documents[$0].earlier, truncated: read[$0].truncated) },
                      starterFingerprints: starterHashes.count, commonFingerprints: common.count, leftOut: leaveOut)
    }

    /// Pairs the check compares: this offering's hand-ins with each other and with each earlier one, but not two of
    /// one author.
    func comparablePairs(_ documents: [Document]) -> Int {
        let current = documents.filter { !$0.earlier }.count, earlier = documents.count - current
        var total = current * (current - 1) / 2 + current * earlier
        for group in Dictionary(grouping: documents.filter { $0.author != nil }, by: { $0.author! }).values where group.count > 1 {
            let mine = group.filter { !$0.earlier }.count
            total -= mine * (mine - 1) / 2 + mine * (group.count - mine)
        }
        return total
    }

    /// Two hand-ins side by side: the passages they share, as the check counted them (the same starter code and
    /// common fragments left out, so `documents` must be the whole check's).
    public func matches(_ a: Int, _ b: Int, in documents: [Document], starter: [SourceFile] = []) -> Matches {
        let read = documents.map { TokenizedDocument(files: $0.files, k: options.k, maxTokens: options.maxTokens) }
        let (starterHashes, common) = leftOut(read, earlier: documents.map(\.earlier), starter: starter)
        return Matches(read[a], read[b], leaveOut: starterHashes.union(common), k: options.k)
    }

    /// Two hand-ins side by side, with what a check left out (`Report.leftOut`): the same passages as
    /// `matches(_:_:in:starter:)` gives with the whole class, from these two alone.
    public func matches(_ a: Document, _ b: Document, leavingOut leftOut: Set<UInt64>) -> Matches {
        let read = [a, b].map { TokenizedDocument(files: $0.files, k: options.k, maxTokens: options.maxTokens) }
        return Matches(read[0], read[1], leaveOut: leftOut, k: options.k)
    }

    /// The starter code's k-token runs, and those found in more than `commonShare` of this offering's hand-ins (and
    /// in at least `commonMinimum`): earlier offerings do not vote.
    func leftOut(_ read: [TokenizedDocument], earlier: [Bool], starter: [SourceFile]) -> (starter: Set<UInt64>, common: Set<UInt64>) {
        let starterHashes = Set(TokenizedDocument(files: starter, k: options.k, maxTokens: Options.starterTokens).kgrams.compactMap { $0 })
        var seenIn: [UInt64: Int] = [:]
        for (index, document) in read.enumerated() where !earlier[index] {
            for hash in Set(document.kgrams.compactMap { $0 }) where !starterHashes.contains(hash) { seenIn[hash, default: 0] += 1 }
        }
        let current = Double(earlier.filter { !$0 }.count)
        let common = seenIn.filter { Double($0.value) > options.commonShare * current && $0.value >= options.commonMinimum }.keys
        return (starterHashes, Set(common))
    }
}
