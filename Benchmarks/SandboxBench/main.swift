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
var configuration = Sandbox.Configuration(jobsRoot: root + "/jobs")
configuration.uidRange = 61_900...61_949
if ProcessInfo.processInfo.environment["CC_BENCH_NO_CGROUPS"] != nil { configuration.useCgroups = false }
let sandbox = Sandbox(configuration: configuration)
print("host: " + ((try? sandbox.describeHost()) ?? "sandbox unavailable"))

// The minimal bwrap: the same mounts as the platform's, a job folder made once, nothing else.
let minimalFolder = root + "/minimal"
mkdir(minimalFolder, 0o777)
let builder = BwrapArguments(rootEntries: BwrapArguments.hostRootEntries(), identityFolder: root + "/jobs/.identity")
var minimalArgs = ["/usr/bin/bwrap"] + builder.arguments(for: SandboxJob(command: [python, "-c", "pass"]), jobFolder: minimalFolder)
if let statusFlag = minimalArgs.firstIndex(of: "--json-status-fd") { minimalArgs.removeSubrange(statusFlag...statusFlag + 1) }

let job = SandboxJob(command: [python, "-c", "pass"])
// An environment layer, as Gradescope autograders use: the same job on it adds the overlay mounts.
let layer = try await sandbox.buildLayer(id: "bench", setup: SandboxJob(command: ["sh", "-c", "echo 'x = 1' > /usr/local/lib/bench_probe.py"])).layer!
var layeredJob = job
layeredJob.layer = layer
var bare: [Double] = [], minimal: [Double] = [], platform: [Double] = [], layered: [Double] = []
for round in 0..<(rounds + 10) {
    let b = spawnAndWait([python, "-c", "pass"])
    let m = spawnAndWait(minimalArgs)
    let start = ContinuousClock.now
    let result = try await sandbox.run(job)
    let p = Double((ContinuousClock.now - start) / .microseconds(1)) / 1000
    precondition(result.status == .ok && result.exitCode == 0, "platform run failed: \(result)")
    let layeredStart = ContinuousClock.now
    let layeredResult = try await sandbox.run(layeredJob)
    let l = Double((ContinuousClock.now - layeredStart) / .microseconds(1)) / 1000
    precondition(layeredResult.status == .ok && layeredResult.exitCode == 0, "layered run failed: \(layeredResult)")
    if round >= 10 {  // the first rounds warm caches and run the sandbox's one-time probe
        bare.append(b)
        minimal.append(m)
        platform.append(p)
        layered.append(l)
    }
}

let (mb, mm, mp) = (median(bare), median(minimal), median(platform))
func row(_ label: String, _ ms: Double) {
    print(label.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%10.2f %8.2f", ms, ms / mb))
}
print("")
print("python3 -c pass, \(rounds) interleaved rounds".padding(toLength: 46, withPad: " ", startingAt: 0) + " median ms   ÷ bare")
row("bare", mb)
row("minimal bwrap, same mounts (floor)", mm)
row("platform Sandbox.run (as grading uses it)", mp)
row("platform Sandbox.run on an environment layer", median(layered))
print(String(format: "platform ÷ floor = %.2f (target ≤ 1.10)", mp / mm))
print(String(format: "floor=%.2f", mm / mb))
print(String(format: "ratio=%.2f", mp / mb))
