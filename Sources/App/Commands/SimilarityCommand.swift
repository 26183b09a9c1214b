// `campuscloud similarity FOLDER`: a similarity check over hand-ins on disk, without a server or a database (as
// MOSS's script is used): each entry of FOLDER is one student's hand-in, a folder of files or a single file.
import ArgumentParser
import Foundation
import Similarity

struct SimilarityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similarity",
        abstract: "Rank pairs of hand-ins by code similarity (Python, C/C++, Java, JavaScript).",
        discussion: """
        Each entry of FOLDER is one hand-in: a folder (its files, recursively) or one file. Starter code (--starter) \
        and fragments most hand-ins share are left out; --earlier names a folder of earlier offerings' hand-ins, \
        compared with these but not with each other. The result measures likeness, not misconduct.
        """
    )

    @Argument(help: "A folder with one entry per hand-in.") var folder: String
    @Option(help: "The starter code handed out (a file or a folder).") var starter: String?
    @Option(help: "A folder of earlier offerings' hand-ins, one entry each.") var earlier: String?
    @Option(help: "How many pairs to list.") var top = 20
    @Flag(help: "Print the whole report as JSON.") var json = false

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top must be 0 or more.") }
    }

    func run() throws {
        var documents = try HandInFolder.read(folder).map { SimilarityCheck.Document(id: $0.name, files: $0.files) }
        if let earlier {
            documents += try HandInFolder.read(earlier).map { SimilarityCheck.Document(id: "earlier/" + $0.name, files: $0.files, earlier: true) }
        }
        let starterFiles = try starter.map { try HandInFolder.files(at: URL(fileURLWithPath: $0)) } ?? []
        let report = SimilarityCheck().run(documents, starter: starterFiles)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            say(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        say("\(report.documents.count) hand-ins, \(report.pairs.count) pairs sharing code; starter fingerprints \(report.starterFingerprints), common \(report.commonFingerprints)")
        say("similarity  longest run  pair")
        for pair in report.pairs.prefix(top) {
            let run = pair.longestRun.map(String.init) ?? "-"
            say(String(format: "%9.0f%%  ", pair.similarity * 100) + String(repeating: " ", count: max(0, 11 - run.count)) + run + "  \(pair.a) ~ \(pair.b)")
        }
    }
}

/// Hand-ins laid out on disk, one entry each; which of their files are read is `HandInFiles`'s rule.
enum HandInFolder {
    static let skipped = HandInFiles.skippedFolders

    /// The hand-ins with at least one file in a compared language (others are not hand-ins of code: left out).
    static func read(_ path: String) throws -> [(name: String, files: [SourceFile])] {
        let root = URL(fileURLWithPath: path)
        let entries = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") && !skipped.contains($0) }.sorted()
        return try entries.map { ($0, try files(at: root.appendingPathComponent($0))) }.filter { !$0.files.isEmpty }
    }

    /// The readable files at `url` (itself, or everything under it), named relative to it. Symbolic links, devices
    /// and pipes are not followed or read: only regular files.
    static func files(at url: URL) throws -> [SourceFile] {
        guard let kind = try? FileManager.default.attributesOfItem(atPath: url.path)[.type] as? FileAttributeType else {
            throw ValidationError("\(url.path) does not exist.")
        }
        if kind == .typeRegular { return try file(url, name: url.lastPathComponent).map { [$0] } ?? [] }
        guard kind == .typeDirectory, let children = FileManager.default.enumerator(atPath: url.path) else { return [] }
        var found: [SourceFile] = []
        while let name = children.nextObject() as? String {
            let child = url.appendingPathComponent(name)
            let attributes = try? FileManager.default.attributesOfItem(atPath: child.path)
            let type = attributes?[.type] as? FileAttributeType
            if type == .typeDirectory, skipped.contains(child.lastPathComponent) || child.lastPathComponent.hasPrefix(".") {
                children.skipDescendants()
                continue
            }
            guard type == .typeRegular, !child.lastPathComponent.hasPrefix(".") else { continue }
            if let file = try file(child, name: name) { found.append(file) }
        }
        return found
    }

    /// A regular file `HandInFiles` compares (its size checked before reading), else nil.
    static func file(_ url: URL, name: String) throws -> SourceFile? {
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? .max
        guard HandInFiles.compares(path: name, size: size) else { return nil }
        return SourceFile(name: name, bytes: [UInt8](try Data(contentsOf: url)))
    }
}
