// A person's home folder of a lab, kept on the lab host between sessions: what it holds (its use against the quota),
// the whole of it as a zip, a reset (the next session starts again from the lab's start files), and the start files
// themselves (a zip an instructor uploads, checked whole before it is stored).
import Fluent
import Foundation
import Grading
import Vapor

enum LabHomes {
    static let startFileLimits = ArchiveLimits(maxArchiveBytes: 50 << 20, maxFiles: 2000, maxTotalBytes: 200 << 20, maxFileBytes: 100 << 20)
    /// The most a home download reads into a zip.
    static let downloadLimit: Int64 = 512 << 20

    /// Stores a lab's start files (a zip, checked whole; an empty body removes them) and their names, in one
    /// transaction.
    static func setStartFiles(_ lab: LabEnvironment, zip: Data, at now: Date, on db: any Database) async throws {
        let names = zip.isEmpty ? [] : try Uploads.checkedZip(zip, limits: startFileLimits, refused: "The start files were refused").keys.sorted()
        let labID = try lab.requireID()
        lab.startFileNames = names.joined(separator: "\n")
        lab.updatedAt = now
        try await db.transaction { tx in
            try await LabStartFiles.query(on: tx).filter(\.$lab.$id == labID).delete()
            if !zip.isEmpty {
                let files = LabStartFiles()
                (files.$lab.id, files.zip) = (labID, zip)
                try await files.create(on: tx)
            }
            try await lab.save(on: tx)
        }
    }

    static func startFileNames(_ lab: LabEnvironment) -> [String] {
        lab.startFileNames.split(separator: "\n").map(String.init)
    }

    /// The home a session starts with: the kept one; or, the first time (or after a reset), a new one with the lab's
    /// start files — built aside and renamed into place, so a failure leaves no half-made home. A home a crash left
    /// set aside while being replaced is put back.
    static func prepare(_ home: String, for lab: LabEnvironment, on db: any Database) async throws {
        let fm = FileManager.default, parent = (home as NSString).deletingLastPathComponent, name = (home as NSString).lastPathComponent
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        // Copies a process killed mid-save or mid-keep left beside the home (none is in use: the person runs no
        // session now, and an hour is longer than any copy takes).
        // (A copy set aside while the home was replaced is taken back below when the home is missing; beside a home,
        // it is a leftover too.)
        let leftovers = [".saving-", ".new-"] + (fm.fileExists(atPath: home) ? [".old-"] : [])
        for leftover in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] where leftovers.contains(where: { leftover.hasPrefix(name + $0) }) {
            let path = parent + "/" + leftover
            if let made = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date, Date().timeIntervalSince(made) > 3600 {
                try? fm.removeItem(atPath: path)
            }
        }
        if !fm.fileExists(atPath: home), let aside = (try? fm.contentsOfDirectory(atPath: parent))?.filter({ $0.hasPrefix(name + ".old-") }).sorted().last {
            try fm.moveItem(atPath: parent + "/" + aside, toPath: home)
        }
        guard !fm.fileExists(atPath: home) else { return }
        let fresh = home + ".new-" + UUID().uuidString.lowercased()
        try fm.createDirectory(atPath: fresh, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        do {
            if let zip = try await LabStartFiles.query(on: db).filter(\.$lab.$id == lab.requireID()).first()?.zip {
                for (path, data) in try SafeArchive.read(zip, limits: startFileLimits) {
                    let target = URL(fileURLWithPath: fresh + "/" + path)
                    try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try data.write(to: target)
                }
            }
            try fm.moveItem(atPath: fresh, toPath: home)
        } catch {
            try? fm.removeItem(atPath: fresh)
            throw error
        }
    }

    /// Bytes the home's files take (as kept when its last session ended).
    static func usage(_ home: String) -> Int64 {
        files(in: home).reduce(0) { $0 + $1.size }
    }

    /// Every regular file below `home` (links and special files skipped), by relative path.
    static func files(in home: String) -> [(path: String, size: Int64)] {
        guard let walker = FileManager.default.enumerator(atPath: home) else { return [] }
        var found: [(String, Int64)] = []
        for case let relative as String in walker {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: home + "/" + relative),
                  attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            found.append((relative, (attributes[.size] as? NSNumber)?.int64Value ?? 0))
        }
        return found
    }

    /// The home as a zip; refused when it holds more than `downloadLimit`.
    static func zip(_ home: String) throws -> Data {
        let files = files(in: home)
        guard files.reduce(0, { $0 + $1.size }) <= downloadLimit else {
            throw Refusal("Your files are over \(downloadLimit >> 20) MB together; download them from a session instead (for example with a terminal and zip).")
        }
        var contents: [String: Data] = [:]
        for file in files { contents[file.path] = FileManager.default.contents(atPath: home + "/" + file.path) }
        return try SafeArchive.make(contents)
    }
}

