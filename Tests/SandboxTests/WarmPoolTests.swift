// Launchers prepared ahead of need must not change what a job is, nor leave anything behind.
import Testing
import Foundation
import Glibc
@testable import Sandbox

@Suite(.enabled(if: getuid() == 0, "cgroups (and so warm launchers) need root"))
struct WarmPoolTests {
    /// The groups of one sandbox's warm launchers.
    static func warmGroups(_ layout: CgroupLayout, of sandbox: Sandbox) -> [String] {
        guard let id = sandbox.warmPoolID else { return [] }
        let parent: String
        switch layout {
        case .v1(let memory, _, _, _): parent = memory
        case .v2(let folder): parent = folder
        case .none: return []
        }
        return ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter { $0.hasPrefix("warm-\(id)-") }
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<1500 where !condition() { try await Task.sleep(for: .milliseconds(20)) }  // up to 30 s on a loaded machine
    }

    @Test func jobsRunThroughWarmLaunchersWithTheirOwnLimits() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_300...61_349, path: .warm)
        defer { Fixtures.finish(sandbox) }
        _ = try await sandbox.run(SandboxJob(command: ["true"]))  // starts the pool
        let layout = CgroupLayout.detect()
        try await Self.waitUntil { sandbox.warmReadyCount >= 2 }
        #expect(sandbox.warmReadyCount >= 2)
        #expect(!Self.warmGroups(layout, of: sandbox).isEmpty)
        // This job takes a warm launcher: its limits are still its own.
        var limits = SandboxLimits(wallSeconds: 30, memoryMB: 64)  // generous: CI runs every suite at once
        limits.pids = 8
        let result = try await sandbox.run(SandboxJob(
            command: ["python3", "-c", "import os\nn=0\ntry:\n    while True:\n        os.fork() or os._exit(0) if False else None\n        pid = os.fork()\n        if pid == 0:\n            import time; time.sleep(5); os._exit(0)\n        n += 1\nexcept OSError:\n    print(n)"],
            limits: limits))
        let started = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(started >= 0 && started < 8, "the job started \(started) processes under a cap of 8: \(result)")
    }

    @Test func warmLaunchersHoldNoPlatformDescriptors() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_350...61_399, path: .warm)
        defer { Fixtures.finish(sandbox) }
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[1]) }
        _ = try await sandbox.run(SandboxJob(command: ["true"]))  // warm launchers are made while the pair is open
        try await Self.waitUntil { sandbox.warmReadyCount >= 2 }
        close(pair[0])
        // If a launcher held a copy of pair[0], the peer would not see the connection close.
        var poller = pollfd(fd: pair[1], events: Int16(POLLIN), revents: 0)
        #expect(poll(&poller, 1, 2000) == 1)
        var byte: UInt8 = 0
        #expect(read(pair[1], &byte, 1) == 0, "the peer did not see end-of-file: a warm launcher kept the socket open")
    }

    @Test func shutdownEndsWarmLaunchersAndRemovesTheirGroups() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_400...61_449, path: .warm)
        defer { Fixtures.finish(sandbox) }
        _ = try await sandbox.run(SandboxJob(command: ["true"]))
        let layout = CgroupLayout.detect()
        try await Self.waitUntil { sandbox.warmReadyCount >= 2 }
        let before = Self.warmGroups(layout, of: sandbox)
        sandbox.shutdown()
        let remaining = Set(Self.warmGroups(layout, of: sandbox)).intersection(before)
        #expect(remaining.isEmpty, "warm groups left after shutdown: \(remaining)")
    }

    @Test func groupsOfADeadPlatformProcessAreRemoved() throws {
        guard case .v1(let memory, _, _, _) = CgroupLayout.detect() else { return }
        let shared = (memory as NSString).deletingLastPathComponent
        let dead = shared + "/p\(Int32.max - 7)"
        try FileManager.default.createDirectory(atPath: dead + "/job-left-behind", withIntermediateDirectories: true)
        _ = CgroupLayout.detect()
        #expect(!FileManager.default.fileExists(atPath: dead))
    }
}
