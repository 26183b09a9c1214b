// Measures what the sandbox costs, side by side in one run (the machine is shared and noisy: ratios hold, absolute
// times drift): bare `python3 -c pass`; the same under a minimal bwrap with the platform's mounts (the floor that
// namespace set-up costs on this kernel); and the platform's Sandbox.run, the path grading uses (job folder,
// cgroups, limits, supervision, result collection). Runs are interleaved so that drift hits all three alike.
import Foundation
import Glibc
import CSandboxSpawn
import Sandbox

let rounds = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 150
let python = "/usr/bin/python3"
let asRoot = getuid() == 0
let benchUID: UInt32 = 61_950

/// Spawns a command with output to /dev/null, as an unprivileged uid when root, and waits for it.
func spawnAndWait(_ argv: [String]) -> Double {
    let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
    defer { close(devnull) }
    var pointers = argv.map { strdup($0) } + [nil]
    var env: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), nil]
    defer { (pointers + env).forEach { free($0) } }
    let start = ContinuousClock.now
    var failed: UnsafePointer<CChar>?
    let pid = pointers.withUnsafeMutableBufferPointer { argvBuffer in
        env.withUnsafeMutableBufferPointer { envBuffer in
            var request = cc_spawn_request()
            request.path = UnsafePointer(argvBuffer[0])
            request.argv = UnsafePointer(argvBuffer.baseAddress)
            request.envp = UnsafePointer(envBuffer.baseAddress)
            request.stdin_fd = devnull
            request.stdout_fd = devnull
            request.stderr_fd = devnull
            request.extra_fd = -1
            request.extra_fd2 = -1
            request.seccomp_fd = -1
            request.netns_fd = -1
            request.drop_privileges = asRoot ? 1 : 0
            request.uid = benchUID
            request.gid = benchUID
            return cc_spawn(&request, &failed)
        }
    }
    precondition(pid > 0, "spawn failed")
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    precondition(status == 0, "\(argv.prefix(3)) exited with \(status)")
    return Double((ContinuousClock.now - start) / .microseconds(1)) / 1000
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

let root = "/tmp/cc-bench-\(getpid())"
mkdir(root, 0o711)
defer { try? FileManager.default.removeItem(atPath: root) }
func makeSandbox(_ name: String, uids: ClosedRange<UInt32>, configure: (inout Sandbox.Configuration) -> Void = { _ in }) -> Sandbox {
    var configuration = Sandbox.Configuration(jobsRoot: root + "/\(name)/jobs")
    mkdir(root + "/\(name)", 0o711)
    configuration.uidRange = uids
    configure(&configuration)
    return Sandbox(configuration: configuration)
}
// The platform as grading uses it (defaults: ready sandboxes, warm launchers), and with each preparation off.
let sandbox = makeSandbox("platform", uids: 61_900...61_929)
let warmOnly = makeSandbox("warm", uids: 61_930...61_939) { $0.readySandboxes = 0 }
let onDemand = makeSandbox("cold", uids: 61_940...61_949) { $0.readySandboxes = 0; $0.warmLaunchers = 0 }
print("host: " + ((try? sandbox.describeHost()) ?? "sandbox unavailable"))

// The minimal bwrap: the same mounts as the platform's, a job folder made once, nothing else.
let minimalFolder = root + "/minimal"
mkdir(minimalFolder, 0o777)
let builder = BwrapArguments(rootEntries: BwrapArguments.hostRootEntries(), identityFolder: root + "/platform/jobs/.identity")
var minimalArgs = ["/usr/bin/bwrap"] + builder.arguments(for: SandboxJob(command: [python, "-c", "pass"]), jobFolder: minimalFolder)
for flag in ["--json-status-fd", "--seccomp"] {
    if let index = minimalArgs.firstIndex(of: flag) { minimalArgs.removeSubrange(index...index + 1) }
}

let job = SandboxJob(command: [python, "-c", "pass"])
// An environment layer, as Gradescope autograders use: the same job on it adds the overlay mounts.
let layer = try await sandbox.buildLayer(id: "bench", setup: SandboxJob(command: ["sh", "-c", "echo 'x = 1' > /usr/local/lib/bench_probe.py"])).layer!
var layeredJob = job
layeredJob.layer = layer

/// One timed run. Preparation ahead (when the sandbox does it) is given time to finish first, outside the timing,
/// so that it neither helps nor slows the next measurement: it is the latency a job sees when preparation keeps up.
func timed(_ sandbox: Sandbox, _ job: SandboxJob) async throws -> Double {
    try await sandbox.prepareAhead(for: job, full: true, timeout: .seconds(2))
    let start = ContinuousClock.now
    let result = try await sandbox.run(job)
    let ms = Double((ContinuousClock.now - start) / .microseconds(1)) / 1000
    precondition(result.status == .ok && result.exitCode == 0, "run failed: \(result)")
    try await Task.sleep(for: .milliseconds(5))  // the job's cleanup runs just after its result is delivered
    try await sandbox.prepareAhead(for: job, full: true, timeout: .seconds(2))  // refilled before anything else is timed
    return ms
}

/// The kernel tears a sandbox's namespaces down after it exits, on a workqueue that creating one waits for: let
/// that finish before the next measurement, whichever it is.
func settled<T>(_ body: () async throws -> T) async throws -> T {
    try await Task.sleep(for: .milliseconds(30))
    return try await body()
}

var samples: [String: [Double]] = [:]
for round in 0..<(rounds + 10) {
    let measured: [(String, Double)] = [
        ("bare", try await settled { spawnAndWait([python, "-c", "pass"]) }),
        ("minimal", try await settled { spawnAndWait(minimalArgs) }),
        ("platform", try await settled { try await timed(sandbox, job) }),
        ("layered", try await settled { try await timed(sandbox, layeredJob) }),
        ("warm", try await settled { try await timed(warmOnly, job) }),
        ("cold", try await settled { try await timed(onDemand, job) }),
    ]
    if round >= 10 {  // the first rounds warm caches and run each sandbox's one-time probe
        for (name, ms) in measured { samples[name, default: []].append(ms) }
    }
}
[sandbox, warmOnly, onDemand].forEach { $0.shutdown() }

let mb = median(samples["bare"]!), mm = median(samples["minimal"]!), mp = median(samples["platform"]!)
func row(_ label: String, _ ms: Double) {
    print(label.padding(toLength: 50, withPad: " ", startingAt: 0) + String(format: "%10.2f %8.2f", ms, ms / mb))
}
print("")
print("python3 -c pass, \(rounds) interleaved rounds".padding(toLength: 50, withPad: " ", startingAt: 0) + " median ms   ÷ bare")
row("bare", mb)
row("minimal bwrap, same mounts (floor)", mm)
row("platform Sandbox.run (as grading uses it)", mp)
row("  the same on an environment layer", median(samples["layered"]!))
row("  without ready sandboxes (warm launchers only)", median(samples["warm"]!))
row("  set up on demand (nothing prepared ahead)", median(samples["cold"]!))
print(String(format: "platform ÷ floor = %.2f (target ≤ 1.10); set up on demand ÷ floor = %.2f", mp / mm, median(samples["cold"]!) / mm))
print(String(format: "floor=%.2f", mm / mb))
print(String(format: "ratio=%.2f", mp / mb))
