// Runs untrusted code under bubblewrap with hard limits and returns a typed result. It fails closed: without a
// working bwrap nothing runs and the error says what to install or enable; there is no unsafe mode.
//
// Per job: a folder (size-limited tmpfs as root) bound as the only writable place; a fresh unprivileged host uid
// (as root); cgroups for memory, processes and CPU accounting where the machine has them; rlimits always; bwrap
// namespaces (user, mount, pid, net, ipc, uts, cgroup) with a read-only view of the system folders.
import Foundation
import Glibc
import CSandboxSpawn

public final class Sandbox: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Host folder under which each job gets its own folder.
        public var jobsRoot: String
        /// bwrap's path; nil looks in the usual places.
        public var bwrapPath: String?
        /// Host uids given to jobs, one per job at a time, when the platform runs as root.
        public var uidRange: ClosedRange<UInt32> = 60_000...60_999
        public var useCgroups = true
        /// Launchers kept ready in their cgroups (see WarmPool); 0 starts each job from scratch.
        public var warmLaunchers = 2
        /// Sandboxes set up ahead of need, per job shape (see ReadyPool); 0 sets each sandbox up when its job comes.
        public var readySandboxes = 2
        /// How many job shapes (system view and work path) keep ready sandboxes and lanes; the least recently used goes.
        public var readyShapes = 4
        /// Idle lanes kept per job shape (see LanePool): sandboxes that run many jobs one after another, wiped between
        /// them. 0 gives every job a sandbox of its own.
        public var lanes = 4
        /// The campuscloud-lane program lanes run; nil looks beside this process's executable. Without it, every job
        /// gets a sandbox of its own.
        public var laneLauncher: String?
        /// Host folder holding environment layers; by default `layers` beside the jobs folder.
        public var layersRoot: String?
        /// The host uid that holds jobs' network namespaces and runs their pasta (never a job's uid; see JobNetwork).
        public var networkUID: UInt32 = 59_999
        /// Runs jobs even where the isolation is weak (not root, and no delegated cgroups or size-capped jobs folder:
        /// see `missingIsolation`). For development on a laptop only, never for production.
        public var allowWeakIsolation = false

        public var layersFolder: String { layersRoot ?? (jobsRoot as NSString).deletingLastPathComponent + "/layers" }

        public init(jobsRoot: String, bwrapPath: String? = nil) {
            self.jobsRoot = jobsRoot
            self.bwrapPath = bwrapPath
        }
    }

    /// What the host offers, found once.
    struct Host {
        var bwrap: String
        var cgroups: CgroupLayout
        var arguments: BwrapArguments
        var asRoot: Bool
        /// campuscloud-lane, copied where the lanes' uids can read it; nil when lanes are off or it is missing.
        var laneLauncher: String?
    }

    public let configuration: Configuration
    private let lock = NSLock()
    private var host: Host?
    private var pool: WarmPool?
    private var readyPools: [ReadyPool.Shape: ReadyPool] = [:]
    private var lanePools: [ReadyPool.Shape: LanePool] = [:]
    /// This process's composed /etc folders (removed at shutdown).
    private var composedEtcFolders: [String] = []
    /// Layers whose /etc this process has tried to compose.
    private var composeTried: Set<String> = []
    private let spares = SpareCgroups(limit: 16)
    /// This process's lock in the jobs folder while it may have jobs there (see Ownership); -1 before the first.
    private var ownerLock: Int32 = -1
    /// pasta and the tools job networks need, looked up once.
    private let networkTools = JobNetwork.Tools.find()
    /// Jobs whose cleanup (folder, cgroups, uid) has not finished yet; `shutdown` waits for them.
    private let inFlight = DispatchGroup()
    private var uids: UIDAllocator?
    /// How jobs were started: set up on demand, through a warm launcher, in a ready sandbox, or in a lane.
    enum LaunchPath: Hashable { case cold, warm, ready, lane }
    private var launches: [LaunchPath: Int] = [:]

    func launchCount(_ path: LaunchPath) -> Int { lock.withLock { launches[path] ?? 0 } }
    private let lanesStarted = LaneCounter()
    /// Lanes started so far (each runs many jobs).
    var laneStarts: Int { lanesStarted.value }
    private func count(_ path: LaunchPath) { lock.withLock { launches[path, default: 0] += 1 } }

    /// Waits (up to `timeout`) until a job like `job` would find something prepared ahead: a ready sandbox of its
    /// shape, or else a warm launcher. Jobs never need to call it (they start on demand when nothing is ready); a
    /// grading worker may, for an assignment it is about to grade, and benchmarks do.
    /// With `full`, waits until every slot of that kind is prepared (benchmarks: no preparation left running).
    public func prepareAhead(for job: SandboxJob, full: Bool = false, timeout: Duration = .seconds(10)) async throws {
        let host = try prepare()
        let view: SystemView = job.layer.map { .layer($0, building: false) } ?? .host
        if let lanes = lanePool(for: job, view: view, host: host) {
            if lanes.idleCount == 0 { lanes.finish(try lanes.lane()) }
            return
        }
        let ready = readyPool(for: job, view: view, host: host)
        let warm = ready == nil ? warmPool(host) : nil
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let wanted = full ? (ready == nil ? configuration.warmLaunchers : configuration.readySandboxes) : 1
            if let ready, ready.readyCount >= wanted { return }
            if let warm, warm.readyCount >= wanted { return }
            if ready == nil && warm == nil { return }
            ready?.refill()
            warm?.refill()
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// What the machine uses for isolation, for logs and the CLI.
    public func describeHost() throws -> String {
        let host = try prepare()
        let cgroups: String = switch host.cgroups {
        case .v2: "cgroup v2"
        case .v1: "cgroup v1 (memory, pids, cpuacct)"
        case .none: "no cgroups (rlimits only)"
        }
        let lanes = host.laneLauncher != nil ? "lanes of up to \(LanePool.jobsPerLane) jobs" : "a sandbox per job (no lanes)"
        return "bwrap at \(host.bwrap); \(cgroups); \(host.asRoot ? "jobs run as unprivileged uids \(configuration.uidRange)" : "jobs run as this user"); \(lanes)"
    }

    /// Checks that sandboxed code can run here, running a trivial job once. Throws `SandboxError.unavailable`.
    public func checkAvailable() throws { _ = try prepare() }

    public func run(_ job: SandboxJob, onOutput: (@Sendable (SandboxStream, Data) -> Void)? = nil) async throws -> SandboxResult {
        try Self.validate(job)
        if let layer = job.layer, self.layer(id: layer.id) != layer {
            throw SandboxError.invalidJob("the environment layer '\(layer.id)' does not exist (build it first)")
        }
        let host = try prepare()
        if let layer = job.layer, host.asRoot, !FileManager.default.fileExists(atPath: ComposedEtc.layerFolder(layer, network: true)),
           lock.withLock({ composeTried.insert(layer.path).inserted }) {
            // A layer built before this process composed /etc for its jobs (or by an older version): compose it now
            // (once per process; when it cannot be done its jobs bind the entries one by one).
            ComposedEtc.composeForLayer(layer, identityFolder: host.arguments.identityFolder)
        }
        return try await runOnThread(job, view: job.layer.map { .layer($0, building: false) } ?? .host, host: host, uid: .allocate, onOutput: onOutput)
    }

    /// Builds (or rebuilds) the layer `id` by running `setup` on a writable overlay of the system folders, as root
    /// inside its namespace. Give the setup network if it downloads. The layer exists only when the setup exits 0;
    /// the result (with its log) comes back either way. Jobs that use the previous layer of that id keep it. What
    /// the setup writes into the system folders is capped at `diskMB` (its time by the setup's own limits): over it,
    /// the setup is stopped, its log says why and the partial layer is removed.
    public func buildLayer(id: String, setup: SandboxJob, diskMB: Int = 4096) async throws -> (layer: SandboxLayer?, result: SandboxResult) {
        guard SandboxLayer.validID(id) else { throw SandboxError.invalidJob("a layer id is letters, digits, - and _ (at most 64)") }
        try Self.validate(setup)
        let host = try prepare()
        let uid = allocateUID()
        defer { releaseUID(uid) }
        let root = configuration.layersFolder
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o711)
        let building = SandboxLayer(id: id, path: root + "/.build-\(id)-" + UUID().uuidString.lowercased())
        do {
            try LayerMounts.prepare(building, owner: uid.map { ($0, $0) })
        } catch {
            try? FileManager.default.removeItem(atPath: building.path)
            throw SandboxError.hostFailure("cannot prepare the layer folder \(building.path)")
        }
        var job = setup
        job.layer = nil
        let stop = SandboxCancellation(), given = setup.cancellation
        job.cancellation = stop
        // The cap is watched while the setup runs (measured twice a second: it may pass it by what can be written in
        // that time, and no file may be over the setup's file size limit) and checked once more at the end.
        let watch = LayerDiskWatch(folder: building.path + "/upper", limitBytes: Int64(diskMB) << 20) { stop.cancel() }
        let watching = Thread {
            watch.run(until: {
                guard given?.isCancelled == true else { return false }
                stop.cancel()  // the caller cancelled the setup: pass it on
                return true
            })
        }
        watching.start()
        defer { watch.finish() }
        var result = try await runOnThread(job, view: .layer(building, building: true), host: host, uid: .fixed(uid), onOutput: nil)
        watch.finish()
        if watch.exceeded || LayerDiskWatch.size(of: building.path + "/upper") > Int64(diskMB) << 20 {
            try? FileManager.default.removeItem(atPath: building.path)
            result.status = .cancelled
            result.stderr += (result.stderr.isEmpty || result.stderr.hasSuffix("\n") ? "" : "\n")
                + "The set-up was stopped: it wrote more than \(diskMB) MB into the environment (the assignment's disk cap), so no environment was kept.\n"
            return (nil, result)
        }
        guard result.status == .ok, result.exitCode == 0 else {
            try? FileManager.default.removeItem(atPath: building.path)
            return (nil, result)
        }
        LayerMounts.seal(building, asRoot: host.asRoot)
        let final = root + "/" + id, retired = root + "/.old-\(id)-" + UUID().uuidString.lowercased()
        _ = rename(final, retired)
        guard rename(building.path, final) == 0 else {
            try? FileManager.default.removeItem(atPath: building.path)
            throw SandboxError.hostFailure("cannot put the layer \(id) in place")
        }
        try? FileManager.default.removeItem(atPath: retired)
        guard let built = layer(id: id) else { throw SandboxError.hostFailure("the layer \(id) vanished as it was put in place") }
        if host.asRoot { ComposedEtc.composeForLayer(built, identityFolder: host.arguments.identityFolder) }
        return (built, result)
    }

    /// The built layer `id`, if there is one.
    public func layer(id: String) -> SandboxLayer? {
        guard SandboxLayer.validID(id) else { return nil }
        let path = configuration.layersFolder + "/" + id
        guard FileManager.default.fileExists(atPath: path + "/upper/usr") else { return nil }
        return SandboxLayer(id: id, path: path, hostUsr: FileManager.default.fileExists(atPath: SandboxLayer(id: id, path: path).hostUsrMarker))
    }

    /// Which host uid a job runs as: one allocated for it, or one its caller already holds (a layer build).
    enum UIDChoice { case allocate, fixed(UInt32?) }

    private func runOnThread(_ job: SandboxJob, view: SystemView, host: Host, uid: UIDChoice,
                             onOutput: (@Sendable (SandboxStream, Data) -> Void)?) async throws -> SandboxResult {
        try await withCheckedThrowingContinuation { continuation in
            inFlight.enter()
            let thread = Thread {
                // The result goes back first; the job's processes are dead by then, and removing its folder and
                // recycling its cgroups need not delay whoever waits for the grade.
                var cleanup = Cleanup()
                continuation.resume(with: Result { try self.execute(job, view: view, host: host, uid: uid, onOutput: onOutput, cleanup: &cleanup) })
                cleanup.run()
                self.inFlight.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    // MARK: - One job

    private func execute(_ job: SandboxJob, view: SystemView, host: Host, uid choice: UIDChoice,
                         onOutput: (@Sendable (SandboxStream, Data) -> Void)?, cleanup: inout Cleanup) throws -> SandboxResult {
        // A lane of this job's shape (a sandbox kept for many jobs), when this machine can have them.
        if case .allocate = choice, let lanes = lanePool(for: job, view: view, host: host), let lane = try? lanes.lane() {
            count(.lane)
            cleanup.add { lanes.finish(lane) }
            let rlimits = Self.rlimits(for: job.limits, cgroups: host.cgroups, dedicatedUID: lane.uid != nil)
            let launch = try lanes.go(lane, job: job, rlimits: rlimits)
            let outcome = Supervisor.watch(launch, limits: job.limits, cgroup: lane.cgroup, cancellation: job.cancellation, onOutput: onOutput)
            let result = collect(outcome, job: job, cgroup: lane.cgroup, folder: lane.work, sweep: lane.broken)
            lanes.ended(lane)
            return result
        }

        // A sandbox of this job's shape set up ahead of need, when one is waiting.
        if case .allocate = choice, let ready = readyPool(for: job, view: view, host: host), let slot = ready.take() {
            count(.ready)
            cleanup.add { ready.finish(slot) }
            let rlimits = Self.rlimits(for: job.limits, cgroups: host.cgroups, dedicatedUID: slot.uid != nil)
            let launch = try ready.go(slot, job: job, rlimits: rlimits)
            let outcome = Supervisor.watch(launch, limits: job.limits, cgroup: slot.cgroup, cancellation: job.cancellation, onOutput: onOutput)
            return collect(outcome, job: job, cgroup: slot.cgroup, folder: slot.folder)
        }

        // Otherwise set it up now.
        var uid: UInt32?
        switch choice {
        case .fixed(let fixed): uid = fixed
        case .allocate:
            uid = allocateUID()
            let allocated = uid
            cleanup.add { self.releaseUID(allocated) }
        }
        let name = UUID().uuidString.lowercased()
        let owner = uid.map { (uid: $0, gid: $0) }
        let folder = try JobFolder.create(root: configuration.jobsRoot, name: name, diskBytes: job.limits.diskMB << 20, owner: owner)
        cleanup.add { folder.remove() }
        try folder.place(job.files, executables: job.executables, copyFrom: job.copyFrom, owner: owner)
        if let output = job.outputDirectory { try folder.ensureFolder(output, owner: owner) }

        var overlays: [LayerMounts.Overlay] = []
        if case .layer(let layer, let building) = view {
            overlays = LayerMounts.overlays(layer: layer, building: building,
                                            composedEtc: host.arguments.composedEtcFolder(of: layer, network: job.network) != nil)
        }
        var spec = ExecSpec(launcher: host.bwrap, arguments: host.arguments.arguments(for: job, jobFolder: folder.path, view: view),
                            rlimits: Self.rlimits(for: job.limits, cgroups: host.cgroups, dedicatedUID: uid != nil), uid: uid, overlays: overlays)
        if job.network {
            // A network of its own (never the host's), joined by the spawn before it drops privileges; so never a
            // warm launcher, whose namespaces were fixed when it started.
            let network = try JobNetwork(root: configuration.jobsRoot, uid: configuration.networkUID, seconds: Int(job.limits.wallSeconds.rounded(.up)),
                                         tools: try networkTools.get())
            cleanup.add { network.close() }
            spec.netns = network.namespace
        }
        let cgroup: JobCgroup?
        let launched: Result<Launch, LaunchFailure>
        let pool = job.network ? nil : warmPool(host)
        if let pool, let slot = pool.take() {
            count(.warm)
            cgroup = slot.cgroup
            launched = try pool.go(slot, spec: spec, limits: job.limits, stdin: job.stdin)
        } else {
            count(.cold)
            cgroup = try spares.take() ?? JobCgroup.create(host.cgroups, name: name)
            do {
                try cgroup?.apply(job.limits)
                launched = try Launcher.spawn(spec, stdin: job.stdin, cgroupProcs: cgroup?.procsFiles ?? [])
            } catch {
                cgroup.map(spares.put)
                throw error
            }
        }
        if let cgroup {
            cleanup.add { if let pool { pool.recycle(cgroup) } else { self.spares.put(cgroup) } }
        }
        switch launched {
        case .success(let launch):
            return collect(Supervisor.watch(launch, limits: job.limits, cgroup: cgroup, cancellation: job.cancellation, onOutput: onOutput), job: job, cgroup: cgroup, folder: folder)
        case .failure(let failure):
            return collect(Outcome(launchError: failure.description), job: job, cgroup: cgroup, folder: folder)
        }
    }

    /// After the job: sweep its groups (not a lane's that goes on: the lane has killed the job's processes and
    /// its own first process stays), read its usage and outputs, and classify.
    private func collect(_ watched: Outcome, job: SandboxJob, cgroup: JobCgroup?, folder: JobFolder, sweep: Bool = true) -> SandboxResult {
        var outcome = watched
        if sweep { cgroup?.killAll() }
        let usage = cgroup?.usage()
        if let ns = usage?.cpuNanoseconds { outcome.cpuMs = ns / 1_000_000 }
        if let peak = usage?.peakBytes { outcome.maxRssKb = peak / 1024 }
        var files: [SandboxOutputFile] = [], skipped: [String] = []
        if let output = job.outputDirectory {
            (files, skipped) = OutputReader().read(jobFolder: folder.path, outputDirectory: output)
        }
        return Classifier.result(outcome, limits: job.limits, oomKilled: usage?.oomKilled ?? false,
                                 hasCgroups: cgroup != nil, files: files, skipped: skipped)
    }

    /// The lanes for this job's shape (made on first use), or nil when it cannot run in one.
    private func lanePool(for job: SandboxJob, view: SystemView, host: Host) -> LanePool? {
        guard configuration.lanes > 0, !job.network, let launcher = host.laneLauncher, let shape = ReadyPool.Shape(job, view: view) else { return nil }
        return lock.withLock {
            pool(&lanePools, for: shape, host: host) {
                LanePool(shape: shape, environment: $0, launcher: launcher, started: lanesStarted, keep: configuration.lanes)
            }
        }
    }

    /// The ready sandboxes for this job's shape (made on first use), or nil when it cannot have any.
    private func readyPool(for job: SandboxJob, view: SystemView, host: Host) -> ReadyPool? {
        guard configuration.readySandboxes > 0, !job.network, let shape = ReadyPool.Shape(job, view: view) else { return nil }
        return lock.withLock {
            pool(&readyPools, for: shape, host: host) { ReadyPool(shape: shape, environment: $0, target: configuration.readySandboxes) }
        }
    }

    /// The pool for `shape` in `pools`, made on first use (caller holds the lock). Pools on an older build of the same
    /// layer serve no job again, and beyond `readyShapes` pools the least recently used goes.
    private func pool<Pool: PreparedPool>(_ pools: inout [ReadyPool.Shape: Pool], for shape: ReadyPool.Shape, host: Host,
                                          make: (PoolEnvironment) -> Pool) -> Pool? {
        if let existing = pools[shape] { return existing }
        for stale in pools.values where stale.shape.layer?.id == shape.layer?.id && stale.shape.layerInode != shape.layerInode {
            pools[stale.shape] = nil
            stale.shutdown()
        }
        if pools.count >= configuration.readyShapes, let oldest = pools.values.min(by: { $0.lastUsed < $1.lastUsed }) {
            pools[oldest.shape] = nil
            oldest.shutdown()
        }
        guard let uids else { return nil }
        let made = make(PoolEnvironment(host: host, jobsRoot: configuration.jobsRoot, spares: spares, uids: uids))
        pools[shape] = made
        return made
    }

    static func rlimits(for limits: SandboxLimits, cgroups: CgroupLayout, dedicatedUID: Bool) -> [cc_rlimit] {
        let memory = UInt64(limits.memoryMB) << 20
        // With a memory cgroup the exact cap is the cgroup's; address space is then only a coarse backstop, wide
        // enough for runtimes that reserve much more than they touch (JVM, Go, Node).
        let addressSpace = cgroups == .none ? memory : max(memory * 4, memory + (2 << 30))
        var list = [
            cc_rlimit(resource: CC_RLIMIT_CPU, soft: UInt64(limits.cpuSeconds), hard: UInt64(limits.cpuSeconds + 1)),
            cc_rlimit(resource: CC_RLIMIT_AS, soft: addressSpace, hard: addressSpace),
            cc_rlimit(resource: CC_RLIMIT_FSIZE, soft: UInt64(limits.fileSizeMB) << 20, hard: UInt64(limits.fileSizeMB) << 20),
            cc_rlimit(resource: CC_RLIMIT_NOFILE, soft: UInt64(limits.openFiles), hard: UInt64(limits.openFiles)),
            cc_rlimit(resource: CC_RLIMIT_CORE, soft: 0, hard: 0),
        ]
        // RLIMIT_NPROC counts every process of the host uid: only meaningful when the job has a uid of its own.
        if dedicatedUID {
            list.append(cc_rlimit(resource: CC_RLIMIT_NPROC, soft: UInt64(limits.pids), hard: UInt64(limits.pids)))
        }
        return list
    }

    static func validate(_ job: SandboxJob) throws {
        guard let first = job.command.first, !first.isEmpty else { throw SandboxError.invalidJob("the command is empty") }
        let reserved = ["/", "/usr", "/etc", "/proc", "/dev", "/tmp", "/bin", "/lib", "/lib64", "/sbin"]
        guard job.workPath.hasPrefix("/"), !reserved.contains(job.workPath), !job.workPath.contains("..") else {
            throw SandboxError.invalidJob("the work path \(job.workPath) must be an absolute path of its own, such as /work")
        }
        let l = job.limits
        guard l.wallSeconds > 0, l.cpuSeconds > 0, l.memoryMB >= 16, l.pids >= 4, l.outputKB > 0, l.fileSizeMB > 0, l.diskMB > 0, l.openFiles >= 16 else {
            throw SandboxError.invalidJob("limits must be positive (memory at least 16 MB, at least 4 processes and 16 open files)")
        }
        if let output = job.outputDirectory { _ = try JobFolder.safeRelativePath(output) }
        for (name, value) in job.environment {
            guard let first = name.first, first == "_" || (first.isASCII && first.isLetter),
                  name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
                throw SandboxError.invalidJob("environment variable name '\(name)' is not valid (letters, digits and _, not starting with a digit)")
            }
            guard !value.contains("\0") else { throw SandboxError.invalidJob("environment variable \(name) contains a NUL byte") }
        }
        guard !job.command.contains(where: { $0.contains("\0") }) else { throw SandboxError.invalidJob("the command contains a NUL byte") }
    }

    deinit {
        pool?.shutdown()
        readyPools.values.forEach { $0.shutdown() }
        lanePools.values.forEach { $0.shutdown() }
        spares.removeAll()
    }

    /// How many warm launchers are ready now (tests wait for them: a launcher may reuse a finished job's groups, so
    /// its groups need not carry the pool's name).
    var warmReadyCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return pool?.readyCount ?? 0
    }

    /// The warm pool's id, once it exists (tests look for its groups).
    var warmPoolID: String? {
        lock.lock()
        defer { lock.unlock() }
        return pool?.id
    }

    /// Finishes the cleanup of jobs already answered, then ends the warm launchers and ready sandboxes and removes
    /// what they held. Call it before the process exits (a process that dies leaves folders and mounts that the
    /// next start on the same jobs folder removes).
    public func shutdown() {
        _ = inFlight.wait(timeout: .now() + 10)
        lock.lock()
        let pool = self.pool, ready = Array(readyPools.values), lanes = Array(lanePools.values)
        self.pool = nil
        readyPools.removeAll()
        lanePools.removeAll()
        lock.unlock()
        pool?.shutdown()
        ready.forEach { $0.shutdown() }
        lanes.forEach { $0.shutdown() }
        spares.removeAll()
        // The next job (if any) prepares the host again, with a new composed /etc.
        let folders = lock.withLock { () -> [String] in
            defer { composedEtcFolders = []; host = nil }
            return composedEtcFolders
        }
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        let held = lock.withLock { () -> Int32 in
            defer { ownerLock = -1 }
            return ownerLock
        }
        if held >= 0 { Ownership.release(held, in: configuration.jobsRoot) }
    }

    private func warmPool(_ host: Host) -> WarmPool? {
        guard configuration.warmLaunchers > 0, host.cgroups != .none else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if pool == nil { pool = WarmPool(layout: host.cgroups, target: configuration.warmLaunchers, spares: spares) }
        return pool
    }

    // MARK: - Host preparation (once)

    private func prepare() throws -> Host {
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
    private func probe(_ host: Host) throws {
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

    private func allocateUID() -> UInt32? { lock.withLock { uids }?.allocate() }
    private func releaseUID(_ uid: UInt32?) { lock.withLock { uids }?.release(uid) }
}

public enum SandboxStream: Sendable { case stdout, stderr }

/// Steps run after a job's result has been delivered, last added first.
struct Cleanup {
    private var steps: [() -> Void] = []
    mutating func add(_ step: @escaping () -> Void) { steps.append(step) }
    func run() { steps.reversed().forEach { $0() } }
}
