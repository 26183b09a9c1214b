// Per-job cgroups where the machine lets us make them: cgroup v2 (memory.max, pids.max, cpu.stat, memory.peak,
// cgroup.kill) or v1 (memory, pids, cpuacct hierarchies). They give exact memory and process caps, CPU time that
// includes every descendant, peak memory, OOM detection and a reliable kill of the whole job.
// Without them the sandbox still enforces rlimits, namespaces and the wall clock.
import Foundation
import Glibc

public enum CgroupLayout: Sendable, Equatable {
    /// Parent folder of the jobs' groups in the unified hierarchy.
    case v2(parent: String)
    /// Parent folders in each v1 hierarchy we use (`cpu`: the CPU quota's, when mounted apart from cpuacct).
    case v1(memory: String, pids: String, cpuacct: String?, cpu: String? = nil)
    case none

    static let groupName = "campuscloud"

    /// Looks for a hierarchy where this process may create child groups (usually only as root). Each platform
    /// process gets its own parent, campuscloud/p<pid>, so processes sharing a machine (a server and workers,
    /// parallel test runs) never touch each other's groups; parents of processes that died are cleaned up here.
    public static func detect() -> CgroupLayout {
        guard getuid() == 0 else { return detectDelegated() }
        let found = detectShared()
        let own = "p\(getpid())"
        switch found {
        case .none:
            return .none
        case .v2(let parent):
            removeDeadProcessGroups(in: [parent])
            let mine = parent + "/" + own
            try? FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: true)
            try? "+memory +pids +cpu".write(toFile: mine + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
            return .v2(parent: mine)
        case .v1(let memory, let pids, let cpuacct, let cpu):
            let parents = [memory, pids] + [cpuacct, cpu].compactMap { $0 }
            removeDeadProcessGroups(in: parents)
            for folder in parents {
                try? FileManager.default.createDirectory(atPath: folder + "/" + own, withIntermediateDirectories: true)
            }
            return .v1(memory: memory + "/" + own, pids: pids + "/" + own, cpuacct: cpuacct.map { $0 + "/" + own }, cpu: cpu.map { $0 + "/" + own })
        }
    }

