// What the code similarity pages are given: an assignment's checks with the forms to run one and to store starter
// code; one check's results; one pair side by side. Code is shown only through Leaf's escaping `#(…)`.
import Foundation
import Insight
import Similarity

/// An assignment's checks, newest first, 50 a page, with "Run a check" and the starter code.
struct SimilarityPage: Encodable {
    struct Source: Encodable { var id: String; var label: String; var checked: Bool }
    struct Row: Encodable { var created: String; var by: String; var status: String; var handIns: Int; var pairs: Int; var link: String }
    var title: String
    var page: PageContext
    var assignmentLink: String
    var start: String
    var starterAction: String
    var sources: [Source]
    var starterFiles: [String]
    var starterUploaded: String?
    var rows: [Row]
    var pager: Pager
    var json: String

    init(page: PageContext, found: AssignmentInContext, checks: [SimilarityCheckDTO], sources: [SimilaritySourceDTO], starter: StarterCodeDTO,
         pageNumber: Int, total: Int) {
        let id = found.assignment.id!
        (self.page, title) = (page, "Code similarity: \(found.assignment.title)")
        (assignmentLink, start, starterAction) = (SitePath.assignment(.id(id)).url, SitePath.assignmentSimilarity(.id(id)).url, SitePath.assignmentStarter(.id(id)).url)
        self.sources = sources.map { Source(id: $0.assignmentID.uuidString, label: "\($0.title), \($0.course)", checked: $0.sameTitle) }
        starterFiles = starter.files
        starterUploaded = starter.uploadedAt.flatMap(PageFormat.when).map { "Uploaded \($0)\(starter.uploadedBy.map { " by \($0)" } ?? "")." }
        rows = checks.map { check in
            Row(created: PageFormat.when(check.createdAt) ?? "", by: check.requestedBy, status: check.status, handIns: check.handIns,
                pairs: check.pairsFound, link: SitePath.similarityCheck(.id(check.id)).url)
        }
        pager = Pager(path: start, number: pageNumber, total: total, noun: "checks")
        json = "/api/v1/assignments/\(id)/similarity-checks"  // listSimilarityChecks
    }
}

/// One check: what it read, the histogram, clusters and the pairs, most similar first.
struct SimilarityCheckPage: Encodable {
    struct PairRow: Encodable {
        var rank: Int; var a: String; var b: String; var earlier: Bool; var similarity: String; var shares: String; var run: String; var link: String
    }
    var title: String
    var page: PageContext
    var assignmentLink: String
    var back: String
    var finished: Bool
    var check: SimilarityCheckDTO
    var summary: [String]
    var histogram: String
    var clusters: [String]
    var rows: [PairRow]
    var pager: Pager
    var json: String

    init(page: PageContext, found: AssignmentInContext, check: SimilarityCheckDTO, pairs: [SimilarityPairDTO], pageNumber: Int) {
        let id = found.assignment.id!
        (self.page, self.check, finished) = (page, check, check.status == "done" || check.status == "failed")
        title = "Similarity check: \(found.assignment.title)"
        (assignmentLink, back) = (SitePath.assignment(.id(id)).url, SitePath.assignmentSimilarity(.id(id)).url)
        var summary = ["\(check.handIns) hand-ins compared (each student's latest)"]
        if check.earlierHandIns > 0 { summary.append("\(check.earlierHandIns) hand-ins of earlier offerings, as sources only") }
        if check.starterFiles > 0 { summary.append("\(check.starterFiles) starter files left out (\(check.starterFingerprints) fingerprints)") }
        if check.commonFingerprints > 0 { summary.append("\(check.commonFingerprints) fingerprints left out as common to most hand-ins") }
        if check.truncated > 0 { summary.append("\(check.truncated) hand-ins too long to read whole: compared by their first 20,000 tokens") }
        summary.append("\(check.pairsFound) pairs share some code\(check.pairsFound > check.pairsKept ? "; the \(check.pairsKept) most similar are listed" : "")")
        self.summary = summary
        histogram = SVGChart.bars(check.histogram.enumerated().map { SVGChart.Point("\($0.offset * 10)–\($0.offset * 10 + 10)%", Double($0.element)) },
                                  title: "Pairs by similarity", empty: "No pairs yet.")
        clusters = check.clusters.map { $0.map(\.name).joined(separator: ", ") }
        rows = pairs.map { pair in
            PairRow(rank: pair.rank, a: pair.a.name, b: pair.b.name + (pair.b.earlier && pair.b.userID != nil ? " (\(pair.b.course))" : ""), earlier: pair.b.earlier,
                    similarity: Self.percent(pair.similarity), shares: "\(Self.percent(pair.shareOfA)) / \(Self.percent(pair.shareOfB))",
                    run: pair.longestRun.map { "\($0) tokens" } ?? "–", link: SitePath.similarityPair(.id(pair.id)).url)
        }
        pager = Pager(path: SitePath.similarityCheck(.id(check.id)).url, number: pageNumber, total: check.pairsKept, noun: "pairs")
        json = "/api/v1/similarity-checks/\(check.id)/pairs"  // listSimilarityPairs
    }

