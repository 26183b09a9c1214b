// The job's folder on the host: the only place the job can write. As root it is a size-limited tmpfs owned by the
// job's unprivileged uid (so a job cannot fill the host's disk); otherwise a plain folder.
import Foundation
import Glibc

struct JobFolder {
    let path: String
    let mounted: Bool

    /// Entries of the jobs folder carry their platform process's token (see Ownership), so a process starting
    /// beside another on the same folder (a `worker` beside `serve`) removes only what a gone process left.
    static func ownedName(_ name: String) -> String { Ownership.tag + name }

    static func create(root: String, name: String, diskBytes: Int, owner: (uid: UInt32, gid: UInt32)?) throws -> JobFolder {
        let path = root + "/" + ownedName(name)
        guard mkdir(path, 0o700) == 0 else { throw SandboxError.hostFailure("cannot create the job folder \(path): \(String(cString: strerror(errno)))") }
        var mounted = false
        if let owner {
            let options = "size=\(diskBytes),nr_inodes=20000,mode=0700,uid=\(owner.uid),gid=\(owner.gid)"
            if mount("tmpfs", path, "tmpfs", UInt(MS_NOSUID | MS_NODEV), options) == 0 {
                mounted = true
            } else {
                _ = chown(path, owner.uid, owner.gid)
            }
        }
        return JobFolder(path: path, mounted: mounted)
    }

    /// Writes the job's input files; paths must stay inside the folder.
    func place(_ files: [String: Data], executables: Set<String> = [], copyFrom: String?, owner: (uid: UInt32, gid: UInt32)?) throws {
        if let source = copyFrom {
            var unbounded = Int64.max
            try copyTree(from: source, to: path, owner: owner, budget: &unbounded)
        }
        for (relative, data) in files {
            let clean = try Self.safeRelativePath(relative)
            let target = path + "/" + clean
            let parent = (target as NSString).deletingLastPathComponent
            try makeFolders(parent, owner: owner)
            guard ForkLock.writeFile(target, [UInt8](data), mode: executables.contains(relative) ? 0o755 : 0o644) else {
                throw SandboxError.hostFailure("cannot write the job file \(clean)")
            }
            if let owner { _ = lchown(target, owner.uid, owner.gid) }
        }
    }

    /// Copies a host folder's files and folders into the folder while its job runs (a prepared lab session taken
    /// by someone: their home); every file must arrive, and a folder already there must be a real folder, never a
    /// link.
    func fill(from source: String, owner: (uid: UInt32, gid: UInt32)?) throws {
        var unbounded = Int64.max
        try copyTree(from: source, to: path, owner: owner, strict: true, budget: &unbounded)
    }

    /// Makes sure a folder (relative to the job folder) exists, e.g. the output folder.
    func ensureFolder(_ relative: String, owner: (uid: UInt32, gid: UInt32)?) throws {
        try makeFolders(path + "/" + Self.safeRelativePath(relative), owner: owner)
    }

    /// Replaces `target`'s contents with this folder's files and folders (written aside, then swapped in; owned by
    /// this process's user). Links and special files are skipped; so, once their sizes add up to `budget`, are the
    /// files that do not fit (taken in name order: a sparse file, or a hard link, takes little room here and all its
    /// size there). On failure `target` is as it was. Returns the files left out for want of room (their paths in
    /// the folder, in name order).
    @discardableResult
    func keep(into target: String, budget: Int64) throws -> [String] {
        let fm = FileManager.default, aside = target + ".new-" + UUID().uuidString.lowercased(), old = target + ".old-" + UUID().uuidString.lowercased()
        guard mkdir(aside, 0o700) == 0 else { throw SandboxError.hostFailure("cannot make \(aside): \(String(cString: strerror(errno)))") }
        do {
            var left = budget
            let leftOut = try copyTree(from: path, to: aside, owner: nil, strict: true, budget: &left)
            if fm.fileExists(atPath: target) { try fm.moveItem(atPath: target, toPath: old) }
            try fm.moveItem(atPath: aside, toPath: target)
            try? fm.removeItem(atPath: old)
            return leftOut
        } catch {
            try? fm.removeItem(atPath: aside)
            if !fm.fileExists(atPath: target), fm.fileExists(atPath: old) { try? fm.moveItem(atPath: old, toPath: target) }
            throw error
        }
    }

    /// What the regular files under `folder` add up to, by their sizes (a sparse file counted whole); no link
    /// followed.
    static func apparentBytes(of folder: String) -> Int64 {
        var total: Int64 = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            let path = folder + "/" + entry
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: total += apparentBytes(of: path)
            case S_IFREG: total += Int64(info.st_size)
            default: continue
            }
        }
        return total
    }

    func remove() {
        if mounted { _ = umount2(path, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Rejects absolute paths, `..` and empty names: a job's inputs never land outside its folder.
    static func safeRelativePath(_ path: String) throws -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !path.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw SandboxError.invalidJob("file path '\(path)' must be relative and stay inside the job folder")
        }
        return parts.joined(separator: "/")
    }

    private func makeFolders(_ folder: String, owner: (uid: UInt32, gid: UInt32)?) throws {
        var current = path
        let relative = folder.dropFirst(path.count).split(separator: "/")
        for part in relative {
            current += "/" + part
            if mkdir(current, 0o755) == 0 {
                if let owner { _ = lchown(current, owner.uid, owner.gid) }
            } else if errno != EEXIST {
                throw SandboxError.hostFailure("cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Copies regular files and folders; symlinks and special files are skipped, never followed. `strict`: a file
    /// that cannot be read or written fails the copy (keeping a home must not lose part of it silently). Files are
    /// taken in name order while their sizes fit `budget` (what is left of it is left there); the rest are skipped,
    /// and returned (their paths under `source`). Files written into the job folder are written under the fork lock (a
    /// job may execute them); others need not be.
    @discardableResult
    private func copyTree(from source: String, to destination: String, owner: (uid: UInt32, gid: UInt32)?, strict: Bool = false,
                          budget: inout Int64) throws -> [String] {
        var leftOut: [String] = []
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: source) else {
            throw SandboxError.invalidJob("cannot read the folder \(source)")
        }
        for entry in entries.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let from = source + "/" + entry, to = destination + "/" + entry
            var info = stat()
            guard lstat(from, &info) == 0 else {
                if strict { throw SandboxError.hostFailure("cannot read \(from): \(String(cString: strerror(errno)))") }
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                var there = stat()
                guard mkdir(to, 0o755) == 0 || (errno == EEXIST && lstat(to, &there) == 0 && (there.st_mode & S_IFMT) == S_IFDIR) else {
                    if strict { throw SandboxError.hostFailure("cannot create \(to)") }
                    continue
                }
                if let owner { _ = lchown(to, owner.uid, owner.gid) }
                leftOut += try copyTree(from: from, to: to, owner: owner, strict: strict, budget: &budget).map { entry + "/" + $0 }
            case S_IFREG:
                guard Int64(info.st_size) <= budget else {
                    leftOut.append(entry)
                    continue
                }
                budget -= Int64(info.st_size)
                // Streamed (a large file is not read whole into memory), never through a link.
                let mode = (info.st_mode & 0o111) != 0 ? 0o755 : 0o644
                if !ForkLock.copyFile(from, to, mode: mode_t(mode), locked: destination == path || destination.hasPrefix(path + "/")), strict {
                    throw SandboxError.hostFailure("cannot copy \(from) to \(to)")
                }
                if let owner { _ = lchown(to, owner.uid, owner.gid) }
            default:
                continue
            }
        }
        return leftOut
    }
}
