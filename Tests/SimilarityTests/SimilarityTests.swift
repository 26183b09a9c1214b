import Foundation
import Similarity
import Testing

@Suite struct TokenizerTests {
    func texts(_ source: String, _ language: SourceLanguage) -> [String] { Tokenizer.tokens(of: source, in: language).map(\.text) }

    @Test func renamedNamesChangedConstantsCommentsAndLayoutGiveTheSameTokens() {
        let one = """
            def total(values):  # sum them
                result = 0
                for v in values:
                    result += v * 2
                return result
            """
        let two = """
            def   add_up(xs):
                '''Adds.'''
                acc = 10
                for item in xs: acc += item * 7
                return acc
            """
        // The docstring is a string token the first has not: everything else is the same.
        #expect(texts(one, .python) == texts(two, .python).filter { $0 != Token.string })
        #expect(texts(one, .python) == ["def", "$id", "(", "$id", ")", ":", "$id", "=", "$num", "for", "$id", "in", "$id", ":", "$id", "+=",
                                        "$id", "*", "$num", "return", "$id"])
    }

    @Test func stringsOfEveryKindAreOneTokenAndLinesAreCounted() {
        let python = "x = f'a{b}' + r\"\\d\" + '''one\ntwo''' + b'z'\ny = 1\n"
        #expect(texts(python, .python) == ["$id", "=", "$str", "+", "$str", "+", "$str", "+", "$str", "$id", "=", "$num"])
        #expect(Tokenizer.tokens(of: python, in: .python).last?.line == 3)
        let javascript = "const s = `line ${a}\nline`; // note\nlet t = 'it\\'s';\n"
        #expect(texts(javascript, .javascript) == ["const", "$id", "=", "$str", ";", "let", "$id", "=", "$str", ";"])
        let cpp = "#include <vector>\nauto s = R\"x(a \"quoted\" )\" text)x\"; std::vector<int> v{1'000, 0x1F};\n/* gone */ a->b >>= 2;"
        #expect(texts(cpp, .cpp) == ["auto", "$id", "=", "$str", ";", "$id", "::", "$id", "<", "int", ">", "$id", "{", "$num", ",", "$num", "}",
                                     ";", "$id", "->", "$id", ">>=", "$num", ";"])
        let java = "String s = \"\"\"\n  block\n  \"\"\"; char c = '\\n'; x >>>= 1e-3;"
        #expect(texts(java, .java) == ["$id", "$id", "=", "$str", ";", "char", "$id", "=", "$str", ";", "$id", ">>>=", "$num", ";"])
    }

    @Test func javascriptRegularExpressionsWindowsLineEndsAndContinuedStrings() {
        // A regular expression holding /* does not open a comment that would hide the rest of the file.
        #expect(texts("s = s.replace(/\\/*$/, ''); let x = a / b / c;", .javascript)
                == ["$id", "=", "$id", ".", "$id", "(", "$str", ",", "$str", ")", ";", "let", "$id", "=", "$id", "/", "$id", "/", "$id", ";"])
        // A macro continued over Windows line ends is all one preprocessor line.
        #expect(texts("#define TWICE(x) \\\r\n  ((x) + (x))\r\nint y;", .c) == ["int", "$id", ";"])
        // A string continued with a backslash stays one string, and lines are still counted.
        let continued = Tokenizer.tokens(of: "s = \"one \\\n two\"\nt = b\"x\"", in: .python)
        #expect(continued.map(\.text) == ["$id", "=", "$str", "$id", "=", "$str"] && continued.last?.line == 3)
    }

    @Test func hexNumbersCommentsBeforeDirectivesAndUTF16() {
        // 0xE-1 is a number, a minus and a number (e is a hex digit); 1e-1 and 0x1p-3 are one number each.
        #expect(texts("x = 0xE-1;", .c) == ["$id", "=", "$num", "-", "$num", ";"])
        #expect(texts("x = 1e-1 + 0x1p-3;", .c) == ["$id", "=", "$num", "+", "$num", ";"])
        // A comment before # still makes a preprocessor line, on one line or across lines.
        #expect(texts("/* headers */ #include <stdio.h>\nint x;", .c) == ["int", "$id", ";"])
        #expect(texts("/* a\n b */ #define N 3\nint x;", .c) == ["int", "$id", ";"])
        // A file saved as UTF-16 (either byte order) or with a UTF-8 mark reads as the same text.
        let source = "def f(x):\n    return x + 1  # é\n"
        let little: [UInt8] = [0xFF, 0xFE] + source.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let big: [UInt8] = [0xFE, 0xFF] + source.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let marked: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(source.utf8)
        for bytes in [little, big, marked, Array(source.utf8)] {
            #expect(SourceFile(name: "f.py", bytes: bytes).text == source)
        }
    }

    @Test func anyBytesTokenizeToTheEndWithinTheLimit() {
        var state: UInt64 = 42
        let alphabet = Array("ab_1 \n\t\r\\\"'`/*#R(){}.;=+-<>$é")
        for round in 0..<400 {
            var text = ""
            for _ in 0..<(round % 60) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            for language in SourceLanguage.allCases {
                let tokens = Tokenizer.tokens(of: text, in: language)
                let lines = text.utf8.filter { $0 == UInt8(ascii: "\n") }.count + 1
                #expect(tokens.allSatisfy { $0.line >= 1 && $0.line <= lines }, "\(language) \(text.debugDescription)")
                #expect(zip(tokens, tokens.dropFirst()).allSatisfy { $0.line <= $1.line })
                #expect(Tokenizer.tokens(of: text, in: language, limit: 3).count == min(3, tokens.count))
            }
        }
    }

    @Test func brokenSourceStillTokenizesToTheEnd() {
        #expect(texts("s = 'unclosed\nt = 1", .python) == ["$id", "=", "$str", "$id", "=", "$num"])
        #expect(texts("int x; /* never closed", .c) == ["int", "$id", ";"])
        #expect(texts("caf\u{E9} = 1 \u{2192} 2", .python).count == 5)
    }

    @Test func languagesComeFromExtensions() {
        #expect(SourceLanguage.of(fileName: "src/Main.java") == .java)
        #expect(SourceLanguage.of(fileName: "a.hpp") == .cpp)
        #expect(SourceLanguage.of(fileName: "lib.mjs") == .javascript)
        #expect(SourceLanguage.of(fileName: "notes.txt") == nil)
        #expect(SourceLanguage.of(fileName: "dir.py/README") == nil)
    }
}

