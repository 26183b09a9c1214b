// Environment layers: a setup script (an autograder's setup.sh) runs once, with network, on a writable overlay of
// the system folders; what it changes becomes a layer that later jobs see read-only, without network.
//
// Debian's bwrap (0.8) has no overlay options, so the overlay is mounted just before bwrap starts, in a user and
// mount namespace of the job's own (the spawn helper unshares them after dropping to the job's uid, maps that uid
// as root there and mounts the overlays: what `unshare --user --map-root-user --mount` + `mount -t overlay` would
// do, without starting two more programs per job), and bwrap binds the merged folders. An unprivileged overlay cannot write into folders owned by the host's root (root is
// unmapped in the namespace), so a build starts by giving the layer's upper folder a skeleton of the system's
// folders, owned by the build's uid: overlayfs takes a folder's owner from the upper layer, so the setup may create
// files anywhere, while the host's files stay read-only beneath. After a build the layer is made readable by every
// job uid and (as root) owned by root, so no job uid owns it.
import CSandboxSpawn
import Foundation
import Glibc

public struct SandboxLayer: Sendable, Hashable {
    public let id: String
    /// Host folder of the layer: upper/<folder> holds what the setup changed, merged/<folder> are mount points.
    public let path: String
    /// The setup changed nothing in /usr (its upper folder is the bare skeleton): jobs bind the host's /usr as it
    /// is, rather than an overlay that looks the same and makes every file lookup of the job dearer.
    public let hostUsr: Bool

    public init(id: String, path: String, hostUsr: Bool = false) {
        self.id = id
        self.path = path
        self.hostUsr = hostUsr
    }

    /// The marker a sealed layer holds when its /usr is the host's (see `hostUsr`).
    var hostUsrMarker: String { path + "/host-usr" }

    /// The system folders a layer may change. Jobs see /usr whole and the usual subset of /etc; /var only matters
    /// while a setup runs (package managers keep their state there).
    static let folders = ["usr", "etc", "var"]
    /// What of /etc and /var a setup sees besides the usual subset: package managers' configuration and state.
    static let setupEtcEntries = ["apt", "dpkg", "debconf.conf", "pip.conf", "python3", "profile", "environment", "mime.types", "ld.so.conf.d"]
    static let setupVarEntries = ["lib/dpkg", "lib/apt", "cache/apt", "cache/debconf", "log/apt"]

    static func validID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    func upper(_ folder: String) -> String { path + "/upper/" + folder }
    func work(_ folder: String) -> String { path + "/work/" + folder }
    func merged(_ folder: String) -> String { path + "/merged/" + folder }
}

/// How a job sees the system folders.
enum SystemView: Sendable, Equatable {
    case host
    /// A layer's merged folders, read-only for jobs, writable while its setup runs.
    case layer(SandboxLayer, building: Bool)
}

enum LayerMounts {
    /// The overlays a job on `layer` mounts before bwrap starts (options, mount point), one per system folder it
    /// uses: read-only (the layer over the host's folder) for jobs, writable (upper and work folders) while building.
    /// A job (not a build) needs only /usr, and /etc when the layer has no composed /etc (see ComposedEtc); /var is
    /// bound only while building.
    static func overlays(layer: SandboxLayer, building: Bool, composedEtc: Bool = false) -> [Overlay] {
        let folders = building ? SandboxLayer.folders : (layer.hostUsr ? [] : ["usr"]) + (composedEtc ? [] : ["etc"])
        return folders.map { folder in
            Overlay(options: building ? "lowerdir=/\(folder),upperdir=\(layer.upper(folder)),workdir=\(layer.work(folder))"
                                      : "lowerdir=\(layer.upper(folder)):/\(folder)",
                    target: layer.merged(folder))
        }
    }

    struct Overlay: Equatable {
        var options: String
        var target: String
    }

    /// Prepares a new layer folder: the skeleton of the system folders (owned by `owner`), work and mount points.
    static func prepare(_ layer: SandboxLayer, owner: (uid: UInt32, gid: UInt32)?) throws {
        for folder in SandboxLayer.folders {
            for part in ["upper", "work", "merged"] {
                let path = layer.path + "/" + part + "/" + folder
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                if let owner, part != "merged" { _ = lchown(path, owner.uid, owner.gid) }
            }
            try skeleton(from: "/" + folder, to: layer.upper(folder), owner: owner, depth: 0)
        }
        for part in ["", "/upper", "/work", "/merged"] { chmod(layer.path + part, 0o755) }
    }

