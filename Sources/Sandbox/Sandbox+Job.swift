// One job in the sandbox: on a lane, in a ready sandbox, or in a sandbox of its own (folder, uid, overlays,
// network, cgroup, launch), then its result collected and everything it used given back.
import Foundation
import Glibc
import CSandboxSpawn

extension Sandbox {
    func execute(_ job: SandboxJob, view: SystemView, host: Host, uid choice: UIDChoice,
                         onOutput: (@Sendable (SandboxStream, Data) -> Void)?, cleanup: inout Cleanup) throws -> SandboxResult {
        // A lane of this job's shape (a sandbox kept for many jobs), when this machine can have them.
        let ownSandbox = job.folderName != nil || job.keep != nil
        if case .allocate = choice, !ownSandbox, let lanes = lanePool(for: job, view: view, host: host), let lane = try? lanes.lane() {
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
        if case .allocate = choice, !ownSandbox, let ready = readyPool(for: job, view: view, host: host), let slot = ready.take() {
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
        let name = job.folderName ?? UUID().uuidString.lowercased()
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
            job.probe?.attach(cgroup)
            defer { job.probe?.detach() }
            return collect(Supervisor.watch(launch, limits: job.limits, cgroup: cgroup, cancellation: job.cancellation, onOutput: onOutput), job: job, cgroup: cgroup, folder: folder)
        case .failure(let failure):
            return collect(Outcome(launchError: failure.description), job: job, cgroup: cgroup, folder: folder)
        }
    }

    /// After the job: sweep its groups (not a lane's that goes on: the lane has killed the job's processes and
    /// its own first process stays), read its usage and outputs, and classify.
    func collect(_ watched: Outcome, job: SandboxJob, cgroup: JobCgroup?, folder: JobFolder, sweep: Bool = true) -> SandboxResult {
        var outcome = watched
        if sweep { cgroup?.killAll() }
        let usage = cgroup?.usage()
        if let ns = usage?.cpuNanoseconds { outcome.cpuMs = ns / 1_000_000 }
        if let peak = usage?.peakBytes { outcome.maxRssKb = peak / 1024 }
        var files: [SandboxOutputFile] = [], skipped: [String] = []
        if let output = job.outputDirectory {
            (files, skipped) = OutputReader().read(jobFolder: folder.path, outputDirectory: output)
        }
        // The last keep: a save of the running job (`Sandbox.save`) never comes after it. What it keeps is bounded
        // by the job's disk; how it went is left on the keep, for whoever started the job to tell.
        if let keep = job.keep {
            do {
                try keep.write(last: true) { keep.last = .kept(leftOut: try folder.keep(into: $0, budget: Int64(job.limits.diskMB) << 20)) }
            } catch {
                keep.last = .failed("\(error)")
            }
        }
        return Classifier.result(outcome, limits: job.limits, oomKilled: usage?.oomKilled ?? false,
                                 hasCgroups: cgroup != nil, files: files, skipped: skipped)
    }

    /// The lanes for this job's shape (made on first use), or nil when it cannot run in one.
    func lanePool(for job: SandboxJob, view: SystemView, host: Host) -> LanePool? {
        guard configuration.lanes > 0, !job.network, let launcher = host.laneLauncher, let shape = ReadyPool.Shape(job, view: view) else { return nil }
        return lock.withLock {
            pool(&lanePools, for: shape, host: host) {
                LanePool(shape: shape, environment: $0, launcher: launcher, started: lanesStarted, keep: configuration.lanes)
            }
        }
    }

    /// The ready sandboxes for this job's shape (made on first use), or nil when it cannot have any.
    func readyPool(for job: SandboxJob, view: SystemView, host: Host) -> ReadyPool? {
        guard configuration.readySandboxes > 0, !job.network, let shape = ReadyPool.Shape(job, view: view) else { return nil }
        return lock.withLock {
            pool(&readyPools, for: shape, host: host) { ReadyPool(shape: shape, environment: $0, target: configuration.readySandboxes) }
        }
    }

    /// The pool for `shape` in `pools`, made on first use (caller holds the lock). Pools on an older build of the same
    /// layer serve no job again, and beyond `readyShapes` pools the least recently used goes.
    func pool<Pool: PreparedPool>(_ pools: inout [ReadyPool.Shape: Pool], for shape: ReadyPool.Shape, host: Host,
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
        if let name = job.folderName, !SandboxLayer.validID(name) {
            throw SandboxError.invalidJob("a job's folder name is letters, digits, - and _ (at most 64)")
        }
        if let keep = job.keep?.into, !keep.hasPrefix("/") || keep.contains("..") { throw SandboxError.invalidJob("the folder to keep into must be an absolute host path") }
        for (name, value) in job.environment {
            guard let first = name.first, first == "_" || (first.isASCII && first.isLetter),
                  name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
                throw SandboxError.invalidJob("environment variable name '\(name)' is not valid (letters, digits and _, not starting with a digit)")
            }
            guard !value.contains("\0") else { throw SandboxError.invalidJob("environment variable \(name) contains a NUL byte") }
        }
        guard !job.command.contains(where: { $0.contains("\0") }) else { throw SandboxError.invalidJob("the command contains a NUL byte") }
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

    func warmPool(_ host: Host) -> WarmPool? {
        guard configuration.warmLaunchers > 0, host.cgroups != .none else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if pool == nil { pool = WarmPool(layout: host.cgroups, target: configuration.warmLaunchers, spares: spares) }
        return pool
    }
}
