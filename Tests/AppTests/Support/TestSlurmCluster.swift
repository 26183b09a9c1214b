// A throwaway single-node Slurm cluster for a test: scripts/slurm-cluster starts munge, slurmctld and slurmd (Debian
// packages; scripts/install-deps --slurm) in a folder of the test's own (under /var/lib/campuscloud-tests), and stops
// them after, whatever happens.
// Needs root, as slurmd does.
import Foundation
import Glibc
import Slurm
import Testing

enum TestSlurmCluster {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/slurm-cluster").path

    /// A running cluster for `body`: its folder (slurm.conf, jobcomp.log, an empty jobs/ folder) and the
    /// environment its commands need (SLURM_CONF).
    /// `accounting`: slurmdbd keeps accounting as well (in a MariaDB of the cluster's own), for sacct.
    static func with(accounting: Bool = false, _ body: (_ folder: URL, _ environment: [String: String]) async throws -> Void) async throws {
        try await running(rest: false, accounting: accounting) { folder, environment, _ in try await body(folder, environment) }
    }

    /// The same, with JWT authentication and slurmrestd: also its address and a token for the user nobody. (The
    /// commands' environment holds no token: with one, they would use it instead of munge.)
    static func withREST(accounting: Bool = false,
                         _ body: (_ folder: URL, _ environment: [String: String], _ rest: (url: String, token: String)) async throws -> Void) async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmrestd"), "run scripts/install-deps --slurm (as root) first")
        try await running(rest: true, accounting: accounting) { folder, environment, exports in
            let rest = (url: try #require(exports["SLURMRESTD_URL"]), token: try #require(exports["SLURM_JWT"]))
            try await body(folder, environment, rest)
        }
    }

    private static func running(rest: Bool, accounting: Bool, _ body: (_ folder: URL, _ environment: [String: String], _ exports: [String: String]) async throws -> Void) async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld"), "run scripts/install-deps --slurm (as root) first")
        // Outside /tmp, as a real cluster's files are: the sandbox replaces /tmp, and then would hide the cluster's
        // slurm.conf and munge socket for that reason alone, not for the rules a job on a real cluster meets.
        let base = URL(fileURLWithPath: "/var/lib/campuscloud-tests")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let folder = base.appendingPathComponent("cc-slurm-\(UUID().uuidString.prefix(8))")
        // Starting and stopping take many seconds on a loaded machine: each on a thread of its own (SlurmCommand.run),
        // never holding one of the cooperative pool's few threads, which every other test running beside needs.
        let outcome: Result<Void, any Error>
        do {
            let started = try await SlurmCommand.run([script, "start", folder.path] + (rest ? ["--rest"] : []) + (accounting ? ["--accounting"] : []), timeout: 180)
            var exports: [String: String] = [:]
            for line in started.split(separator: "\n") where line.hasPrefix("export ") {
                let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
                if pair.count == 2 { exports[String(pair[0])] = String(pair[1]) }
            }
            let conf = try #require(exports["SLURM_CONF"], "\(started)")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("jobs"), withIntermediateDirectories: true)
            try await body(folder, ["SLURM_CONF": conf], exports)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        _ = try? await SlurmCommand.run([script, "stop", folder.path], timeout: 60)
        try? FileManager.default.removeItem(at: folder)
        try outcome.get()
    }

    /// What the cluster shows now, for a failing test's message: its queue, its node, and the last lines of its logs.
    static func state(_ folder: URL, environment: [String: String]) -> String {
        func run(_ arguments: [String]) -> String { (try? SlurmCommand.runBlocking(arguments, environment: environment, timeout: 10)) ?? "(\(arguments[0]) failed)" }
        func tail(_ name: String) -> String {
            let text = (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return "--- \(name):\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }
        return ["--- squeue:", run(["squeue", "-a", "-o", "%i %j %T %r %S"]), "--- sinfo:", run(["sinfo", "-N", "-o", "%N %T %E"]),
                tail("slurmctld.log"), tail("slurmd.log")].joined(separator: "\n")
    }

    /// Stops the cluster's slurmctld (its jobs run on under slurmd).
    static func stopController(_ folder: URL) async throws { try await stop("slurmctld", in: folder) }

    /// Stops one of the cluster's daemons (`slurmdbd`: the accounting answers no more; slurmctld keeps what it would
    /// send).
    static func stop(_ daemon: String, in folder: URL) async throws {
        let pidFile = folder.appendingPathComponent("\(daemon).pid").path
        guard let pid = Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 where kill(pid, 0) == 0 { try await Task.sleep(for: .milliseconds(100)) }
    }

    /// Starts it again, from its saved state (or, `losingState`, with none: every job it knew is forgotten).
    static func startController(_ folder: URL, environment: [String: String], losingState: Bool = false) async throws {
        let conf = folder.appendingPathComponent("slurm.conf").path
        try await SlurmCommand.run(["slurmctld", "-f", conf] + (losingState ? ["-c"] : []), environment: environment, timeout: 30)
        for _ in 0..<100 {
            if (try? await SlurmCommand.run(["squeue", "-h"], environment: environment, timeout: 5)) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The completion log's record of the job named `name` (or with id `job`), once it has ended (within `seconds`).
    /// The log is read once more after the time is up: a test resumed late (a loaded machine) still sees what is there.
    static func record(_ job: Int? = nil, named name: String? = nil, in folder: URL, within seconds: Double) async throws -> SlurmJobRecord? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let text = (try? String(contentsOf: folder.appendingPathComponent("jobcomp.log"), encoding: .utf8)) ?? ""
            if let found = SlurmJobCompletionLog.records(in: text, timeZone: .current).first(where: { $0.jobID == job || $0.name == name }) { return found }
            if Date() >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
