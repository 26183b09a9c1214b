// Who made an entry of a folder that several platform processes share (a `worker` beside `serve`, on one machine or
// in containers with their own pid namespaces on one volume): each process holds a shared lock on a lock file of its
// own (`.owner-<token>`) for as long as it runs, and names what it makes with its token (`o<token>-…`). An entry is
// abandoned when its maker's lock can be taken exclusively, or is gone — not by pid, which another process (a
// container's pid 1 after a restart, another pid namespace) may have.
import Foundation
import Glibc

enum Ownership {
    /// This process's token (random: a pid may be reused, or the same in another pid namespace).
    static let token = String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))
    /// The prefix of every entry this process makes.
    static var tag: String { "o\(token)-" }

    static func lockPath(_ token: some StringProtocol, in root: String) -> String { root + "/.owner-" + token }

    /// Takes this process's shared lock in `root` (kept until `release`); the descriptor.
    static func hold(in root: String) throws -> Int32 {
        let fd = open(lockPath(token, in: root), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0, flock(fd, LOCK_SH) == 0 else {
            if fd >= 0 { close(fd) }
            throw SandboxError.hostFailure("cannot take the jobs folder's owner lock in \(root)")
        }
        return fd
    }

    static func release(_ fd: Int32, in root: String) {
        close(fd)
        // Removed only when no other holder (another Sandbox of this process on the same folder) still has it.
        let check = open(lockPath(token, in: root), O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        if check >= 0 {
            if flock(check, LOCK_EX | LOCK_NB) == 0 { unlink(lockPath(token, in: root)) }
            close(check)
        }
    }

    /// The token an entry name carries after `prefix` (nil for an entry of an older version, which is abandoned).
    static func token(of entry: String, after prefix: String = "") -> Substring? {
        guard entry.hasPrefix(prefix + "o") else { return nil }
        let rest = entry.dropFirst(prefix.count + 1)
        guard let dash = rest.firstIndex(of: "-") else { return nil }
        return rest[..<dash]
    }

    /// Whether the process that made `entry` (named `prefix` + tag + …) in `root` is gone.
    static func isAbandoned(_ entry: String, in root: String, after prefix: String = "") -> Bool {
        guard let owner = token(of: entry, after: prefix) else { return true }
        if owner == token { return false }
        let fd = open(lockPath(owner, in: root), O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        return flock(fd, LOCK_EX | LOCK_NB) == 0
    }

    /// Lock files of processes that are gone.
    static func removeAbandonedLocks(in root: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where entry.hasPrefix(".owner-") {
            let owner = entry.dropFirst(".owner-".count)
            guard owner != token else { continue }
            let fd = open(root + "/" + entry, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(root + "/" + entry) }
            close(fd)
        }
    }
}