@Suite struct SimilarityCheckTests {
    /// A function of `lines` statements, each drawn at random (seeded) from a few shapes and operators: two seeds
    /// share no run of statements beyond chance.
    static func program(_ seed: Int, lines: Int = 12) -> String {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let operators = ["+", "-", "*", "%", "//", "**"], shapes = 6
        var text = "def f\(seed)(a, b):\n"
        for line in 0..<lines {
            let op = operators[next(operators.count)], other = operators[next(operators.count)]
            switch next(shapes) {
            case 0: text += "    a = (a \(op) b) \(other) \(line)\n"
            case 1: text += "    if a \(op) \(line) > b:\n        b = [a \(other) b]\n"
            case 2: text += "    for i in range(\(line)):\n        a = a \(op) i\n"
            case 3: text += "    while a > \(line):\n        a = a \(op) 2\n"
            case 4: text += "    b = g(a \(op) \(line), b) if a else b \(other) 1\n"
            default: text += "    out.append((a \(op) b, \(line)))\n"
            }
        }
        return text + "    return a\n"
    }

    static func document(_ id: String, _ texts: String..., earlier: Bool = false) -> SimilarityCheck.Document {
        .init(id: id, files: texts.enumerated().map { SourceFile(name: "part\($0.offset).py", text: $0.element) }, earlier: earlier)
    }

