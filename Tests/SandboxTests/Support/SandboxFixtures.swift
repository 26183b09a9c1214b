// Test helpers: a sandbox with its own jobs folder and uid range, the hostile programs, and host-side witnesses
// (listening sockets, process scans) that show whether anything got out.
import Foundation
import Testing
import Glibc
@testable import Sandbox

enum Fixtures {
    static func temporaryFolder(_ label: String) -> String {
        let path = "/tmp/cc-\(label)-\(UUID().uuidString.prefix(8))"
        mkdir(path, 0o711)
        return path
    }

    /// A sandbox whose jobs live in a fresh folder; `uids` keeps suites from sharing host uids.
    static func sandbox(uids: ClosedRange<UInt32> = 61_000...61_099, path: Sandbox.LaunchPath? = nil) -> Sandbox {
        var configuration = Sandbox.Configuration(jobsRoot: temporaryFolder("jobs") + "/jobs")
        configuration.uidRange = uids
        switch path {
        case .cold?: configuration.warmLaunchers = 0; configuration.readySandboxes = 0; configuration.lanes = 0
        case .warm?: configuration.readySandboxes = 0; configuration.lanes = 0
        case .ready?: configuration.lanes = 0
        case .lane?, nil: break
        }
        return Sandbox(configuration: configuration)
    }

    /// Shuts the sandbox down and removes its jobs folder (the lane launcher's copy alone is megabytes: test runs
    /// must not leave one per sandbox behind).
    static func finish(_ sandbox: Sandbox) {
        sandbox.shutdown()
        let root = (sandbox.configuration.jobsRoot as NSString).deletingLastPathComponent
        if root.hasPrefix("/tmp/cc-") { try? FileManager.default.removeItem(atPath: root) }
    }

    static func hostile(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "hostile/\(name)", withExtension: nil)
            ?? Bundle.module.resourceURL?.appendingPathComponent("hostile/\(name)"))
        return try Data(contentsOf: url)
    }

    /// Runs a hostile Python program with arguments. With `path`, the job is made to start that way (prepared
    /// ahead for warm and ready), and the test fails if it did not.
    static func runHostile(_ sandbox: Sandbox, _ name: String, _ arguments: [String] = [], limits: SandboxLimits = SandboxLimits(),
                           outputDirectory: String? = nil, path: Sandbox.LaunchPath? = nil) async throws -> SandboxResult {
        let interpreter = name.hasSuffix(".sh") ? "/bin/sh" : "python3"
        let job = SandboxJob(command: [interpreter, name] + arguments, files: [name: try hostile(name)],
                             outputDirectory: outputDirectory, limits: limits)
        guard let path else { return try await sandbox.run(job) }
        if path != .cold && path != .lane { try await sandbox.prepareAhead(for: job) }
        let before = sandbox.launchCount(path)
        let result = try await sandbox.run(job)
        #expect(sandbox.launchCount(path) >= before + 1, "the job did not start through \(path)")
        return result
    }

    /// Host processes whose command line contains `marker` (a job's leftovers would carry it).
    static func processes(containing marker: String) -> [Int32] {
        let mine = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != mine,
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return String(decoding: data, as: UTF8.self).contains(marker) ? pid : nil
        }
    }

    static func createFile(atPath path: String, contents: Data, attributes: [FileAttributeKey: Any]? = nil) {
        #expect(FileManager.default.createFile(atPath: path, contents: contents, attributes: attributes), "cannot write \(path)")
    }

    static func marker() -> String { "cc-marker-\(UUID().uuidString.prefix(12))" }
}

/// A listening socket on the host; `connections()` says whether anyone connected.
final class Listener {
    let fd: Int32
    let port: Int
    let path: String?

    /// TCP on 127.0.0.1 (an ephemeral port).
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw SandboxError.hostFailure("listen failed") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        path = nil
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    }

    /// A Unix socket at a path, or in the abstract namespace when `abstract` is true.
    init(unix name: String, abstract: Bool) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index + (abstract ? 1 : 0)] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 1 : 1))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw SandboxError.hostFailure("unix listen failed: \(errno)") }
        port = 0
        path = abstract ? nil : name
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    }

    /// Accepts whatever is queued; the count of connections that arrived.
    func connections() -> Int {
        var count = 0
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return count }
            close(client)
            count += 1
        }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }
}
