// Builds bwrap's command line for a job: which host folders are visible (read-only), what is private, what is
// writable. A pure function of its inputs, so the isolation set can be read and tested in one place.
import CSandboxSpawn
import Foundation

public struct BwrapArguments: Sendable {
    /// Host folders bound read-only when they exist: the system's programs and libraries.
    public static let systemFolders = ["/usr", "/opt/swift"]
    /// Top-level names that merged-/usr systems make symlinks (bound as symlinks) and others make folders (bound read-only).
    public static let rootEntries = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    /// The part of /etc interpreters and compilers need. Never shadow, gshadow, sudoers, ssh keys or the host's passwd.
    public static let etcEntries = [
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "timezone", "mime.types",
        "python3", "python3.11", "python3.12", "java-17-openjdk", "ssl", "ca-certificates", "ca-certificates.conf",
        "gai.conf", "protocols", "services",
    ]
    /// Added only when a job has network access.
    public static let networkEtcEntries = ["resolv.conf", "hosts", "nsswitch.conf", "host.conf"]
    public static let insideUID = 1000
    public static let path = "/usr/local/bin:/usr/bin:/bin"

    /// A host root entry: a symlink (merged /usr) or a real folder.
    public enum RootEntry: Sendable, Equatable { case symlink(String), folder, absent }

    public var rootEntries: [String: RootEntry]
    /// Folder holding the sandbox's own passwd and group files (names for the uid inside).
    public var identityFolder: String
    public var tmpSizeBytes: Int
    /// The composed /etc (see ComposedEtc) for jobs on the host's system folders, without and with network; when
    /// set, /etc is one bind instead of one per entry.
    public var composedEtc: (plain: String, network: String)?
    /// Whether layers' composed /etc folders (ComposedEtc.layerFolder) are used when they exist.
    public var composedLayerEtc = false
    /// The resolv.conf a job with network sees (naming the DNS forwarder of its own network, see JobNetwork).
    public var networkResolvConf: String?

    public init(rootEntries: [String: RootEntry], identityFolder: String, tmpSizeBytes: Int = 64 << 20, composedEtc: (plain: String, network: String)? = nil) {
        self.rootEntries = rootEntries
        self.identityFolder = identityFolder
        self.tmpSizeBytes = tmpSizeBytes
        self.composedEtc = composedEtc
    }