    /// A cgroup v2 subtree delegated to this non-root process, as systemd's `Delegate=yes` gives a service (see
    /// deploy/campuscloud.service): its own group, writable by it, with the memory and pids controllers. The process
    /// moves itself into a leaf (`platform`), so that its group may enable controllers for children, and jobs' groups
    /// go under `jobs`. None when there is no such delegation.
    static func detectDelegated() -> CgroupLayout {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("0::/") }) else { return .none }
        let own = "/sys/fs/cgroup" + line.dropFirst(3).trimmingCharacters(in: .whitespaces)
        guard access(own + "/cgroup.subtree_control", W_OK) == 0, access(own + "/cgroup.procs", W_OK) == 0,
              let available = try? String(contentsOfFile: own + "/cgroup.controllers", encoding: .utf8),
              available.contains("memory"), available.contains("pids") else { return .none }
        let leaf = own + "/platform", jobs = own + "/jobs"
        _ = mkdir(leaf, 0o755)
        _ = mkdir(jobs, 0o755)
        guard (try? "\(getpid())".write(toFile: leaf + "/cgroup.procs", atomically: false, encoding: .utf8)) != nil else { return .none }
        for folder in [own, jobs] {
            try? "+memory +pids".write(toFile: folder + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
            try? "+cpu".write(toFile: folder + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
        }
        guard let enabled = try? String(contentsOfFile: jobs + "/cgroup.subtree_control", encoding: .utf8),
              enabled.contains("memory"), enabled.contains("pids") else { return .none }
        return .v2(parent: jobs)
    }

    /// Groups under campuscloud/p<pid> whose process is gone: kill what is left in them and remove them.
    static func removeDeadProcessGroups(in parents: [String]) {
        let fm = FileManager.default
        for parent in parents {
            for entry in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] where entry.hasPrefix("p") {
                guard let pid = Int32(entry.dropFirst()), kill(pid, 0) != 0, errno == ESRCH else { continue }
                let owner = parent + "/" + entry
                for job in (try? fm.contentsOfDirectory(atPath: owner)) ?? [] {
                    let folder = owner + "/" + job
                    var isDirectory: ObjCBool = false
                    guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                    JobCgroup(layout: .none, folders: [folder]).killAll()
                    rmdir(folder)
                }
                rmdir(owner)
            }
        }
    }

    /// Whether jobs get a CPU cap and their CPU time and memory are measured (what metered lab sessions need).
    var capsAndMeasuresCPU: Bool {
        let fm = FileManager.default
        switch self {
        case .none: return false
        case .v2(let parent):
            return (try? String(contentsOfFile: parent + "/cgroup.subtree_control", encoding: .utf8))?.split(separator: " ").contains { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "cpu" } == true
        case .v1(_, _, let cpuacct, let cpu):
            guard let cpuacct else { return false }
            return cpu != nil || fm.fileExists(atPath: cpuacct + "/cpu.cfs_quota_us")
        }
    }

    private static func detectShared() -> CgroupLayout {
        let fm = FileManager.default
        // v2: the unified hierarchy at /sys/fs/cgroup with the memory and pids controllers enabled.
        if let controllers = try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.controllers", encoding: .utf8),
           controllers.contains("memory"), controllers.contains("pids") {
            let parent = "/sys/fs/cgroup/\(groupName)"
            try? fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
            // Enable the controllers for our children; fails harmlessly where the parent cannot delegate.
            try? "+memory +pids +cpu".write(toFile: parent + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
            if let enabled = try? String(contentsOfFile: parent + "/cgroup.subtree_control", encoding: .utf8),
               enabled.contains("memory"), enabled.contains("pids") {
                return .v2(parent: parent)
            }
        }
        let memory = "/sys/fs/cgroup/memory/\(groupName)", pids = "/sys/fs/cgroup/pids/\(groupName)"
        let cpuacctRoot = ["/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"].first { fm.fileExists(atPath: $0 + "/cpuacct.usage") }
        // (A hierarchy's root has no limit files of its own, so look for its process list.)
        if fm.fileExists(atPath: "/sys/fs/cgroup/memory/cgroup.procs"), fm.fileExists(atPath: "/sys/fs/cgroup/pids/cgroup.procs") {
            do {
                try fm.createDirectory(atPath: memory, withIntermediateDirectories: true)
                try fm.createDirectory(atPath: pids, withIntermediateDirectories: true)
                var cpuacct: String?
                if let root = cpuacctRoot {
                    cpuacct = root + "/\(groupName)"
                    try? fm.createDirectory(atPath: cpuacct!, withIntermediateDirectories: true)
                }
                // The CPU quota's hierarchy, when it is not the same mount as cpuacct's.
                var cpu: String?
                if fm.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.cfs_period_us"), !fm.fileExists(atPath: "/sys/fs/cgroup/cpu/cpuacct.usage") {
                    cpu = "/sys/fs/cgroup/cpu/\(groupName)"
                    if (try? fm.createDirectory(atPath: cpu!, withIntermediateDirectories: true)) == nil { cpu = nil }
                }
                return .v1(memory: memory, pids: pids, cpuacct: cpuacct, cpu: cpu)
            } catch {
                return .none
            }
        }
        return .none
    }
}

/// One job's groups. Groups are recycled between jobs (see WarmPool), and a lane's serve all its jobs: a fresh memory
/// cgroup costs the kernel per-group set-up on first use, a reused one does not. Counters are reset before each job
/// where they can be, and those that cannot (the OOM-kill count, cgroup v2's CPU time) are compared with their
/// values when the job started.
final class JobCgroup: @unchecked Sendable {
    let layout: CgroupLayout
    let folders: [String]
    private var oomKillsBefore = 0
    private var cpuBefore = 0
    /// The caps last written (a lane's jobs mostly share them: not written again).
    private var applied: (memoryBytes: Int, pids: Int, cpuMillis: Int?)?
    /// Where the CPU quota is written: v2's group; v1's cpu group (cpuacct's when the two share a mount).
    private let cpuFolder: String?

