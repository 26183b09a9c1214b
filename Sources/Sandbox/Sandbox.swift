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
    let lock = NSLock()
    var host: Host?
    var pool: WarmPool?
    var readyPools: [ReadyPool.Shape: ReadyPool] = [:]
    var lanePools: [ReadyPool.Shape: LanePool] = [:]
    /// This process's composed /etc folders (removed at shutdown).
    var composedEtcFolders: [String] = []
    /// Layers whose /etc this process has tried to compose.
    var composeTried: Set<String> = []
    let spares = SpareCgroups(limit: 16)
    /// This process's lock in the jobs folder while it may have jobs there (see Ownership); -1 before the first.
    var ownerLock: Int32 = -1
    /// pasta and the tools job networks need, looked up once.
    let networkTools = JobNetwork.Tools.find()
    /// Jobs whose cleanup (folder, cgroups, uid) has not finished yet; `shutdown` waits for them.
    let inFlight = DispatchGroup()
    var uids: UIDAllocator?
    /// How jobs were started: set up on demand, through a warm launcher, in a ready sandbox, or in a lane.
    enum LaunchPath: Hashable { case cold, warm, ready, lane }
    var launches: [LaunchPath: Int] = [:]

    func launchCount(_ path: LaunchPath) -> Int { lock.withLock { launches[path] ?? 0 } }
    let lanesStarted = LaneCounter()
    /// Lanes started so far (each runs many jobs).
    var laneStarts: Int { lanesStarted.value }
    func count(_ path: LaunchPath) { lock.withLock { launches[path, default: 0] += 1 } }

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

    /// Whether this machine caps each job's CPU and measures its CPU time and memory (cgroups with the cpu controller).
    public func capsAndMeasuresUsage() throws -> Bool { try prepare().cgroups.capsAndMeasuresCPU }

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
    /// Where a job that names its folder (`SandboxJob.folderName`) has it on the host while it runs.
    public func sessionFolder(named name: String) -> String { configuration.jobsRoot + "/" + JobFolder.ownedName(name) }

    /// Copies a host folder's files and folders into a running job's named folder, owned as the job's own files are
    /// (a lab session prepared ahead of need receives the home of whoever takes it). Links and special files are
    /// skipped; a file that cannot be written (the folder's space is spent) fails the whole.
    ///
    /// As root, root never writes below that folder itself: the job's own processes, running as its user, could swap
    /// a folder for a link between a check and a write and send root's write onto the host. The files travel as a
    /// tar stream instead — read by root from the host folder (the platform's), written by a tar running as the
    /// job's user, who gains nothing by a trick in its own folder.
    public func fill(sessionNamed name: String, from source: String, seconds: Int = 120) throws {
        guard SandboxLayer.validID(name) else { throw SandboxError.invalidJob("a session folder's name is letters, digits, - and _") }
        let path = sessionFolder(named: name)
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { throw SandboxError.hostFailure("no session folder \(name) is running here") }
        guard getuid() == 0, info.st_uid != 0 else {
            // Not root: the job runs as this same user, and a trick in its folder reaches nothing it could not.
            return try JobFolder(path: path, mounted: false).fill(from: source, owner: nil)
        }
        if let failed = try Self.tarCopy(from: source, readAs: nil, to: path, writeAs: (info.st_uid, info.st_gid), seconds: seconds) {
            throw SandboxError.hostFailure("the files could not be copied into the session: \(failed.said)")
        }
    }

    /// Saves a running job's named folder (a lab session's home, while it runs) into the folder `keep` names: what it
    /// holds replaces that folder whole (written aside, then swapped in, as when the job ends), its regular files and
    /// folders only. False when there was nothing to save into (the job has ended: its own last keep stands). Refused
    /// (the kept folder left as it was) when a file could not be read, or when its files' sizes add up to more than
    /// `maxBytes` (sparse files take little room in the job's folder, and all of theirs once kept).
    ///
    /// The job's processes go on while this reads, and may swap a folder for a link at any moment: as root, the
    /// folder is read only by a tar running as the job's user (which follows no link, and could read nothing the job
    /// cannot) into a folder of that user's outside every sandbox; only that copy, which nothing else can touch, is
    /// then kept by root. Blocks its thread (tar, then the copy). A refusal for what the files are (one unreadable,
    /// too much in all, too long to read) is thrown as `SaveRefused`, whose reason is for the folder's owner; any
    /// other failure is the host's.
    @discardableResult
    public func save(sessionNamed name: String, keep: SandboxKeep, maxBytes: Int64, seconds: Int = 120) throws -> Bool {
        guard SandboxLayer.validID(name) else { throw SandboxError.invalidJob("a session folder's name is letters, digits, - and _") }
        let path = sessionFolder(named: name)
        return try keep.write { target in
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { throw SandboxError.hostFailure("no session folder \(name) is running here") }
            let asJob = getuid() == 0 && info.st_uid != 0
            let copy = target + ".saving-" + UUID().uuidString.lowercased()
            guard mkdir(copy, 0o700) == 0 else { throw SandboxError.hostFailure("cannot make \(copy): \(String(cString: strerror(errno)))") }
            defer { try? FileManager.default.removeItem(atPath: copy) }
            if asJob, chown(copy, info.st_uid, info.st_gid) != 0 {
                throw SandboxError.hostFailure("cannot give \(copy) to the session's user: \(String(cString: strerror(errno)))")
            }
            // (Not root: the job runs as this same user, and a trick in its folder reaches nothing it could not.)
            let user = asJob ? (uid: info.st_uid, gid: info.st_gid) : nil
            // A file the job changes while it is read makes tar warn (status 1): what was read is kept, and the next
            // save reads it again.
            if let failed = try Self.tarCopy(from: path, readAs: user, to: copy, writeAs: user, readerMayWarn: true, seconds: seconds) {
                if failed.timedOut { throw SaveRefused(reason: "reading them took longer than \(seconds) s (too many files?)") }
                guard !failed.denied.isEmpty else { throw SandboxError.hostFailure("the session's files could not be saved: \(failed.said)") }
                throw SaveRefused(reason: "not every file could be read: " + SaveRefused.list(failed.denied) + " (permission denied)")
            }
            let size = JobFolder.apparentBytes(of: copy)
            guard size <= maxBytes else {
                // (Rounded up: a little over the quota never reads as equal to it.)
                throw SaveRefused(reason: "they add up to \((size + (1 << 20) - 1) >> 20) MB, more than the \(maxBytes >> 20) MB the home keeps")
            }
            try JobFolder(path: copy, mounted: false).keep(into: target, budget: maxBytes)
        }
    }

    /// Copies folder `source` into folder `destination` as a tar stream, read by a tar running as `readAs` and written
    /// by one running as `writeAs` (nil: this process's user; links and special files travel as they are, never
    /// followed; sparse files stay sparse); both are given up on after `seconds`. `readerMayWarn`: files that change
    /// while read are not a failure (a file that cannot be read is). Nil when both ended well, else what went wrong.
    static func tarCopy(from source: String, readAs reader: (uid: UInt32, gid: UInt32)?, to destination: String,
                        writeAs writer: (uid: UInt32, gid: UInt32)?, readerMayWarn: Bool = false, seconds: Int) throws -> TarCopyFailure? {
        func process(_ user: (uid: UInt32, gid: UInt32)?, _ arguments: [String]) -> Process {
            let process = Process()
            if let user {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
                process.arguments = ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", "--", "/usr/bin/tar"] + arguments
            } else {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
                process.arguments = arguments
            }
            // Nothing of the platform's environment (its secrets) goes with it.
            process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
            return process
        }
        let reading = process(reader, ["--create", "--file", "-", "--sparse", "--directory", source, "."])
        let writing = process(writer, ["--extract", "--file", "-", "--directory", destination, "--no-same-owner", "--no-same-permissions"])
        let pipe = Pipe(), readerSays = Pipe(), writerSays = Pipe()
        reading.standardOutput = pipe
        reading.standardError = readerSays
        writing.standardInput = pipe
        writing.standardOutput = FileHandle.nullDevice
        writing.standardError = writerSays
        try startingProcess {
            try writing.run()
            try reading.run()
        }
        try? pipe.fileHandleForReading.close()
        try? pipe.fileHandleForWriting.close()
        // What each says is read while it runs (one that says much must not stall on a full pipe); the start of it
        // is kept.
        let said = (reader: Heard(), writer: Heard()), heard = DispatchGroup()
        for (pipe, listener) in [(readerSays, said.reader), (writerSays, said.writer)] {
            heard.enter()
            DispatchQueue.global().async {
                let handle = pipe.fileHandleForReading
                while case let chunk = handle.availableData, !chunk.isEmpty { listener.add(chunk) }
                heard.leave()
            }
        }
        // A writer stuck on something the job left in its way (a pipe at a file's name) is given up on.
        let deadline = DispatchTime.now() + .seconds(seconds), timedOut = SandboxCancellation()
        DispatchQueue.global().asyncAfter(deadline: deadline) {
            if reading.isRunning || writing.isRunning { timedOut.cancel() }
            if reading.isRunning { reading.terminate() }
            if writing.isRunning { kill(writing.processIdentifier, SIGKILL) }
        }
        reading.waitUntilExit()
        writing.waitUntilExit()
        heard.wait()
        let readWell = reading.terminationReason == .exit && (reading.terminationStatus == 0 || (readerMayWarn && reading.terminationStatus == 1))
        guard readWell, writing.terminationStatus == 0, writing.terminationReason == .exit else {
            let text = [said.reader.text, said.writer.text].filter { !$0.isEmpty }.joined(separator: "; ")
            // The files the reader was refused, when that is all that went wrong: it ended by itself, having said
            // nothing but that, and the writer took all it was sent (a writer that fails makes the reader fail too).
            let writerWell = writing.terminationStatus == 0 && writing.terminationReason == .exit
            let denied = reading.terminationReason == .exit && writerWell ? SaveRefused.deniedFiles(said.reader.text, whole: said.reader.whole) : nil
            return TarCopyFailure(said: text.isEmpty ? "tar stopped" : text, denied: denied ?? [], timedOut: timedOut.isCancelled)
        }
        return nil
    }

    /// How a `tarCopy` failed: what the two tars said; the files the reader was not allowed to open, when that was
    /// all (else empty); whether they were stopped because their time ran out.
    struct TarCopyFailure {
        var said: String
        var denied: [String]
        var timedOut: Bool
    }

    /// The first 500 bytes a process said, from a thread that reads all it says.
    private final class Heard: @unchecked Sendable {
        private let lock = NSLock()
        private var first = Data(), all = 0
        func add(_ chunk: Data) { lock.withLock { all += chunk.count; if first.count < 500 { first.append(chunk.prefix(500 - first.count)) } } }
        var text: String { lock.withLock { String(decoding: first, as: UTF8.self) } }
        /// Whether `text` is all it said.
        var whole: Bool { lock.withLock { all == first.count } }
    }

    public func layer(id: String) -> SandboxLayer? {
        guard SandboxLayer.validID(id) else { return nil }
        let path = configuration.layersFolder + "/" + id
        guard FileManager.default.fileExists(atPath: path + "/upper/usr") else { return nil }
        return SandboxLayer(id: id, path: path, hostUsr: FileManager.default.fileExists(atPath: SandboxLayer(id: id, path: path).hostUsrMarker))
    }

    /// Which host uid a job runs as: one allocated for it, or one its caller already holds (a layer build).
    enum UIDChoice { case allocate, fixed(UInt32?) }

    func runOnThread(_ job: SandboxJob, view: SystemView, host: Host, uid: UIDChoice,
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

    deinit {
        pool?.shutdown()
        readyPools.values.forEach { $0.shutdown() }
        lanePools.values.forEach { $0.shutdown() }
        spares.removeAll()
    }
}

public enum SandboxStream: Sendable { case stdout, stderr }

/// Steps run after a job's result has been delivered, last added first.
struct Cleanup {
    private var steps: [() -> Void] = []
    mutating func add(_ step: @escaping () -> Void) { steps.append(step) }
    func run() { steps.reversed().forEach { $0() } }
}