    @Test func starterCodeEveryoneWasGivenDoesNotMakeThemAlike() {
        let starter = Self.program(100, lines: 30)
        let documents = [Self.document("ann", starter, Self.program(1)), Self.document("bob", starter, Self.program(2))]
        let without = SimilarityCheck().run(documents)
        #expect((without.pairs.first?.similarity ?? 0) > 0.6)
        let with = SimilarityCheck().run(documents, starter: [SourceFile(name: "starter.py", text: starter)])
        #expect((with.pairs.first?.similarity ?? 0) < 0.2)
        #expect(with.starterFingerprints > 0)
    }

    @Test func aFragmentMostHandInsShareIsLeftOutButACopyIsNot() {
        let shared = Self.program(200, lines: 20)
        var documents = (0..<6).map { Self.document("s\($0)", shared, Self.program($0)) }
        documents.append(Self.document("copy", shared, Self.program(3)))
        let report = SimilarityCheck(options: .init(commonMinimum: 4)).run(documents)
        #expect(report.commonFingerprints > 0)
        #expect(report.pairs.first.map { Set([$0.a, $0.b]) } == ["s3", "copy"])
        #expect(report.pairs.first.map { $0.similarity > 0.9 } == true)
        #expect(report.pairs.dropFirst().allSatisfy { $0.similarity < 0.3 })
        // The copy in the top tenth, the other 20 pairs of 7 hand-ins in the lowest three.
        #expect(report.histogram[9] == 1 && report.histogram[0...2].reduce(0, +) == 20, "\(report.histogram)")
    }

    @Test func earlierOfferingsAreSourcesNotSuspects() {
        let old = Self.program(7)
        let documents = [
            Self.document("then-1", old, earlier: true), Self.document("then-2", old, earlier: true),
            Self.document("now-1", old), Self.document("now-2", Self.program(8)),
        ]
        // A fragment in 2 hand-ins counts as common here, yet the earlier ones do not vote: now-1's copy stays.
        let report = SimilarityCheck(options: .init(commonMinimum: 2)).run(documents)
        // now-1 matches both earlier hand-ins, named second; the two earlier ones are never a pair.
        #expect(Set(report.pairs.filter { $0.similarity > 0.9 }.map { "\($0.a)~\($0.b)" }) == ["now-1~then-1", "now-1~then-2"])
        #expect(report.pairs.allSatisfy { $0.bIsEarlier == $0.b.hasPrefix("then") && !$0.a.hasPrefix("then") })
        // (Had the earlier hand-ins voted, their fragments would be in 3 of 4 and left out: the pairs above would fall.)
        // Nor are they counted in clusters.
        #expect(report.clusters(threshold: 0.5).isEmpty)
        #expect(report.histogram[9] == 2 && report.histogram.reduce(0, +) == 5)  // now-1~now-2, and each now with each then
    }

    @Test func aStudentsOwnEarlierHandInIsNotAPairAndKeptPairsKeepTheCounts() {
        let one = Self.program(41)
        func files(_ text: String) -> [SourceFile] { [SourceFile(name: "a.py", text: text)] }
        let documents: [SimilarityCheck.Document] = [
            .init(id: "ann-now", files: files(one), author: "ann"), .init(id: "ann-then", files: files(one), earlier: true, author: "ann"),
            .init(id: "bob", files: files(one), author: "bob"), .init(id: "cat", files: files(Self.program(42)), author: "cat"),
        ]
        let report = SimilarityCheck().run(documents)
        #expect(Set(report.pairs.filter { $0.similarity > 0.9 }.map { "\($0.a)~\($0.b)" }) == ["ann-now~bob", "bob~ann-then"])
        // Three of this offering: 3 pairs among them and 3 with the earlier one, less Ann with herself.
        #expect(report.histogram.reduce(0, +) == 5 && report.pairsFound == report.pairs.count)
        let kept = SimilarityCheck(options: .init(keptPairs: 1)).run(documents)
        #expect(kept.pairs == Array(report.pairs.prefix(1)) && kept.pairsFound == report.pairsFound && kept.histogram == report.histogram)
    }