    /// Reads the host's layout of /bin, /lib… once.
    public static func hostRootEntries() -> [String: RootEntry] {
        var entries: [String: RootEntry] = [:]
        for entry in rootEntries {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: entry) {
                entries[entry] = .symlink(target)
            } else {
                var isDirectory: ObjCBool = false
                entries[entry] = FileManager.default.fileExists(atPath: entry, isDirectory: &isDirectory) && isDirectory.boolValue ? .folder : .absent
            }
        }
        return entries
    }

    /// `statusFD` is where bwrap writes its JSON status (the child's start and exit code).
    /// bwrap's arguments for a job on the host's system folders.
    public func arguments(for job: SandboxJob, jobFolder: String) -> [String] {
        arguments(for: job, jobFolder: jobFolder, view: .host)
    }

    /// A lane's writable folders and its first process (see LanePool).
    struct LaneMounts {
        /// The lane's host tmpfs, holding `work`, `tmp` and `shm`, which become the work path, /tmp and /dev/shm.
        var folder: String
        /// The campuscloud-lane program, bound read-only at `launcherPath` and run as pid 1.
        var launcher: String
        static let launcherPath = "/.campuscloud-lane"
    }

    /// `control`: for a ready sandbox (see ReadyPool), a host folder bound read-only at /.campuscloud and the fd bwrap
    /// blocks on before it runs anything.
    /// `lane`: for a lane, its writable folders (every one on the lane's host tmpfs, so the platform can wipe them
    /// between jobs; /dev is then read-only) and its first process instead of the job's command.
    func arguments(for job: SandboxJob, jobFolder: String, view: SystemView, control: (folder: String, blockFD: Int32)? = nil,
                   lane: LaneMounts? = nil, statusFD: Int32 = 3) -> [String] {
        // A layer's setup runs as root inside its namespace (it owns the layer's folders); jobs never do.
        var building = false
        if case .layer(_, let isBuilding) = view { building = isBuilding }
        let inside = building ? "0" : String(Self.insideUID)
        var args = ["--unshare-all", "--unshare-user", "--disable-userns"]
        if job.network { args.append("--share-net") }
        args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--seccomp", String(CC_SPAWN_SECCOMP_FD),
                 "--uid", inside, "--gid", inside, "--hostname", "sandbox"]
        let bind = building ? "--bind" : "--ro-bind"
        func system(_ path: String) -> String {
            if case .layer(let layer, _) = view { return layer.path + "/merged" + path }
            return path
        }
        var layerUsesHostUsr = false
        if case .layer(let layer, false) = view { layerUsesHostUsr = layer.hostUsr }
        for folder in Self.systemFolders {
            if folder == "/usr" { args += [bind, layerUsesHostUsr ? "/usr" : system("/usr"), "/usr"] } else { args += ["--ro-bind-try", folder, folder] }
        }
        for name in Self.rootEntries.sorted() {
            switch rootEntries[name] ?? .absent {
            case .symlink(let target): args += ["--symlink", target, name]
            case .folder: args += ["--ro-bind", name, name]
            case .absent: break
            }
        }
        var composedLayer: String?
        if case .layer(let layer, false) = view { composedLayer = composedEtcFolder(of: layer, network: job.network) }
        if view == .host, let composedEtc {
            args += ["--ro-bind", job.network ? composedEtc.network : composedEtc.plain, "/etc"]
        } else if let composedLayer {
            args += ["--ro-bind", composedLayer, "/etc"]
        } else {
            let etc = Self.etcEntries + (job.network ? Self.networkEtcEntries : []) + (building ? SandboxLayer.setupEtcEntries : [])
            for name in etc { args += [bind + "-try", system("/etc/\(name)"), "/etc/\(name)"] }
            if building {
                for entry in SandboxLayer.setupVarEntries { args += ["--bind-try", system("/var/\(entry)"), "/var/\(entry)"] }
            }
            args += ["--ro-bind", identityFolder + "/passwd", "/etc/passwd", "--ro-bind", identityFolder + "/group", "/etc/group"]
        }
        if job.network, let networkResolvConf { args += ["--ro-bind", networkResolvConf, "/etc/resolv.conf"] }
        if let lane {
            args += ["--proc", "/proc", "--dev", "/dev", "--bind", lane.folder + "/shm", "/dev/shm", "--remount-ro", "/dev",
                     "--bind", lane.folder + "/tmp", "/tmp", "--bind", lane.folder + "/work", job.workPath, "--chdir", job.workPath,
                     "--ro-bind", lane.launcher, LaneMounts.launcherPath]
        } else {
            args += ["--proc", "/proc", "--dev", "/dev", "--size", String(tmpSizeBytes), "--tmpfs", "/tmp",
                     "--bind", jobFolder, job.workPath, "--chdir", job.workPath]
        }
        if let control { args += ["--ro-bind", control.folder, ReadyPool.controlPath] }
        args += [
                 // bwrap's own root is a tmpfs: make it read-only once every mount point exists, so the job folder
                 // and /tmp are the only writable places.
                 "--remount-ro", "/"]
        args.append("--clearenv")
        for (key, value) in Self.environment(home: job.workPath).merging(job.environment, uniquingKeysWith: { _, job in job }).sorted(by: { $0.key < $1.key }) {
            args += ["--setenv", key, value]
        }
        if lane != nil {
            return args + ["--as-pid-1", "--", LaneMounts.launcherPath]
        }
        if let control { args += ["--block-fd", String(control.blockFD)] }
        args += ["--json-status-fd", String(statusFD), "--"]
        return args + job.command
    }

    /// The composed /etc a job on `layer` binds, when this sandbox uses them and the layer has one.
    func composedEtcFolder(of layer: SandboxLayer, network: Bool) -> String? {
        guard composedLayerEtc else { return nil }
        let folder = ComposedEtc.layerFolder(layer, network: network)
        return FileManager.default.fileExists(atPath: folder) ? folder : nil
    }

    /// The environment every job starts with (its own variables are added, and win).
    public static func environment(home: String) -> [String: String] {
        ["PATH": path, "HOME": home, "LANG": "C.UTF-8", "TMPDIR": "/tmp"]
    }

    /// The passwd and group files the sandbox sees: only the job's user and nobody.
    public static func identityFiles(workPath: String = "/work") -> (passwd: String, group: String) {
        ("root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:\(insideUID):\(insideUID):sandbox:\(workPath):/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
         "root:x:0:\nsandbox:x:\(insideUID):\nnogroup:x:65534:\n")
    }
}
