// Outbound-only network for one job. A job that asks for network never shares the host's: it gets a network
// namespace of its own, made by a holder process running as the platform's network uid in a user namespace of its
// own (so the job, another uid in the user namespace bwrap makes, has no rights over it), and connected to the outside
// by pasta (user-mode networking, Debian `passt`) running as that same uid, with no port forwarded in
// (-t/-u/-T/-U none) and the gateway not mapped to the host's loopback (--no-map-gw). Before the job starts, root
// adds `prohibit` rules inside the namespace for the host's own addresses and networks, loopback, link-local
// (169.254/16, the cloud metadata address), the private and shared ranges and the other special ones, IPv4 and IPv6
// alike; pasta's DNS forwarder (169.254.1.1, port 53 over UDP) is the one exception. Abstract Unix sockets belong to
// a network namespace, so the host's are out of reach too. Every step must succeed or the job does not start.
import CSandboxSpawn
import Foundation
import Glibc

final class JobNetwork: @unchecked Sendable {
    /// pasta's DNS forwarder inside the namespace: the job's /etc/resolv.conf names it.
    static let dnsAddress = "169.254.1.1"
    static let resolvConf = "nameserver \(dnsAddress)\noptions timeout:2 attempts:2\n"
    /// Destinations no job reaches (besides the host's own addresses and networks, found at each start).
    static let blockedIPv4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
                              "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
                              "168.63.129.16/32"]  // (Azure's host endpoint, public but the cloud's own)
    static let blockedIPv6 = ["::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2002::/16", "fc00::/7",
                              "fe80::/10", "fec0::/10", "ff00::/8"]

    /// The namespace, for the job's spawn to join (see `ExecSpec.netns`).
    let namespace: Int32
    private let holder: pid_t
    private var pasta: pid_t = 0
    private let folder: String

    /// The programs it needs, found once; nil names what is missing.
    struct Tools: Sendable {
        var pasta: String, unshare: String, nsenter: String, ip: String, sleep: String

        static func find() -> Result<Tools, SandboxError> {
            func first(_ paths: [String]) -> String? { paths.first { FileManager.default.isExecutableFile(atPath: $0) } }
            guard let pasta = first(["/usr/bin/pasta", "/usr/local/bin/pasta"]) else {
                return .failure(.unavailable("jobs with network need pasta for user-mode networking: install it with `apt-get install passt`"))
            }
            guard let unshare = first(["/usr/bin/unshare", "/bin/unshare"]), let nsenter = first(["/usr/bin/nsenter", "/bin/nsenter"]),
                  let ip = first(["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]), let sleep = first(["/usr/bin/sleep", "/bin/sleep"]) else {
                return .failure(.unavailable("jobs with network need unshare, nsenter (util-linux) and ip (iproute2)"))
            }
            return .success(Tools(pasta: pasta, unshare: unshare, nsenter: nsenter, ip: ip, sleep: sleep))
        }
    }

    /// Sets up the namespace, pasta and the rules for a job of at most `seconds`, run by the platform as root; `uid`
    /// is the network uid (not a job's). Throws, having undone every step, when anything fails.
    init(root: String, uid: UInt32, seconds: Int, tools: Tools) throws {
        guard getuid() == 0 else {
            throw SandboxError.unavailable("jobs with network need the platform to run as root (to give each its own network namespace)")
        }
        try Self.allowTunDevice(group: uid)
        // Root's folder (the rules are written there); pasta, as the network uid, gets only a subfolder for its pid file.
        folder = root + "/.net-" + Ownership.tag + UUID().uuidString.lowercased()
        let pastaFolder = folder + "/pasta"
        guard mkdir(folder, 0o711) == 0, mkdir(pastaFolder, 0o700) == 0, chown(pastaFolder, uid, uid) == 0 else {
            try? FileManager.default.removeItem(atPath: folder)
            throw SandboxError.hostFailure("cannot create the job network's folder \(folder)")
        }
        // The holder: a namespace pair of its own, alive a little longer than the job may run.
        let spawned = HostTool.start([tools.unshare, "--user", "--net", "--map-root-user", "--", tools.sleep, String(seconds + 60)], uid: uid)
        guard case .success(let pid) = spawned else {
            try? FileManager.default.removeItem(atPath: folder)
            throw SandboxError.hostFailure("cannot start the job network's holder: \(spawned)")
        }
        holder = pid
        var opened: Int32 = -1
        do {
            try Self.waitForNamespace(of: holder, uid: uid)
            let pidFile = pastaFolder + "/pasta.pid"
            let configured = HostTool.run([tools.pasta, "-q", "--config-net", "-t", "none", "-u", "none", "-T", "none", "-U", "none", "--no-map-gw",
                                           "--dns-forward", Self.dnsAddress, "--no-dhcp", "--no-dhcpv6", "--no-ra", "-P", pidFile, String(holder)],
                                          uid: uid, capture: false)
            guard configured.status == 0 else { throw SandboxError.hostFailure("pasta could not connect the job's network (exit \(configured.status))") }
            guard let pastaPID = Self.pastaProcess(pidFile: pidFile, uid: uid) else { throw SandboxError.hostFailure("pasta left no pid file") }
            pasta = pastaPID
            let enter = [tools.nsenter, "--net=/proc/\(holder)/ns/net", "--", tools.ip]
            let route = HostTool.run(enter + ["-4", "route", "show", "default"], uid: nil)
            guard route.status == 0, !route.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw SandboxError.hostFailure("the job's network has no route out")
            }
            // The rules, after pasta configured its routes (a rule covering its gateway would keep them from being added).
            let hostNetworks = Self.hostNetworks()
            guard !hostNetworks.isEmpty else { throw SandboxError.hostFailure("the host's own addresses could not be read, so they could not be closed to the job") }
            let (rules4, rules6) = Self.rules(hostNetworks: hostNetworks)
            try Data(rules4.utf8).write(to: URL(fileURLWithPath: folder + "/rules4"))
            try Data(rules6.utf8).write(to: URL(fileURLWithPath: folder + "/rules6"))
            let four = HostTool.run(enter + ["-4", "-batch", folder + "/rules4"], uid: nil)
            guard four.status == 0 else { throw SandboxError.hostFailure("the job network's rules could not be set: \(four.output)") }
            let six = HostTool.run(enter + ["-6", "-batch", folder + "/rules6"], uid: nil)
            if six.status != 0 && FileManager.default.fileExists(atPath: "/proc/sys/net/ipv6") {
                throw SandboxError.hostFailure("the job network's IPv6 rules could not be set: \(six.output)")
            }
            opened = open("/proc/\(holder)/ns/net", O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { throw SandboxError.hostFailure("cannot open the job's network namespace") }
        } catch {
            Self.stop(holder: holder, pasta: pasta, folder: folder)
            throw error
        }
        namespace = opened
    }

    /// Ends pasta and the holder, and removes the folder. The namespace goes with its last process.
    func close() {
        Glibc.close(namespace)
        Self.stop(holder: holder, pasta: pasta, folder: folder)
    }

    private static func stop(holder: pid_t, pasta: pid_t, folder: String) {
        if pasta > 0 { kill(pasta, SIGKILL) }
        kill(holder, SIGKILL)
        var status: Int32 = 0
        while waitpid(holder, &status, 0) < 0 && errno == EINTR {}
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Job networks left by a platform process that is gone (killed while a job ran): their pasta is stopped.
    static func removeAbandoned(under root: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where entry.hasPrefix(".net-") {
            guard Ownership.isAbandoned(entry, in: root, after: ".net-") else { continue }
            let path = root + "/" + entry
            var info = stat()
            if stat(path + "/pasta", &info) == 0, let pid = pastaProcess(pidFile: path + "/pasta/pasta.pid", uid: info.st_uid) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// The pid in pasta's pid file, if that process is a pasta running as the network uid (the file is in a folder
    /// that uid owns: root never signals a pid read from there without checking whose it is).
    static func pastaProcess(pidFile: String, uid: UInt32) -> pid_t? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              pid > 1, let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
              comm.hasPrefix("pasta") || comm.hasPrefix("passt"),  // (pasta is passt, which may exec passt.avx2)
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
              line.split(whereSeparator: \.isWhitespace).dropFirst().allSatisfy({ $0 == String(uid) }) else { return nil }
        return pid
    }

    /// pasta (as the network uid) opens /dev/net/tun. Debian makes it 0666; where it is narrower, the network uid's
    /// group is given read and write on it (nobody else's rights change).
    private static func allowTunDevice(group: UInt32) throws {
        let path = "/dev/net/tun"
        var info = stat()
        guard stat(path, &info) == 0 else { throw SandboxError.unavailable("jobs with network need /dev/net/tun (load the tun module: modprobe tun)") }
        if info.st_mode & 0o006 == 0o006 || (info.st_gid == group && info.st_mode & 0o060 == 0o060) { return }
        guard chown(path, UInt32.max, group) == 0, chmod(path, (info.st_mode & 0o7777) | 0o060) == 0 else {
            throw SandboxError.unavailable("jobs with network need /dev/net/tun usable by uid \(group) (chgrp \(group) /dev/net/tun; chmod g+rw /dev/net/tun)")
        }
    }

    /// Waits until the holder has its own network namespace and its user namespace's uid map.
    private static func waitForNamespace(of holder: pid_t, uid: UInt32) throws {
        let ours = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) ?? ""
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            let theirs = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder)/ns/net")) ?? ours
            let map = (try? String(contentsOfFile: "/proc/\(holder)/uid_map", encoding: .utf8)) ?? ""
            if theirs != ours, map.split(whereSeparator: \.isWhitespace).map(String.init) == ["0", String(uid), "1"] { return }
            usleep(1000)
        }
        throw SandboxError.hostFailure("the job network's namespace was not made in time")
    }

    /// `ip -batch` text: the DNS forwarder first, then every blocked range, then the host's own addresses and networks.
    static func rules(hostNetworks: [String]) -> (ipv4: String, ipv6: String) {
        var four = "rule add pref 100 to \(dnsAddress)/32 ipproto udp dport 53 lookup main\n"
        var six = ""
        for range in blockedIPv4 { four += "rule add pref 200 to \(range) prohibit\n" }
        for range in blockedIPv6 { six += "rule add pref 200 to \(range) prohibit\n" }
        for network in hostNetworks {
            if network.contains(":") { six += "rule add pref 300 to \(network) prohibit\n" } else { four += "rule add pref 300 to \(network) prohibit\n" }
        }
        return (four, six)
    }

    /// The host's own addresses (as /32 or /128) and the networks they are on, read now (empty only when they cannot
    /// be read: the job then does not start).
    static func hostNetworks() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var networks = Set<String>()
        var next = list
        while let entry = next {
            defer { next = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            let family = Int32(address.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            let length = family == AF_INET ? 4 : 16
            let bytes = raw(address, family: family), mask = entry.pointee.ifa_netmask.map { raw($0, family: family) } ?? Array(repeating: 255, count: length)
            networks.insert(text(bytes, family: family) + "/\(length * 8)")
            let prefix = mask.reduce(0) { $0 + $1.nonzeroBitCount }
            if prefix > 0 && prefix < length * 8 {
                networks.insert(text(zip(bytes, mask).map { $0 & $1 }, family: family) + "/\(prefix)")
            }
        }
        return networks.sorted()
    }

    private static func raw(_ address: UnsafeMutablePointer<sockaddr>, family: Int32) -> [UInt8] {
        if family == AF_INET {
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
            }
        }
        return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
            withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
        }
    }

    private static func text(_ bytes: [UInt8], family: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        bytes.withUnsafeBytes { source in _ = inet_ntop(family, source.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(cString: buffer)
    }
}

/// The platform's own host programs (not sandboxed: pasta, unshare, nsenter, ip), run with a cleared environment,
/// as `uid` when given, with no descriptor of the platform's but their standard streams.
enum HostTool {
    /// Starts the program with /dev/null as its streams; the pid, or why not.
    static func start(_ argv: [String], uid: UInt32?) -> Result<pid_t, LaunchFailure> {
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devnull) }
        let pipes = JobPipes(stdoutRead: -1, stdoutWrite: devnull, stderrRead: -1, stderrWrite: devnull, statusRead: -1, statusWrite: -1)
        return Launcher.spawn(ExecSpec(launcher: argv[0], arguments: Array(argv.dropFirst()), rlimits: [], uid: uid), stdin: devnull, pipes: pipes, cgroupProcs: [])
    }

    /// Runs the program to its end (at most 20 s); its exit status (-1: it could not start or was stopped) and, when
    /// `capture`, what it printed (a few kilobytes at most: read after it ends).
    static func run(_ argv: [String], uid: UInt32?, capture: Bool = true) -> (status: Int32, output: String) {
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devnull) }
        var output: [Int32] = [-1, -1]
        if capture { guard cc_pipe_cloexec(&output) == 0 else { return (-1, "cannot create a pipe") } }
        let write = capture ? output[1] : devnull
        let pipes = JobPipes(stdoutRead: -1, stdoutWrite: write, stderrRead: -1, stderrWrite: write, statusRead: -1, statusWrite: -1)
        let spawned = Launcher.spawn(ExecSpec(launcher: argv[0], arguments: Array(argv.dropFirst()), rlimits: [], uid: uid), stdin: devnull, pipes: pipes, cgroupProcs: [])
        if capture { close(output[1]) }
        defer { if capture { close(output[0]) } }
        guard case .success(let pid) = spawned else { return (-1, "\(spawned)") }
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { return (-1, "lost the process") }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return (-1, "did not finish in time")
            }
            usleep(1000)
        }
        var text = ""
        if capture {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let flags = fcntl(output[0], F_GETFL)
            _ = fcntl(output[0], F_SETFL, flags | O_NONBLOCK)
            while true {
                let count = read(output[0], &buffer, buffer.count)
                guard count > 0 else { break }
                text += String(decoding: buffer[0..<count], as: UTF8.self)
            }
        }
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : -1, text)
    }
}