    @Test func clustersJoinStudentsThroughPairs() {
        let one = Self.program(11), two = Self.program(12)
        let documents = [Self.document("a", one), Self.document("b", one), Self.document("c", one), Self.document("d", two), Self.document("e", two),
                         Self.document("f", Self.program(13))]
        let report = SimilarityCheck().run(documents)
        #expect(report.clusters(threshold: 0.8) == [["a", "b", "c"], ["d", "e"]])
    }

    @Test func sharedPassagesSayWhereTheyAreInEachHandIn() throws {
        let copied = Self.program(21, lines: 10)  // 10 statements + header + return: lines 1…
        let a = Self.document("a", Self.program(22, lines: 6) + copied), b = Self.document("b", copied + "\n\n" + Self.program(23, lines: 4))
        let matches = SimilarityCheck().matches(0, 1, in: [a, b])
        let passage = try #require(matches.passages.first)
        let copiedLines = copied.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        let aOffset = Self.program(22, lines: 6).split(separator: "\n", omittingEmptySubsequences: false).count - 1
        #expect(passage.b.file == "part0.py" && passage.b.first == 1 && passage.b.last == copiedLines)
        #expect(passage.a.first == aOffset + 1 && passage.a.last == aOffset + copiedLines)
        #expect(matches.longestRun == passage.tokens)
        // Anything else the two have in common is a short chance run (a function's header and a statement or two)
        // elsewhere: no line is in two passages.
        for other in matches.passages.dropFirst() {
            #expect(other.tokens * 3 < passage.tokens)
            #expect(other.a.last < passage.a.first || other.a.first > passage.a.last)
            #expect(other.b.last < passage.b.first || other.b.first > passage.b.last)
        }
    }

    /// What a check left out is kept with its report, so one pair laid out later from those two hand-ins alone gives
    /// the same passages as with the whole class (the platform's pair page does this).
    @Test func aPairLaidOutLaterFromWhatTheCheckLeftOutMatchesTheWholeClass() {
        let starter = Self.program(300, lines: 12), shared = Self.program(301, lines: 10)
        var documents = (0..<5).map { Self.document("s\($0)", starter, shared, Self.program(310 + $0)) }
        documents.append(Self.document("copy", starter, shared, Self.program(312) + Self.program(320, lines: 3)))
        let files = [SourceFile(name: "starter.py", text: starter)], check = SimilarityCheck(options: .init(commonMinimum: 3))
        let report = check.run(documents, starter: files)
        #expect(report.starterFingerprints > 0 && report.commonFingerprints > 0 && !report.leftOut.isEmpty)
        let whole = check.matches(2, 5, in: documents, starter: files)
        #expect(!whole.passages.isEmpty)
        #expect(check.matches(documents[2], documents[5], leavingOut: report.leftOut) == whole)
        // Leaving nothing out finds the starter and the common fragment as well: longer passages, so not the same.
        #expect(check.matches(documents[2], documents[5], leavingOut: []) != whole)
        // It is not part of the report's JSON.
        let json = String(decoding: (try? JSONEncoder().encode(report)) ?? Data(), as: UTF8.self)
        #expect(!json.contains("leftOut") && json.contains("starterFingerprints"))
    }

    @Test func whichFilesOfAHandInAreRead() {
        #expect(HandInFiles.compares(path: "src/main.py", size: 100))
        #expect(!HandInFiles.compares(path: "node_modules/lodash/index.js", size: 100))
        #expect(!HandInFiles.compares(path: "app/.venv/lib/x.py", size: 100))
        #expect(!HandInFiles.compares(path: ".hidden.py", size: 100))
        #expect(!HandInFiles.compares(path: "dist/app.min.js", size: 100) && !HandInFiles.compares(path: "app.min.js", size: 100))
        #expect(!HandInFiles.compares(path: "notes.txt", size: 100))
        #expect(HandInFiles.compares(path: "big.c", size: HandInFiles.largestFile) && !HandInFiles.compares(path: "big.c", size: HandInFiles.largestFile + 1))
    }

