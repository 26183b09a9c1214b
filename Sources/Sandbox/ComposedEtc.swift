// The part of /etc jobs see, composed once per process into one folder (copies of the listed entries, plus the
// sandbox's own passwd and group), so a job's bwrap binds /etc once instead of each entry: every bind makes bwrap
// re-read the namespace's mount table, which was a third of its start-up cost. Only what every user may read is
// copied (what a job could not read anyway, e.g. /etc/ssl/private, is left out); symlinks are copied as symlinks.
// The copy is taken when the sandbox starts; a change to the host's /etc reaches jobs at the next start.
import CSandboxSpawn
import Foundation
import Glibc

enum ComposedEtc {
    /// Builds `target` (which must not exist) from the host's /etc entries `names` and the identity files.
    static func build(at target: String, names: [String], identityFolder: String, hostEtc: String = "/etc") throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        chmod(target, 0o755)
        for name in names { copy(hostEtc + "/" + name, to: target + "/" + name, depth: 0) }
        for name in ["passwd", "group"] { copy(identityFolder + "/" + name, to: target + "/" + name, depth: 0) }
    }

    /// Copies one entry: folders (readable and searchable by all) recursively, regular files readable by all,
    /// symlinks as they are. Anything else, or anything private, is skipped.
    private static func copy(_ source: String, to target: String, depth: Int) {
        guard depth < 32 else { return }
        var info = stat()
        guard lstat(source, &info) == 0 else { return }
        let mode = info.st_mode & 0o7777
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(source, &buffer, buffer.count - 1)
            guard length > 0 else { return }
            buffer[length] = 0
            _ = symlink(buffer, target)
        case S_IFDIR:
            guard mode & 0o005 == 0o005, mkdir(target, 0o755) == 0 else { return }
            chmod(target, mode & 0o755)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: source) else { return }
            for name in names { copy(source + "/" + name, to: target + "/" + name, depth: depth + 1) }
        case S_IFREG:
            guard mode & 0o004 == 0o004, let data = FileManager.default.contents(atPath: source) else { return }
            guard FileManager.default.createFile(atPath: target, contents: data) else { return }
            chmod(target, mode & 0o755)
        default:
            return
        }
    }

    /// The composed /etc of a layer's jobs (without or with network): the layer's changes over the host's /etc.
    static func layerFolder(_ layer: SandboxLayer, network: Bool) -> String { layer.path + (network ? "/etc-view-network" : "/etc-view-plain") }

    /// Composes a sealed layer's /etc (root only): a read-only overlay of its upper /etc over the host's is mounted
    /// in a mount namespace of a thread of its own, copied from, and unmounted. Another process composing the same
    /// layer at once is harmless (the first rename wins). False when it could not be done (jobs then bind entries).
    @discardableResult
    static func composeForLayer(_ layer: SandboxLayer, identityFolder: String) -> Bool {
        if FileManager.default.fileExists(atPath: layerFolder(layer, network: true)) { return true }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var succeeded = false
        let thread = Thread {
            defer { done.signal() }
            // This thread's own mount namespace: the overlay is never visible to the rest of the host.
            guard cc_unshare_mounts() == 0, mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil) == 0 else { return }
            let suffix = UUID().uuidString.lowercased()
            let merged = layer.path + "/.etc-merge-" + suffix
            guard mkdir(merged, 0o700) == 0 else { return }
            defer { rmdir(merged) }
            guard mount("overlay", merged, "overlay", UInt(MS_RDONLY), "lowerdir=\(layer.upper("etc")):/etc") == 0 else { return }
            defer { umount2(merged, Int32(MNT_DETACH)) }
            var ok = true
            for network in [false, true] {
                let aside = layerFolder(layer, network: network) + ".new-" + suffix
                do {
                    try build(at: aside, names: BwrapArguments.etcEntries + (network ? BwrapArguments.networkEtcEntries : []),
                              identityFolder: identityFolder, hostEtc: merged)
                    if rename(aside, layerFolder(layer, network: network)) != 0 { try? FileManager.default.removeItem(atPath: aside) }
                } catch {
                    try? FileManager.default.removeItem(atPath: aside)
                    ok = false
                }
            }
            succeeded = ok
        }
        thread.start()
        done.wait()
        return succeeded && FileManager.default.fileExists(atPath: layerFolder(layer, network: true))
    }

    /// Folders composed by processes that are gone (this process's own are removed when it shuts down).
    static func removeAbandoned(under root: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where entry.hasPrefix(".etc-") {
            let pid = entry.dropFirst(".etc-".count).split(separator: "-").first.flatMap { pid_t($0) } ?? 0
            if pid > 0, kill(pid, 0) == 0 || errno == EPERM { continue }
            try? FileManager.default.removeItem(atPath: root + "/" + entry)
        }
    }
}
