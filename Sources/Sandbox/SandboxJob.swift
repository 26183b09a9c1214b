// What to run in the sandbox and under which limits. Plain values: no Vapor, no database.
import Foundation

public struct SandboxLimits: Sendable, Equatable, Codable {
    public var wallSeconds: Double = 10
    public var cpuSeconds: Int = 10
    public var memoryMB: Int = 512
    /// Processes and threads together.
    public var pids: Int = 64
    /// stdout and stderr are each kept up to this many bytes; the job is stopped when it writes more.
    public var outputKB: Int = 1024
    /// Largest single file the job may write.
    public var fileSizeMB: Int = 64
    /// Space for everything the job writes in its folder (enforced with a size-limited tmpfs when running as root).
    public var diskMB: Int = 256
    public var openFiles: Int = 256
    /// A cap on the CPU the job's processes use together, in thousandths of a core (a cgroup's CPU quota: 500 is half
    /// a core, however many processes); nil: none beyond the CPU-time limit. Needs the cgroup CPU controller.
    public var cpuMillis: Int?

    public init() {}

    public init(wallSeconds: Double = 10, cpuSeconds: Int = 10, memoryMB: Int = 512, pids: Int = 64,
                outputKB: Int = 1024, fileSizeMB: Int = 64, diskMB: Int = 256, openFiles: Int = 256, cpuMillis: Int? = nil) {
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.memoryMB = memoryMB
        self.pids = pids
        self.outputKB = outputKB
        self.fileSizeMB = fileSizeMB
        self.diskMB = diskMB
        self.openFiles = openFiles
        self.cpuMillis = cpuMillis
    }
}

public struct SandboxJob: Sendable {
    /// The program and its arguments, resolved inside the sandbox (e.g. ["python3", "main.py"]).
    public var command: [String]
    /// Files placed in the job's folder before it starts: relative path → contents.
    public var files: [String: Data]
    /// Which of `files` are placed executable (0755; the rest 0644).
    public var executables: Set<String> = []
    /// A host folder whose regular files and folders are copied into the job's folder (symlinks are skipped).
    public var copyFrom: String?
    /// Where the job's folder appears inside the sandbox; it is the working directory and the only writable place
    /// besides a private /tmp.
    public var workPath: String
    /// Folder (relative to the job's folder) whose files are returned in the result.
    public var outputDirectory: String?
    public var environment: [String: String]
    public var limits: SandboxLimits
    public var network: Bool
    /// Bytes given to the job on standard input.
    public var stdin: Data?
    /// A prepared environment layer (see `Sandbox.buildLayer`) the job sees, read-only, instead of the bare system.
    public var layer: SandboxLayer?
    /// Cancelling it stops the job within about 200 ms (status `cancelled`; its usage so far is still measured).
    public var cancellation: SandboxCancellation?
    /// A long-lived job (a lab session) names its folder, so the platform can reach what the job's program makes
    /// there — a Unix socket — at `Sandbox.sessionFolder(named:)`. Such a job gets a sandbox of its own, never a
    /// lane or a ready sandbox (it would hold one for hours).
    public var folderName: String?
    /// Where the job folder's files and folders go when the job ends, replacing what that host folder held (a lab
    /// session's home, kept between sessions; `copyFrom` brings it into the next). Links, sockets and other special
    /// files are not kept. A job with one gets a sandbox of its own, as with `folderName`.
    public var keep: SandboxKeep?
    /// Reads the job's CPU time and memory while it runs.
    public var probe: SandboxProbe?

    public init(command: [String], files: [String: Data] = [:], copyFrom: String? = nil, workPath: String = "/work",
                outputDirectory: String? = nil, environment: [String: String] = [:], limits: SandboxLimits = SandboxLimits(),
                network: Bool = false, stdin: Data? = nil, layer: SandboxLayer? = nil) {
        self.command = command
        self.files = files
        self.copyFrom = copyFrom
        self.workPath = workPath
        self.outputDirectory = outputDirectory
        self.environment = environment
        self.limits = limits
        self.network = network
        self.stdin = stdin
        self.layer = layer
    }
}

/// Lets whoever started a long job read its CPU time and memory while it runs (a lab session's idle check and its
/// usage meters). Thread-safe; it reads nothing (nil) where the machine gives the job no cgroup, or before the job starts and after it ends.
public final class SandboxProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var cgroup: JobCgroup?

    public init() {}

    func attach(_ cgroup: JobCgroup?) { lock.withLock { self.cgroup = cgroup } }
    func detach() { lock.withLock { cgroup = nil } }

    /// CPU time the job's processes have used so far, in nanoseconds.
    public var cpuNanoseconds: Int? { lock.withLock { cgroup?.usage().cpuNanoseconds } }

    /// Memory the job holds now, in bytes (nil without a cgroup, or once the job has ended).
    public var memoryBytes: Int? { lock.withLock { cgroup?.memoryBytes() } }
}

/// Where a long-lived job's folder is kept when it ends: known when the job starts, or learnt later — a lab session
/// prepared ahead of need learns whose home it serves when someone takes it. Nil: nothing is kept. Thread-safe.
public final class SandboxKeep: @unchecked Sendable {
    private let lock = NSLock()
    private var target: String?

    public init(into target: String? = nil) { self.target = target }

    private let writing = NSLock()
    private var kept = false

    /// An absolute host path (one with `..` is ignored).
    public var into: String? {
        get { lock.withLock { target } }
        set { lock.withLock { target = newValue } }
    }

    private var lastOutcome: SandboxLastKeep?

    /// How the job's last keep went, once it has (nil before, or when there was nothing to keep into).
    public var last: SandboxLastKeep? {
        get { lock.withLock { lastOutcome } }
        set { lock.withLock { lastOutcome = newValue } }
    }

    /// Runs `write` with the folder to keep into, one write at a time; not once there is none or the job's `last`
    /// keep has begun (false then): a save while the job runs cannot put an older copy over its last.
    @discardableResult
    public func write(last: Bool = false, _ write: (String) throws -> Void) throws -> Bool {
        try writing.withLock {
            guard !kept, let target = into, target.hasPrefix("/"), !target.contains("..") else { return false }
            if last { kept = true }
            try write(target)
            return true
        }
    }
}

/// How a job's last keep went: its folder kept, but for the files that did not fit the job's disk (their paths in
/// the folder, in name order; none: kept whole); or not kept at all (the host's failure, said here), the folder it
/// keeps into left as it was.
public enum SandboxLastKeep: Sendable, Equatable {
    case kept(leftOut: [String])
    case failed(String)
}

/// Lets whoever started a job stop it early (a research job its owner cancelled). Thread-safe; cancelling twice is
/// the same as once.
public final class SandboxCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    public init() {}

    public func cancel() { lock.withLock { cancelled = true } }
    public var isCancelled: Bool { lock.withLock { cancelled } }
}