    @Test func aHugeOrTinyHandInIsComparedWithinBounds() {
        // A million-token file is read to the limit and marked; padding repeated over and over finds no long run.
        let padding = String(repeating: "x = x + 1\n", count: 250_000)
        let report = SimilarityCheck().run([Self.document("huge", padding), Self.document("also", padding), Self.document("other", Self.program(5))])
        #expect(report.documents.map(\.tokens) == [SimilarityCheck.Options.defaultMaxTokens, SimilarityCheck.Options.defaultMaxTokens, report.documents[2].tokens])
        #expect(report.documents.map(\.truncated) == [true, true, false])
        #expect(report.pairs.first { Set([$0.a, $0.b]) == ["huge", "also"] }?.longestRun == 0)
        // A hand-in of two lines found inside another is not called 100% alike.
        let whole = Self.program(9), twoLines = whole.split(separator: "\n").prefix(3).joined(separator: "\n")
        let small = SimilarityCheck().run([Self.document("whole", whole), Self.document("scrap", twoLines)])
        #expect(!small.pairs.isEmpty && small.pairs.allSatisfy { $0.similarity <= 0.5 }, "\(small.pairs)")
    }

    @Test func filesInOtherLanguagesOrNoneAreNotCompared() {
        let report = SimilarityCheck().run([
            .init(id: "x", files: [SourceFile(name: "notes.txt", text: Self.program(1))]),
            .init(id: "y", files: [SourceFile(name: "notes.txt", text: Self.program(1))]),
        ])
        #expect(report.pairs.isEmpty)
        #expect(report.documents.map(\.tokens) == [0, 0])
    }
}

/// The accuracy corpus (Corpus/, made by Corpus/make-copies.py): for each language three independent solutions to
/// one task (a, b, c), and copies of a (names changed, functions moved, dead code added) and of b (all three at once).
@Suite struct SimilarityCorpusTests {
    static func corpus(_ language: String) throws -> [SimilarityCheck.Document] {
        let folder = try #require(Bundle.module.url(forResource: "Corpus", withExtension: nil)).appendingPathComponent(language)
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { name in
            .init(id: name, files: [SourceFile(name: name, text: try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))])
        }
    }

    @Test(arguments: ["python", "c", "java", "javascript"])
    func everyCopyRanksAboveEveryUnrelatedPair(language: String) throws {
        let documents = try Self.corpus(language)
        #expect(documents.count == 7)
        let report = SimilarityCheck().run(documents)
        let ranked = report.pairs.map { "\($0.a)~\($0.b)" }
        var copies: [Int] = [], unrelated: [Int] = []
        for (i, first) in documents.enumerated() {
            for second in documents[(i + 1)...] {
                let rank = ranked.firstIndex(of: "\(first.id)~\(second.id)") ?? ranked.firstIndex(of: "\(second.id)~\(first.id)") ?? ranked.count
                if first.id.first == second.id.first { copies.append(rank) } else { unrelated.append(rank) }
            }
        }
        #expect(copies.count == 4 * 3 / 2 + 1 && unrelated.count == 21 - copies.count)
        #expect(copies.max()! < unrelated.min()!, "\(language): \(report.pairs.map { "\($0.a)~\($0.b) \($0.similarity)" })")
        // And by a margin: the least similar copy is well above the most similar unrelated pair.
        let copyScores = report.pairs.filter { $0.a.first == $0.b.first }.map(\.similarity)
        let unrelatedScores = report.pairs.filter { $0.a.first != $0.b.first }.map(\.similarity)
        #expect(copyScores.min()! > 0.4 && (unrelatedScores.max() ?? 0) < 0.25, "\(language): \(copyScores) \(unrelatedScores)")
    }
}
