// Preparing the host for the sandbox, once: finding bwrap and checking it works, the cgroup layout, the lane
// launcher, the composed /etc folders, and the start-up clean-up of what a previous process left.
import Foundation
import Glibc
import CSandboxSpawn

extension Sandbox {
    func prepare() throws -> Host {
        lock.lock()
        defer { lock.unlock() }
        if let host { return host }
        let found = try Self.findBwrap(configuration.bwrapPath)
        let asRoot = getuid() == 0
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: configuration.jobsRoot, withIntermediateDirectories: true)
            chmod(configuration.jobsRoot, 0o711)
        } catch {
            throw SandboxError.hostFailure("cannot create the jobs folder \(configuration.jobsRoot)")
        }
        if asRoot { try Self.requireTraversable(configuration.jobsRoot) }
        if ownerLock < 0 { ownerLock = try Ownership.hold(in: configuration.jobsRoot) }
        Self.removeLeftovers(under: configuration.jobsRoot)
        let identity = configuration.jobsRoot + "/.identity"
        try? fm.createDirectory(atPath: identity, withIntermediateDirectories: true)
        chmod(identity, 0o755)
        let files = BwrapArguments.identityFiles()
        guard fm.createFile(atPath: identity + "/passwd", contents: Data(files.passwd.utf8), attributes: [.posixPermissions: 0o644]),
              fm.createFile(atPath: identity + "/group", contents: Data(files.group.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw SandboxError.hostFailure("cannot write the sandbox's identity files in \(identity)")
        }
        ComposedEtc.removeAbandoned(under: configuration.jobsRoot)
        let etcBase = configuration.jobsRoot + "/.etc-\(getpid())-" + UUID().uuidString.lowercased()
        var composed: (plain: String, network: String)? = (etcBase + "-plain", etcBase + "-network")
        do {
            try ComposedEtc.build(at: composed!.plain, names: BwrapArguments.etcEntries, identityFolder: identity)
            try ComposedEtc.build(at: composed!.network, names: BwrapArguments.etcEntries + BwrapArguments.networkEtcEntries, identityFolder: identity)
            composedEtcFolders = [composed!.plain, composed!.network]
        } catch {
            composed = nil  // jobs bind each /etc entry instead
        }
        let cgroups = configuration.useCgroups ? CgroupLayout.detect() : .none
        let missing = Self.missingIsolation(asRoot: asRoot, cgroups: cgroups, jobsOnTmpfs: Self.onTmpfs(configuration.jobsRoot))
        if !missing.isEmpty && !configuration.allowWeakIsolation {
            throw SandboxError.unavailable("this platform runs as a non-root user without " + missing.joined(separator: " or ")
                + ", so jobs would share its uid, have no memory or process caps and could fill the data disk; run it as root, or under the "
                + "systemd unit in deploy/campuscloud.service (cgroup v2, Delegate=yes, a size-capped jobs folder), or, on a "
                + "development machine only, set CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX=1")
        }
        var arguments = BwrapArguments(rootEntries: BwrapArguments.hostRootEntries(), identityFolder: identity, composedEtc: composed)
        if fm.createFile(atPath: identity + "/resolv.conf", contents: Data(JobNetwork.resolvConf.utf8), attributes: [.posixPermissions: 0o644]) {
            arguments.networkResolvConf = identity + "/resolv.conf"
        }
        arguments.composedLayerEtc = asRoot
        var prepared = Host(bwrap: found, cgroups: cgroups, arguments: arguments, asRoot: asRoot)
        try probe(prepared)
        if configuration.lanes > 0 { prepared.laneLauncher = Self.placeLaneLauncher(configuration.laneLauncher, in: configuration.jobsRoot) }
        host = prepared
        uids = UIDAllocator(range: configuration.uidRange, enabled: asRoot)
        return prepared
    }

    /// campuscloud-lane (configured, or beside this process's executable), linked or copied into the jobs folder
    /// where the lanes' uids can read it; nil when there is none (jobs then get sandboxes of their own).
    static func placeLaneLauncher(_ configured: String?, in jobsRoot: String) -> String? {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let source = configured ?? (executable as NSString).deletingLastPathComponent + "/campuscloud-lane"
        guard FileManager.default.isExecutableFile(atPath: source) else { return nil }
        let target = jobsRoot + "/.lane-launcher", staging = target + "-" + UUID().uuidString.lowercased()
        if link(source, staging) != 0 {
            guard let data = FileManager.default.contents(atPath: source),
                  FileManager.default.createFile(atPath: staging, contents: data, attributes: [.posixPermissions: 0o755]) else { return nil }
        }
        chmod(staging, 0o755)
        guard rename(staging, target) == 0 else {
            unlink(staging)
            return nil
        }
        return target
    }

    static func findBwrap(_ configured: String?) throws -> String {
        let candidates = configured.map { [$0] } ?? (["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
            + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/bwrap" })
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SandboxError.unavailable("bubblewrap (bwrap) is not installed; install it with `apt-get install bubblewrap`")
        }
        return path
    }

    /// Runs `true` in a full sandbox once: proves namespaces and mounts work before any real job is accepted.
    func probe(_ host: Host) throws {
        if let problem = SystemCallFilter.problem() { throw SandboxError.unavailable(problem + "; install libseccomp2") }
        let uid = host.asRoot ? configuration.uidRange.upperBound : nil
        let job = SandboxJob(command: ["/bin/sh", "-c", "exit 0"], limits: SandboxLimits(wallSeconds: 20))
        let folder = try JobFolder.create(root: configuration.jobsRoot, name: "probe-" + UUID().uuidString.lowercased(), diskBytes: 1 << 20, owner: uid.map { ($0, $0) })
        defer { folder.remove() }
        let spec = ExecSpec(launcher: host.bwrap, arguments: host.arguments.arguments(for: job, jobFolder: folder.path), rlimits: [], uid: uid)
        let outcome: Outcome
        switch try Launcher.spawn(spec, stdin: nil, cgroupProcs: []) {
        case .success(let launch): outcome = Supervisor.watch(launch, limits: job.limits, cgroup: nil, onOutput: nil)
        case .failure(let failure): outcome = Outcome(launchError: failure.description)
        }
        guard outcome.launchError == nil, outcome.bwrapExitCode == 0 else {
            let detail = outcome.launchError ?? String(decoding: outcome.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw SandboxError.unavailable("bwrap could not set up a sandbox (\(detail)). Unprivileged user namespaces must be enabled: sysctl -w kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0, and no AppArmor or seccomp policy may block bwrap")
        }
    }

    /// bwrap runs as the job's uid and must reach the job folder: every folder above it needs o+x.
    static func requireTraversable(_ path: String) throws {
        var current = URL(fileURLWithPath: path).standardizedFileURL
        while current.path != "/" {
            current.deleteLastPathComponent()
            var info = stat()
            if stat(current.path, &info) == 0, info.st_mode & 0o001 == 0 {
                throw SandboxError.unavailable("the folder \(current.path) is closed to other users, so sandboxed jobs cannot reach their folders below it; run chmod o+x \(current.path) (it stays unlistable) or set CAMPUSCLOUD_DATA_DIR elsewhere")
            }
        }
    }

    /// Folders and mounts left by a platform process that died mid-job.
    /// What a non-root platform lacks to run untrusted code safely (empty as root, which gives each job its own host
    /// uid, a size-limited tmpfs folder and cgroups where the kernel has them): delegated cgroups (memory and process
    /// caps) and a size-capped jobs folder (so a job cannot fill the data disk).
    static func missingIsolation(asRoot: Bool, cgroups: CgroupLayout, jobsOnTmpfs: Bool) -> [String] {
        guard !asRoot else { return [] }
        var missing: [String] = []
        if cgroups == .none { missing.append("delegated cgroups") }
        if !jobsOnTmpfs { missing.append("a size-capped (tmpfs) jobs folder") }
        return missing
    }

    static func onTmpfs(_ path: String) -> Bool { cc_is_tmpfs(path) == 1 }

    /// Job folders (and their mounts) left by platform processes that are gone; another live process's running jobs
    /// on the same folder are left alone (see Ownership).
    static func removeLeftovers(under root: String) {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[4].hasPrefix(root + "/") else { continue }
            let entry = fields[4].dropFirst(root.count + 1).prefix { $0 != "/" }
            if !entry.hasPrefix("."), Ownership.isAbandoned(String(entry), in: root) { _ = umount2(String(fields[4]), Int32(MNT_DETACH)) }
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where !entry.hasPrefix(".") && Ownership.isAbandoned(entry, in: root) {
            try? FileManager.default.removeItem(atPath: root + "/" + entry)
        }
        JobNetwork.removeAbandoned(under: root)
        Ownership.removeAbandonedLocks(in: root)
    }

    func allocateUID() -> UInt32? { lock.withLock { uids }?.allocate() }
    func releaseUID(_ uid: UInt32?) { lock.withLock { uids }?.release(uid) }
}