    init(layout: CgroupLayout, folders: [String], cpuFolder: String? = nil) {
        self.layout = layout
        self.folders = folders
        if case .v2 = layout { self.cpuFolder = folders.first } else { self.cpuFolder = cpuFolder }
    }

    /// Files the child writes "0" into to join, before it execs bwrap.
    var procsFiles: [String] { folders.map { $0 + "/cgroup.procs" } }

    /// Makes the job's groups (no limits yet: see `apply`).
    static func create(_ layout: CgroupLayout, name: String) throws -> JobCgroup? {
        let fm = FileManager.default
        switch layout {
        case .none:
            return nil
        case .v2(let parent):
            let folder = parent + "/" + name
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: false)
            return JobCgroup(layout: layout, folders: [folder])
        case .v1(let memory, let pids, let cpuacct, let cpu):
            var folders = [memory + "/" + name, pids + "/" + name]
            try fm.createDirectory(atPath: folders[0], withIntermediateDirectories: false)
            try fm.createDirectory(atPath: folders[1], withIntermediateDirectories: false)
            var cpuFolder: String?
            if let cpuacct, (try? fm.createDirectory(atPath: cpuacct + "/" + name, withIntermediateDirectories: false)) != nil {
                folders.append(cpuacct + "/" + name)
                if fm.fileExists(atPath: cpuacct + "/cpu.cfs_quota_us") { cpuFolder = cpuacct + "/" + name }
            }
            if let cpu, cpuFolder == nil, (try? fm.createDirectory(atPath: cpu + "/" + name, withIntermediateDirectories: false)) != nil {
                folders.append(cpu + "/" + name)
                cpuFolder = cpu + "/" + name
            }
            return JobCgroup(layout: layout, folders: folders, cpuFolder: cpuFolder)
        }
    }

    /// Sets the job's memory and process caps and resets the counters (before its program starts).
    func apply(_ limits: SandboxLimits) throws {
        let memoryBytes = limits.memoryMB << 20
        oomKillsBefore = oomKills()
        if case .v2 = layout { cpuBefore = Self.field(folders[0] + "/cpu.stat", "usage_usec") ?? 0 }
        let caps = applied.map { $0.memoryBytes == memoryBytes && $0.pids == limits.pids && $0.cpuMillis == limits.cpuMillis } == true
        applied = nil  // until written
        switch layout {
        case .none:
            return
        case .v2:
            try? Self.write("reset", to: folders[0] + "/memory.peak")
            if caps { break }
            try Self.write("\(memoryBytes)", to: folders[0] + "/memory.max")
            try? Self.write("0", to: folders[0] + "/memory.swap.max")
            try Self.write("\(limits.pids)", to: folders[0] + "/pids.max")
            // (Only where the parent has the cpu controller for its children.)
            try? Self.write(limits.cpuMillis.map { "\($0 * Self.cpuPeriod / 1000) \(Self.cpuPeriod)" } ?? "max \(Self.cpuPeriod)", to: folders[0] + "/cpu.max")
        case .v1:
            try? Self.write("0", to: folders[0] + "/memory.max_usage_in_bytes")
            if folders.count > 2 { try? Self.write("0", to: folders[2] + "/cpuacct.usage") }
            if caps { break }
            // memory + swap may never be below memory alone: a recycled group going up needs memsw raised first,
            // one going down needs memory lowered first. Writing memsw on both sides of memory covers both.
            try? Self.write("\(memoryBytes)", to: folders[0] + "/memory.memsw.limit_in_bytes")
            try Self.write("\(memoryBytes)", to: folders[0] + "/memory.limit_in_bytes")
            try? Self.write("\(memoryBytes)", to: folders[0] + "/memory.memsw.limit_in_bytes")
            try Self.write("\(limits.pids)", to: folders[1] + "/pids.max")
            if let cpuFolder {
                try? Self.write("\(Self.cpuPeriod)", to: cpuFolder + "/cpu.cfs_period_us")
                try? Self.write(limits.cpuMillis.map { "\($0 * Self.cpuPeriod / 1000)" } ?? "-1", to: cpuFolder + "/cpu.cfs_quota_us")
            }
        }
        applied = (memoryBytes, limits.pids, limits.cpuMillis)
    }

    /// The CPU quota's period, in microseconds (the kernel's default).
    static let cpuPeriod = 100_000

    /// Every process still in the job's groups.
    func members() -> [Int32] {
        var pids = Set<Int32>()
        for folder in folders {
            let text = (try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8)) ?? ""
            text.split(separator: "\n").compactMap { Int32($0) }.forEach { pids.insert($0) }
        }
        return Array(pids)
    }

    /// Kills every process in the job, however it forked or detached, and waits until they are gone (up to 5 s):
    /// a killed process leaves its groups only as it exits, which for a few dozen of them on a busy machine takes
    /// longer than a moment (a fork bomb's last two were still there after 100 ms on a loaded CI runner).
    func killAll() {
        if case .v2 = layout { try? JobCgroup.write("1", to: folders[0] + "/cgroup.kill") }
        let deadline = ContinuousClock.now + .seconds(5)
        var round = 0
        while true {
            let pids = members()
            if pids.isEmpty || ContinuousClock.now > deadline { return }
            pids.forEach { kill($0, SIGKILL) }
            usleep(round < 50 ? 2_000 : 10_000)
            round += 1
        }
    }

    /// The memory the job's processes hold now, in bytes: their own pages and shared memory (a tmpfs's files among
    /// them), not the file cache — which a recycled group may still be charged for from an earlier job.
    func memoryBytes() -> Int? {
        switch layout {
        case .none: return nil
        case .v2:
            guard let anon = Self.field(folders[0] + "/memory.stat", "anon") else { return nil }
            return anon + (Self.field(folders[0] + "/memory.stat", "shmem") ?? 0)
        case .v1:
            guard let rss = Self.field(folders[0] + "/memory.stat", "total_rss") else { return nil }
            return rss + (Self.field(folders[0] + "/memory.stat", "total_shmem") ?? 0)
        }
    }

    struct Usage { var cpuNanoseconds: Int?; var peakBytes: Int?; var oomKilled: Bool }

    func usage() -> Usage {
        func number(_ path: String) -> Int? {
            Self.read(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        switch layout {
        case .none:
            return Usage(cpuNanoseconds: nil, peakBytes: nil, oomKilled: false)
        case .v2:
            let folder = folders[0]
            return Usage(cpuNanoseconds: Self.field(folder + "/cpu.stat", "usage_usec").map { max(0, $0 - cpuBefore) * 1000 },
                         peakBytes: number(folder + "/memory.peak"),
                         oomKilled: oomKills() > oomKillsBefore)
        case .v1:
            let memory = folders[0]
            let cpu = folders.count > 2 ? number(folders[2] + "/cpuacct.usage") : nil
            return Usage(cpuNanoseconds: cpu, peakBytes: number(memory + "/memory.max_usage_in_bytes"),
                         oomKilled: oomKills() > oomKillsBefore)
        }
    }

    /// A "key value" line's value in a cgroup file.
    static func field(_ path: String, _ key: String) -> Int? {
        guard let text = read(path) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return Int(parts[1]) }
        }
        return nil
    }

    private func oomKills() -> Int {
        let (file, key): (String, String) = switch layout {
        case .v2: (folders[0] + "/memory.events", "oom_kill")
        case .v1: (folders[0] + "/memory.oom_control", "oom_kill")
        case .none: ("", "")
        }
        return layout == .none ? 0 : Self.field(file, key) ?? 0
    }

    func remove() {
        for folder in folders {
            for _ in 0..<100 where rmdir(folder) != 0 && errno == EBUSY { usleep(1_000) }
        }
    }

    /// A small cgroup file's text (every one this reads is well under 4 KB), read with one read call: Foundation's
    /// file reading costs more than the file, and a lane reads a few of these per job.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            return count >= 0 ? String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self) : nil
        }
    }

    static func write(_ value: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SandboxError.hostFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written >= 0 else { throw SandboxError.hostFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