struct LabHomeDTO: Content {
    var labID: UUID
    /// Bytes the kept files take, and the lab's quota.
    var usedBytes: Int64
    var quotaBytes: Int64
    var files: Int
    /// A session is running: what it writes is kept when it ends.
    var sessionRunning: Bool
}

extension LabHomeDTO: APIBody {
    static let schemaName = "LabHome"
    static let schema = JSONSchema.object(["labID": .string(format: "uuid"), "usedBytes": .integer(), "quotaBytes": .integer(), "files": .integer(),
                                           "sessionRunning": .boolean], required: ["labID", "usedBytes", "quotaBytes", "files", "sessionRunning"])
    static let samples = [LabHomeDTO(labID: Sample.id, usedBytes: 12_345, quotaBytes: 500 << 20, files: 3, sessionRunning: false)]
}

/// The home and start-file routes (API and pages).
enum LabHomeController {
    /// The caller's home of the lab on this host, and whether a session of theirs is running.
    private static func home(_ req: Request) async throws -> (LabInContext, String, Bool) {
        let found = try await req.lab(for: { access, lab in .viewLab(access, openTo: lab.openTo) })
        let labID = try found.lab.requireID(), userID = try found.user.requireID()
        let running = try await LabSession.query(on: req.db).filter(\.$lab.$id == labID).filter(\.$user.$id == userID).filter(\.$status == .running).count() > 0
        return (found, req.application.labHost.homeFolder(lab: labID, user: userID), running)
    }

    static func view(_ req: Request) async throws -> LabHomeDTO {
        let (found, home, running) = try await home(req)
        let files = LabHomes.files(in: home)  // one walk of the folder for both figures
        return LabHomeDTO(labID: try found.lab.requireID(), usedBytes: files.reduce(0) { $0 + $1.size }, quotaBytes: Int64(found.lab.homeQuotaMB) << 20,
                          files: files.count, sessionRunning: running)
    }

    @Sendable static func show(req: Request) async throws -> LabHomeDTO { try await view(req) }

    @Sendable static func download(req: Request) async throws -> Response {
        let (found, home, _) = try await home(req)
        return .download(try LabHomes.zip(home), type: .zip, filename: String(found.lab.name.prefix(60)) + "-files.zip")
    }

    /// Deletes the caller's home of the lab (refused while a session of theirs runs: it would write it back).
    private static func reset(_ req: Request) async throws {
        let (_, home, running) = try await home(req)
        guard !running else { throw Refusal("Stop your running session first: it writes your files back when it ends.") }
        try? FileManager.default.removeItem(atPath: home)
        // And any copy of it set aside (a crash mid-keep leaves one, which the next session would take back).
        let parent = (home as NSString).deletingLastPathComponent, name = (home as NSString).lastPathComponent
        for aside in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where aside.hasPrefix(name + ".") {
            try? FileManager.default.removeItem(atPath: parent + "/" + aside)
        }
    }

    @Sendable static func resetFromAPI(req: Request) async throws -> HTTPStatus {
        try await reset(req)
        return .noContent
    }

    @Sendable static func resetFromPage(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, lab in .viewLab(access, openTo: lab.openTo) })
        return try await req.formAction(back: .lab(.id(try found.lab.requireID())), at: "files", render: { try await LabController.render(req, found, $0) }) {
            do { try await reset(req) } catch let refusal as Refusal { throw InputRejection.conflict(refusal.reason) }
            return "Your files of this lab are deleted; your next session starts from the lab's start files."
        }
    }

    /// PUT …/start-files with the zip as the body (an empty body removes them).
    @Sendable static func setStartFiles(req: Request) async throws -> LabDTO {
        let lab = try await req.lab(for: { access, _ in .manageLabs(access) }).lab
        try await LabHomes.setStartFiles(lab, zip: req.body.data.map { Data(buffer: $0) } ?? Data(), at: req.now, on: req.db)
        return try LabDTO(lab, staff: true, now: req.now)
    }

    @Sendable static func setStartFilesFromPage(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, _ in .manageLabs(access) })
        return try await req.formAction(back: .lab(.id(try found.lab.requireID())), at: "start-files", render: { try await LabController.render(req, found, $0) }) {
            guard let zip = try MultipartForm(req)?.all(named: "zip").first, !zip.data.isEmpty else { throw InputRejection("Choose the zip of start files to upload.") }
            try await LabHomes.setStartFiles(found.lab, zip: zip.data, at: req.now, on: req.db)
            return "Stored \(LabHomes.startFileNames(found.lab).count) start files; new homes start with them."
        }
    }
}
