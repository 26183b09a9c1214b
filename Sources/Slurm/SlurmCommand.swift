// Running the Slurm commands (sbatch, squeue, scancel) on a submit node: as the cluster's service account when the
// platform runs as root (so jobs never run as root), in a clean environment (nothing of the platform's — its database
// URL, its AI keys — reaches a command or, through sbatch, a job), with a time limit, every descriptor of the platform
// closed in the child. The same runner starts and stops the throwaway test cluster.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The unprivileged host account jobs are submitted (and so run) as.
public struct SlurmServiceAccount: Equatable, Sendable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32

    public init(name: String, uid: UInt32, gid: UInt32) { (self.name, self.uid, self.gid) = (name, uid, gid) }

    /// The account called `name` on this host; nil when there is none.
    public static func named(_ name: String) -> SlurmServiceAccount? {
        guard let entry = getpwnam(name) else { return nil }
        return SlurmServiceAccount(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }
}

public struct SlurmCommandFailure: Error, Equatable, CustomStringConvertible {
    public var command: String
    /// The exit status (nil when it could not start or was stopped at its time limit).
    public var status: Int32?
    public var output: String
    public init(command: String, status: Int32?, output: String) { (self.command, self.status, self.output) = (command, status, output) }
    public var description: String {
        switch status {
        case nil where output.isEmpty: "\(command) did not answer in time"
        case nil: "\(command) could not run: \(output)"
        case let status?: "\(command) failed (status \(status)): \(output.isEmpty ? "no message" : output)"
        }
    }
}

public enum SlurmCommand {
    /// What every command gets as its whole environment, besides `SLURM_CONF` when a cluster names its file.
    public static let basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs `arguments` (the first found on `basePath`) to its end and returns its standard output (standard error
    /// follows it); throws `SlurmCommandFailure` when it exits non-zero or outlives `timeout` seconds (it is killed).
    /// `account`: run as that user (needs root; the platform asks for it only when it is root).
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String] = [:], as account: SlurmServiceAccount? = nil,
                           timeout: Double = 30) async throws -> String {
        try await onItsOwnThread { try runBlocking(arguments, environment: environment, as: account, timeout: timeout) }
    }

    /// Runs blocking work (waiting for a child, walking a job's folder) on a thread of its own, so it never holds
    /// one of the cooperative pool's few threads.
    public static func onItsOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// The same, blocking the calling thread.
    @discardableResult
    public static func runBlocking(_ arguments: [String], environment: [String: String] = [:], as account: SlurmServiceAccount? = nil,
                                   timeout: Double = 30) throws -> String {
        let name = arguments.first ?? ""
        var command = arguments
        if let account {
            command = ["setpriv", "--reuid=\(account.uid)", "--regid=\(account.gid)", "--clear-groups", "--"] + command
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("campuscloud-slurm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the platform's: a daemon started this way (the test cluster's) lives on and must not keep
        // a socket of the platform's open. glibc's closefrom action is not in Swift's Glibc module: looked up.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw SlurmCommandFailure(command: name, status: nil, output: "this C library cannot close a child's descriptors (glibc 2.34 or later needed)")
        }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own, so a command stopped at its time limit is stopped with whatever it started.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv = (["/usr/bin/env"] + command).map { strdup($0) } + [nil]
        let variables = ["PATH": basePath, "LANG": "C.UTF-8"].merging(environment) { $1 }
        let env = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + env).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, env)
        guard spawned == 0 else { throw SlurmCommandFailure(command: name, status: nil, output: String(cString: strerror(spawned))) }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        var delay: useconds_t = 1_000
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done == -1 && errno != EINTR { break }
            if Date() > deadline {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                throw SlurmCommandFailure(command: name, status: nil, output: "")
            }
            usleep(delay)
            delay = min(delay * 2, 50_000)
        }
        // Read as UTF-8 whatever it holds: a job's name is any bytes the job chose, and output that is not UTF-8 must
        // not read as nothing (squeue's whole answer, or every record sacct gave, lost to one name).
        let text = String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0 else {
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            throw SlurmCommandFailure(command: name, status: code, output: String(text.prefix(2_000)))
        }
        return text
    }

    /// The job id in `sbatch --parsable`'s answer (`123`, or `123;cluster`).
    public static func submittedJobID(_ answer: String) -> Int? {
        answer.split(separator: "\n").last.flatMap { Int($0.split(separator: ";").first ?? "") }
    }
}