    /// Copies the folder tree (folders only, same filesystem, symlinks never followed).
    private static func skeleton(from source: String, to target: String, owner: (uid: UInt32, gid: UInt32)?, depth: Int) throws {
        guard depth < 40, let dir = opendir(source) else { return }
        defer { closedir(dir) }
        var sourceInfo = stat()
        guard lstat(source, &sourceInfo) == 0 else { return }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name == "." || name == ".." { continue }
            let from = source + "/" + name, to = target + "/" + name
            var info = stat()
            guard lstat(from, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_dev == sourceInfo.st_dev else { continue }
            guard mkdir(to, 0o755) == 0 || errno == EEXIST else { continue }
            if let owner { _ = lchown(to, owner.uid, owner.gid) }
            // The upper folder decides the merged folder's mode: keep the host's, with the owner's write bit.
            chmod(to, (info.st_mode & 0o7777) | 0o700)
            try skeleton(from: from, to: to, owner: owner, depth: depth + 1)
        }
    }

    /// After a build: readable by every job uid, owned by root when we are root, the work folders gone, and
    /// marked when the setup left /usr as the host's.
    static func seal(_ layer: SandboxLayer, asRoot: Bool) {
        for folder in SandboxLayer.folders { try? FileManager.default.removeItem(atPath: layer.work(folder)) }
        let hostUsr = isSkeleton(layer.upper("usr"), of: "/usr", depth: 0)
        seal(path: layer.path + "/upper", asRoot: asRoot)
        if hostUsr { FileManager.default.createFile(atPath: layer.hostUsrMarker, contents: Data()) }
    }

    /// Whether `upper` holds exactly the skeleton `prepare` made of `host`: folders only (no file, link or whiteout),
    /// each one the host has, with the skeleton's mode and no extended attributes (overlayfs marks an opaque folder
    /// with one). Anything else means the merged view differs from the host's.
    static func isSkeleton(_ upper: String, of host: String, depth: Int) -> Bool {
        guard depth < 40, let dir = opendir(upper) else { return false }
        defer { closedir(dir) }
        var info = stat(), hostInfo = stat()
        guard lstat(upper, &info) == 0, lstat(host, &hostInfo) == 0, (hostInfo.st_mode & S_IFMT) == S_IFDIR,
              depth == 0 || info.st_mode & 0o7777 == (hostInfo.st_mode & 0o7777) | 0o700,
              cc_has_xattrs(upper) == 0 else { return false }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name == "." || name == ".." { continue }
            var child = stat()
            guard lstat(upper + "/" + name, &child) == 0, (child.st_mode & S_IFMT) == S_IFDIR,
                  isSkeleton(upper + "/" + name, of: host + "/" + name, depth: depth + 1) else { return false }
        }
        return true
    }

    private static func seal(path: String, asRoot: Bool) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        let type = info.st_mode & S_IFMT
        if asRoot { _ = lchown(path, 0, 0) }
        guard type != S_IFLNK else { return }
        var mode = info.st_mode & 0o7777 & ~0o6000  // no setuid/setgid in a layer
        if mode & 0o400 != 0 { mode |= 0o044 }
        if mode & 0o100 != 0 || type == S_IFDIR { mode |= 0o011 }
        chmod(path, mode)
        guard type == S_IFDIR, let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
        for entry in entries { seal(path: path + "/" + entry, asRoot: asRoot) }
    }
}

/// Watches how much a layer's setup has written (its upper folders) and calls `exceeded` once when it passes the cap.
final class LayerDiskWatch: @unchecked Sendable {
    let folder: String
    let limitBytes: Int64
    private let onExceeded: @Sendable () -> Void
    private let lock = NSLock()
    private var done = false
    private var over = false

    init(folder: String, limitBytes: Int64, exceeded: @escaping @Sendable () -> Void) {
        self.folder = folder
        self.limitBytes = limitBytes
        onExceeded = exceeded
    }

    var exceeded: Bool { lock.withLock { over } }
    func finish() { lock.withLock { done = true } }

    /// Measures twice a second until `finish` (or `stop` says so).
    func run(until stop: () -> Bool) {
        while !lock.withLock({ done }) {
            if stop() { return }
            if Self.size(of: folder) > limitBytes {
                lock.withLock { over = true }
                onExceeded()
                return
            }
            usleep(500_000)
        }
    }

    /// Bytes the files below `path` take on disk (allocated blocks; links not followed, other file systems skipped).
    static func size(of path: String) -> Int64 {
        var total: Int64 = 0
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        let device = info.st_dev
        var pending = [path]
        while let folder = pending.popLast() {
            guard let dir = opendir(folder) else { continue }
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                if name == "." || name == ".." { continue }
                let child = folder + "/" + name
                guard lstat(child, &info) == 0, info.st_dev == device else { continue }
                total += Int64(info.st_blocks) * 512
                if (info.st_mode & S_IFMT) == S_IFDIR { pending.append(child) }
            }
            closedir(dir)
        }
        return total
    }
}
