// Hostile zips, built for real: escapes, links, bombs, lies about sizes, non-UTF-8 names — each refused with one
// sentence and nothing written outside the folder; a good zip unpacks as it should.
import Testing
import Foundation
import ZIPFoundation
@testable import Grading

@Suite struct SafeArchiveTests {
    /// A zip in memory with the given entries (path, type, contents).
    static func zip(_ entries: [(String, Entry.EntryType, Data)], compression: CompressionMethod = .deflate) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (path, type, contents) in entries {
            try archive.addEntry(with: path, type: type, uncompressedSize: Int64(contents.count), compressionMethod: compression) { position, size in
                contents.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return try #require(archive.data)
    }

    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cc-zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func zipsWeMakeHaveOnlySafeEntryNamesWhateverTheFilesAreCalled() throws {
        // A job may name its outputs anything Linux allows: a backslash or a colon is a plain character there.
        let made = try SafeArchive.make(["..\\..\\evil.txt": Data("a".utf8), "C:\\Windows\\x.dll": Data("b".utf8), "/etc/passwd": Data("c".utf8),
                                         "a/../../b": Data("d".utf8), "ok/fine.txt": Data("e".utf8), "etc/passwd": Data("f".utf8)])
        let names = try Archive(data: made, accessMode: .read).map(\.path)
        #expect(names.count == 6)
        for name in names {
            #expect(!name.contains("\\") && !name.hasPrefix("/") && !name.contains(":"), "\(name)")
            #expect(!name.split(separator: "/").contains(".."), "\(name)")
        }
        #expect(names.contains("ok/fine.txt") && names.contains("etc/passwd") && names.contains("etc/passwd-2"))
        // And they unpack with our own reader, which refuses any escape.
        #expect(try SafeArchive.read(made).count == 6)
    }

    @Test func aGoodZipUnpacks() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try Self.zip([("hello.py", .file, Data("print('hi')\n".utf8)), ("src/", .directory, Data()),
                                 ("src/util.py", .file, Data("x = 1\n".utf8)), ("__MACOSX/._hello.py", .file, Data("junk".utf8)),
                                 ("./notes/ünïcode.txt", .file, Data("ok".utf8))])
        let files = try SafeArchive.extract(data, into: folder)
        #expect(files == ["hello.py", "notes/ünïcode.txt", "src/util.py"])
        #expect(try String(contentsOf: folder.appendingPathComponent("src/util.py"), encoding: .utf8) == "x = 1\n")
    }

    @Test(arguments: [
        ("../escape.py", "points outside the folder"),
        ("a/../../escape.py", "points outside the folder"),
        ("/etc/cron.d/evil", "is an absolute path"),
        ("a\\..\\b.py", "is not a usable file name"),
    ])
    func escapesAreRefusedAndNothingLeavesTheFolder(name: String, says: String) throws {
        let parent = try Self.folder()
        defer { try? FileManager.default.removeItem(at: parent) }
        let folder = parent.appendingPathComponent("job")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let data = try Self.zip([("fine.py", .file, Data("1".utf8)), (name, .file, Data("evil".utf8))])
        #expect { try SafeArchive.extract(data, into: folder) } throws: { ($0 as? ResultsProblem)?.message.contains(says) == true }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)  // checked before anything is written
        #expect(!FileManager.default.fileExists(atPath: parent.appendingPathComponent("escape.py").path))
    }

    @Test func linksAreRefused() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try Self.zip([("passwd", .symlink, Data("/etc/passwd".utf8))], compression: .none)
        #expect { try SafeArchive.extract(data, into: folder) } throws: { ($0 as? ResultsProblem)?.message.contains("symbolic link") == true }
    }

    @Test func bombsStopAtTheLimit() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let zeros = Data(count: 8 << 20)  // 8 MB of zeros: a few KB compressed
        let bomb = try Self.zip((0..<4).map { ("zeros\($0).bin", .file, zeros) })
        #expect(bomb.count < 200_000)
        let limits = ArchiveLimits(maxTotalBytes: 20 << 20, maxFileBytes: 10 << 20)
        #expect { try SafeArchive.extract(bomb, into: folder, limits: limits) } throws: {
            ($0 as? ResultsProblem)?.message.contains("unpacks to more than 20 MB") == true
        }
        let many = try Self.zip((0..<30).map { ("f\($0).txt", .file, Data("x".utf8)) })
        #expect { try SafeArchive.extract(many, into: folder, limits: ArchiveLimits(maxFiles: 25)) } throws: {
            ($0 as? ResultsProblem)?.message.contains("more than 25 entries") == true
        }
    }

    @Test func aZipThatLiesAboutItsSizesStops() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var data = try Self.zip([("small.txt", .file, Data(repeating: 65, count: 5000))])
        // Rewrite the declared unpacked size (local header and central directory) from 5000 to 10 bytes.
        let declared = withUnsafeBytes(of: UInt32(5000).littleEndian) { Data($0) }, lie = withUnsafeBytes(of: UInt32(10).littleEndian) { Data($0) }
        var searchFrom = data.startIndex, patched = 0
        while let range = data.range(of: declared, in: searchFrom..<data.endIndex) {
            data.replaceSubrange(range, with: lie)
            searchFrom = range.upperBound
            patched += 1
        }
        #expect(patched == 2)
        #expect(throws: ResultsProblem.self) { try SafeArchive.extract(data, into: folder) }
        let written = (try? Data(contentsOf: folder.appendingPathComponent("small.txt")))?.count ?? 0
        #expect(written <= 10)
    }

    @Test func brokenAndEmptyArchivesSaySo() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { try SafeArchive.extract(Data("not a zip".utf8), into: folder) } throws: {
            ($0 as? ResultsProblem)?.message == "the file is not a valid zip archive"
        }
        #expect { try SafeArchive.extract(try Self.zip([("empty/", .directory, Data())]), into: folder) } throws: {
            ($0 as? ResultsProblem)?.message == "the zip holds no files"
        }
        #expect { try SafeArchive.extract(Data(count: 30 << 20), into: folder) } throws: {
            ($0 as? ResultsProblem)?.message.contains("larger than 20 MB") == true
        }
    }

    @Test func namesThatAreNotUTF8AreRefused() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // "caf\u{E9}.py" in Latin-1 (one 0xE9 byte), written without the UTF-8 flag: patch the ASCII placeholder.
        var data = try Self.zip([("cafX.py", .file, Data("1".utf8))], compression: .none)
        var searchFrom = data.startIndex
        while let range = data.range(of: Data("cafX.py".utf8), in: searchFrom..<data.endIndex) {
            data[range.lowerBound + 3] = 0xE9
            searchFrom = range.upperBound
        }
        #expect { try SafeArchive.extract(data, into: folder) } throws: { ($0 as? ResultsProblem)?.message.contains("not UTF-8") == true }
    }
}
