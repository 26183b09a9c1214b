// Unpacking a zip that a student (or an instructor) uploaded, without trusting it: every entry is checked before
// anything is written — no absolute paths, no "..", no links, UTF-8 names, at most so many files and bytes — and the
// bytes actually unpacked are counted as they come (a zip may lie about its sizes), so a zip bomb stops at the
// limit. A refused archive leaves the caller's folder as it was, apart from what it must remove anyway.
import Foundation
import ZIPFoundation

public struct ArchiveLimits: Sendable, Equatable {
    public var maxArchiveBytes: Int
    public var maxFiles: Int
    public var maxTotalBytes: UInt64
    public var maxFileBytes: UInt64

    public init(maxArchiveBytes: Int = 20 << 20, maxFiles: Int = 2000, maxTotalBytes: UInt64 = 200 << 20, maxFileBytes: UInt64 = 100 << 20) {
        self.maxArchiveBytes = maxArchiveBytes
        self.maxFiles = maxFiles
        self.maxTotalBytes = maxTotalBytes
        self.maxFileBytes = maxFileBytes
    }

    static func megabytes(_ bytes: UInt64) -> String { "\(bytes >> 20) MB" }
}

public enum SafeArchive {
    /// Checks the whole archive, then unpacks it into `folder`; returns the files' relative paths, sorted.
    public static func extract(_ data: Data, into folder: URL, limits: ArchiveLimits = ArchiveLimits()) throws -> [String] {
        let (archive, planned) = try plan(data, limits: limits)
        var written: UInt64 = 0
        let manager = FileManager.default
        for (entry, path) in planned {
            let target = folder.appendingPathComponent(path)
            try manager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard manager.createFile(atPath: target.path, contents: nil), let handle = FileHandle(forWritingAtPath: target.path) else {
                throw ResultsProblem("'\(path)' could not be written (two entries for one path?)")
            }
            defer { try? handle.close() }
            try unpack(entry, path: path, from: archive, limits: limits, written: &written) { handle.write($0) }
        }
        return planned.map(\.path).sorted()
    }

    /// Checks the whole archive, then reads every file into memory (bounded by the limits): relative path → bytes.
    public static func read(_ data: Data, limits: ArchiveLimits = ArchiveLimits()) throws -> [String: Data] {
        let (archive, planned) = try plan(data, limits: limits)
        var written: UInt64 = 0, files: [String: Data] = [:]
        for (entry, path) in planned {
            var contents = Data()
            try unpack(entry, path: path, from: archive, limits: limits, written: &written) { contents.append($0) }
            files[path] = contents
        }
        return files
    }

    /// Every entry checked before anything is unpacked.
    private static func plan(_ data: Data, limits: ArchiveLimits) throws -> (Archive, [(entry: Entry, path: String)]) {
        guard data.count <= limits.maxArchiveBytes else {
            throw ResultsProblem("the zip is larger than \(ArchiveLimits.megabytes(UInt64(limits.maxArchiveBytes)))")
        }
        let archive: Archive
        do { archive = try Archive(data: data, accessMode: .read) } catch { throw ResultsProblem("the file is not a valid zip archive") }
        var planned: [(entry: Entry, path: String)] = [], seen = Set<String>(), declared: UInt64 = 0, count = 0
        for entry in archive {
            count += 1
            guard count <= limits.maxFiles else { throw ResultsProblem("the zip holds more than \(limits.maxFiles) entries") }
            let name = entry.path(using: .utf8)  // empty when the name's bytes are not UTF-8
            guard !name.isEmpty else { throw ResultsProblem("an entry's name is not UTF-8 text; create the zip again with UTF-8 names") }
            guard let path = try safePath(name) else { continue }
            switch entry.type {
            case .symlink: throw ResultsProblem("'\(name)' is a symbolic link; zips with links are refused")
            case .directory: continue
            case .file: break
            }
            guard entry.uncompressedSize <= limits.maxFileBytes else {
                throw ResultsProblem("'\(name)' unpacks to more than \(ArchiveLimits.megabytes(limits.maxFileBytes))")
            }
            declared += entry.uncompressedSize
            guard declared <= limits.maxTotalBytes else {
                throw ResultsProblem("the zip unpacks to more than \(ArchiveLimits.megabytes(limits.maxTotalBytes))")
            }
            guard seen.insert(path).inserted else { throw ResultsProblem("'\(name)' appears twice in the zip") }
            planned.append((entry, path))
        }
        guard !planned.isEmpty else { throw ResultsProblem("the zip holds no files") }
        return (archive, planned)
    }

    /// Inflates one entry, counting the bytes as they come: a zip that lies about its sizes stops at the limit.
    private static func unpack(_ entry: Entry, path: String, from archive: Archive, limits: ArchiveLimits, written: inout UInt64,
                               _ sink: (Data) -> Void) throws {
        var inFile: UInt64 = 0, total = written
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                inFile += UInt64(chunk.count)
                total += UInt64(chunk.count)
                guard inFile <= min(limits.maxFileBytes, entry.uncompressedSize), total <= limits.maxTotalBytes else {
                    throw ResultsProblem("'\(path)' unpacks to more than the zip says or than the limit allows")
                }
                sink(chunk)
            }
        } catch let problem as ResultsProblem {
            throw problem
        } catch {
            throw ResultsProblem("'\(path)' in the zip is damaged")
        }
        written = total
    }

    /// A relative path inside the folder, or nil for entries to skip (macOS metadata); throws for escapes.
    static func safePath(_ name: String) throws -> String? {
        guard !name.contains("\u{0}"), !name.contains("\\") else { throw ResultsProblem("'\(name)' is not a usable file name") }
        guard !name.hasPrefix("/") else { throw ResultsProblem("'\(name)' is an absolute path; zips must hold relative paths") }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !parts.contains("..") else { throw ResultsProblem("'\(name)' points outside the folder") }
        if parts.first == "__MACOSX" || parts.last == ".DS_Store" { return nil }
        guard !parts.isEmpty, parts.count <= 32, name.utf8.count <= 1024 else { throw ResultsProblem("'\(name)' is not a usable file name") }
        return parts.joined(separator: "/")
    }
}

extension SafeArchive {
    /// A zip entry name that unpacks inside the target folder on any system: relative, '/'-separated, no '.', '..' or
    /// empty parts, no backslash (a separator on Windows), drive colon or control character.
    public static func entryName(_ name: String) -> String {
        let cleaned = String(name.unicodeScalars.map { scalar -> Character in
            scalar == "\\" || scalar == ":" || scalar.value < 0x20 || scalar.value == 0x7F ? "_" : Character(scalar)
        })
        let parts = cleaned.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." && $0 != ".." }
        return parts.isEmpty ? "file" : parts.joined(separator: "/")
    }

    /// Makes a zip of the files (relative path → bytes), e.g. for a demo or benchmark autograder.
    /// Entry names are made safe for whoever unpacks it (`entryName`), whatever the files were called; only tests
    /// that build hostile zips keep names as given (`keepingNames`).
    public static func make(_ files: [String: Data], keepingNames: Bool = false) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        var taken = Set<String>()
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            let safe = keepingNames ? name : entryName(name)
            var path = safe, copy = 1
            while !taken.insert(path).inserted { copy += 1; path = safe + "-\(copy)" }
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let data = archive.data else { throw ResultsProblem("the zip could not be made") }
        return data
    }
}
