// Files people upload (a hand-in, a research job's inputs): one .zip unpacked and checked whole (SafeArchive), or
// the files by their bare names, within the caller's limits. Every refusal is a sentence (422).
import Foundation
import Grading

enum Uploads {
    /// The files from uploaded files: one .zip is unpacked (checked whole), other files are taken by name.
    /// `optional`: no files at all is allowed (a research job may need none).
    static func files(from uploads: [(name: String, data: Data)], limits: ArchiveLimits, optional: Bool = false) throws -> [String: Data] {
        let uploads = uploads.filter { !$0.name.isEmpty || !$0.data.isEmpty }
        if uploads.isEmpty && optional { return [:] }
        guard !uploads.isEmpty else { throw InputRejection("Choose at least one file to hand in.") }
        if uploads.count == 1, uploads[0].name.lowercased().hasSuffix(".zip") {
            return try checkedZip(uploads[0].data, limits: limits, refused: "The zip was refused")
        }
        var files: [String: Data] = [:], total = 0
        for upload in uploads {
            // Browsers send a bare name; some clients send a path. Keep only a safe relative path.
            let name = upload.name.replacingOccurrences(of: "\\", with: "/").split(separator: "/").last.map(String.init) ?? ""
            guard !name.isEmpty, name != ".", name != "..", !name.contains("\u{0}"), name.utf8.count <= 255 else {
                throw InputRejection("'\(upload.name)' is not a usable file name.")
            }
            guard files[name] == nil else { throw InputRejection("'\(name)' was given twice.") }
            total += upload.data.count
            guard upload.data.count <= Int(limits.maxFileBytes), total <= Int(limits.maxTotalBytes) else {
                throw InputRejection("The files are larger than \(limits.maxTotalBytes >> 20) MB in all.")
            }
            files[name] = upload.data
        }
        guard files.count <= limits.maxFiles else { throw InputRejection("At most \(limits.maxFiles) files may be handed in.") }
        return files
    }

    /// A zip someone uploaded, unpacked and checked whole (format, links, escapes, bombs, `limits`); a refusal is
    /// "`refused`: why." (422).
    static func checkedZip(_ zip: Data, limits: ArchiveLimits, refused: String) throws -> [String: Data] {
        do {
            return try SafeArchive.read(zip, limits: limits)
        } catch let problem as ResultsProblem {
            throw InputRejection("\(refused): \(problem.message).")
        }
    }
}
