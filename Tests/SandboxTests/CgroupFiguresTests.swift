// What metered lab sessions read from a job's cgroups, on folders laid out as the kernel's (no real groups needed).
import Foundation
import Testing
@testable import Sandbox

@Suite struct CgroupFiguresTests {
    static func folder(_ files: [String: String]) throws -> String {
        let path = NSTemporaryDirectory() + "cgroup-figures-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        return path
    }

    /// A job's memory is its own pages and shared memory (a tmpfs's files), not the file cache: a recycled group may
    /// still be charged for an earlier job's cache, which nobody now using it should pay for.
    @Test func memoryIsTheJobsOwnPagesNotTheFileCache() throws {
        let v2 = try Self.folder(["memory.stat": "anon 1048576\nfile 734003200\nkernel 4096\nshmem 2097152\nfile_mapped 8192\n",
                                  "memory.current": "737153024\n"])
        defer { try? FileManager.default.removeItem(atPath: v2) }
        #expect(JobCgroup(layout: .v2(parent: "/nowhere"), folders: [v2]).memoryBytes() == 3 * 1_048_576)
        let v1 = try Self.folder(["memory.stat": "cache 734003200\nrss 1048576\nshmem 0\ntotal_cache 734003200\ntotal_rss 1048576\ntotal_shmem 2097152\n"])
        defer { try? FileManager.default.removeItem(atPath: v1) }
        #expect(JobCgroup(layout: .v1(memory: "/m", pids: "/p", cpuacct: nil), folders: [v1, "/p/x"]).memoryBytes() == 3 * 1_048_576)
        #expect(JobCgroup(layout: .none, folders: [v2]).memoryBytes() == nil)
    }

    /// Metered labs run only where each job's CPU is capped and measured: on cgroup v2, where the jobs' parent gives
    /// its children the cpu controller; on v1, with a CPU accounting hierarchy that has quotas (or a cpu one beside).
    @Test func cpuIsCappedAndMeasuredOnlyWithTheCPUController() throws {
        let without = try Self.folder(["cgroup.subtree_control": "memory pids\n"]), with = try Self.folder(["cgroup.subtree_control": "cpu memory pids\n"])
        let cpuset = try Self.folder(["cgroup.subtree_control": "cpuset memory pids\n"])
        defer { [without, with, cpuset].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        #expect(!CgroupLayout.v2(parent: without).capsAndMeasuresCPU)
        #expect(CgroupLayout.v2(parent: with).capsAndMeasuresCPU)
        #expect(!CgroupLayout.v2(parent: cpuset).capsAndMeasuresCPU)
        let quotas = try Self.folder(["cpu.cfs_quota_us": "-1\n", "cpuacct.usage": "0\n"]), accountOnly = try Self.folder(["cpuacct.usage": "0\n"])
        defer { [quotas, accountOnly].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        #expect(CgroupLayout.v1(memory: "/m", pids: "/p", cpuacct: quotas).capsAndMeasuresCPU)
        #expect(!CgroupLayout.v1(memory: "/m", pids: "/p", cpuacct: accountOnly).capsAndMeasuresCPU)
        #expect(CgroupLayout.v1(memory: "/m", pids: "/p", cpuacct: accountOnly, cpu: "/c").capsAndMeasuresCPU)
        #expect(!CgroupLayout.v1(memory: "/m", pids: "/p", cpuacct: nil, cpu: "/c").capsAndMeasuresCPU)
        #expect(!CgroupLayout.none.capsAndMeasuresCPU)
    }
}