    static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded()))%" }
}

/// Two hand-ins side by side, the lines of each shared passage marked with its number.
struct SimilarityPairPage: Encodable {
    struct Line: Encodable { var number: Int; var text: String; var passage: Int }
    struct File: Encodable { var name: String; var lines: [Line]; var cut: Bool }
    struct Side: Encodable { var who: String; var submission: String?; var files: [File]; var hidden: Bool }
    struct PassageRow: Encodable { var number: Int; var tokens: Int; var a: String; var b: String }
    /// Lines shown of each hand-in at most.
    static let linesShown = 4_000

    var title: String
    var page: PageContext
    var back: String
    var similarity: String
    var run: String
    var passages: [PassageRow]
    var sides: [Side]
    var json: String

    init(page: PageContext, found: AssignmentInContext, shown: (pair: SimilarityPairDTO, a: [SourceFile], b: [SourceFile]?)) {
        let pair = shown.pair, passages = pair.passages ?? []
        (self.page, title) = (page, "\(pair.a.name) and \(pair.b.name)")
        back = SitePath.similarityCheck(.id(pair.checkID)).url
        similarity = "\(SimilarityCheckPage.percent(pair.similarity)) similar (\(SimilarityCheckPage.percent(pair.shareOfA)) of the first hand-in, "
            + "\(SimilarityCheckPage.percent(pair.shareOfB)) of the second)"
        run = pair.longestRun.map { "Longest shared run: \($0) tokens." } ?? ""
        self.passages = passages.enumerated().map { index, passage in
            PassageRow(number: index + 1, tokens: passage.tokens, a: "\(passage.a.file), lines \(passage.a.firstLine)–\(passage.a.lastLine)",
                       b: passage.b.map { "\($0.file), lines \($0.firstLine)–\($0.lastLine)" } ?? "not shown")
        }
        sides = [
            Self.side(pair.a, shown.a, passages.map(\.a)),
            shown.b.map { Self.side(pair.b, $0, passages.map { $0.b }) }
                ?? Side(who: pair.b.name, submission: nil, files: [], hidden: true),
        ]
        json = "/api/v1/similarity-pairs/\(pair.id)"  // getSimilarityPair
    }

    static func side(_ who: SimilarityHandIn, _ files: [SourceFile], _ spans: [SimilarityPairDTO.Span?]) -> Side {
        var left = linesShown
        let shown = files.map { file -> File in
            // Lines end at "\n" as the tokenizer counts them ("\r\n" is one Character in Swift: split the scalars).
            let all = file.text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
            let count = min(all.count, max(left, 0))
            // Each line's passage (the first, longest, that covers it), marked once per passage rather than looked up per line.
            var passageOf = Array(repeating: 0, count: count + 1)
            for (index, span) in spans.enumerated().reversed() {
                guard let span, span.file == file.name, span.firstLine <= count else { continue }
                for number in max(span.firstLine, 1)...min(max(span.lastLine, span.firstLine), count) { passageOf[number] = index + 1 }
            }
            let lines = all.prefix(count).enumerated().map { index, scalars -> Line in
                var text = String(String.UnicodeScalarView(scalars.prefix(400)))
                if text.hasSuffix("\r") { text.removeLast() }
                return Line(number: index + 1, text: text, passage: passageOf[index + 1])
            }
            left -= lines.count
            return File(name: file.name, lines: lines, cut: lines.count < all.count)
        }
        return Side(who: "\(who.name)\(who.attempt.map { ", attempt \($0)" } ?? "")\(who.earlier && who.userID != nil ? " (\(who.course))" : "")",
                    submission: who.submissionID.map { SitePath.submission(.id($0)).url }, files: shown, hidden: false)
    }
}
