// A job that asks for network gets outbound-only networking of its own (see JobNetwork), never the host's: the real
// attacks — the host's loopback, a private host (a network namespace this test makes, standing in for a database
// or another machine on the campus network), the host's own address, the cloud metadata address, a host abstract
// socket, deleting its own namespace's rules — all fail, while each target is shown reachable from the host. The
// internet is reachable (checked with pip when this machine reaches PyPI); a job without network still has none.
import Foundation
import Testing
import Glibc
@testable import Sandbox

@Suite(.serialized) struct JobNetworkTests {
    /// Runs a host command to its end; its exit status.
    @discardableResult
    static func host(_ arguments: String...) -> Int32 { HostTool.run(arguments, uid: nil).status }

    /// A network namespace with one address on a veth pair to the host, and a TCP listener inside it.
    final class StandIn {
        let name = "cc-standin-\(UUID().uuidString.prefix(6).lowercased())"
        let hostSide = "ccv\(UInt32.random(in: 10_000...99_999))"
        let address = "10.\(Int.random(in: 100...250)).\(Int.random(in: 1...250)).2"
        let port = 18_000 + Int.random(in: 0...999)
        private var listener: pid_t = 0

        init() throws {
            let peer = hostSide + "p", prefix = address.split(separator: ".").prefix(3).joined(separator: ".")
            let steps: [[String]] = [
                ["ip", "netns", "add", name],
                ["ip", "link", "add", hostSide, "type", "veth", "peer", "name", peer],
                ["ip", "link", "set", peer, "netns", name],
                ["ip", "addr", "add", prefix + ".1/24", "dev", hostSide],
                ["ip", "link", "set", hostSide, "up"],
                ["ip", "netns", "exec", name, "ip", "addr", "add", address + "/24", "dev", peer],
                ["ip", "netns", "exec", name, "ip", "link", "set", peer, "up"],
                ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
            ]
            for step in steps where HostTool.run(["/usr/bin/env"] + step, uid: nil).status != 0 {
                remove()
                throw SandboxError.hostFailure("could not make the stand-in host: \(step)")
            }
            guard case .success(let pid) = HostTool.start(["/usr/sbin/ip", "netns", "exec", name, "python3", "-m", "http.server", "--bind", address, String(port)], uid: nil) else {
                remove()
                throw SandboxError.hostFailure("could not start the stand-in's listener")
            }
            listener = pid
        }

        func remove() {
            if listener > 0 { Launcher.reap(listener) }
            HostTool.run(["/usr/sbin/ip", "link", "del", hostSide], uid: nil)
            HostTool.run(["/usr/sbin/ip", "netns", "del", name], uid: nil)
        }
    }

    /// Whether the host reaches `address:port` (the control: what the job fails to reach is really there).
    static func reachable(_ address: String, _ port: Int) -> Bool {
        HostTool.run(["/usr/bin/python3", "-c", "import socket; socket.create_connection(('\(address)', \(port)), timeout=2)"], uid: nil).status == 0
    }

    static func hostAddress() -> String? {
        JobNetwork.hostNetworks().first { !$0.contains(":") && !$0.hasPrefix("127.") && $0.hasSuffix("/32") }.map { String($0.dropLast(3)) }
    }

    @Test func aNetworkJobReachesNoneOfTheHostsNeighboursNorItsOwnRules() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_700...61_719, path: .cold)
        defer { Fixtures.finish(sandbox) }
        let tcp = try Listener()
        let abstractName = "cc-abstract-\(UUID().uuidString.prefix(8))"
        let abstract = try Listener(unix: abstractName, abstract: true)
        let standIn = try StandIn()
        defer { standIn.remove() }
        // The host's own address, with a listener on every interface (as a database on 0.0.0.0 would be).
        let everywhere = 19_000 + Int.random(in: 0...999)
        guard case .success(let server) = HostTool.start(["/usr/bin/python3", "-m", "http.server", "--bind", "0.0.0.0", String(everywhere)], uid: nil) else {
            Issue.record("could not start the host listener"); return
        }
        defer { Launcher.reap(server) }
        var targets = ["\(standIn.address):\(standIn.port)"]
        if let own = Self.hostAddress() { targets.append("\(own):\(everywhere)") }
        // Controls: from the host, each target answers.
        var ready = false
        for _ in 0..<50 where !ready {
            ready = targets.allSatisfy { pair in let parts = pair.split(separator: ":"); return Self.reachable(String(parts[0]), Int(parts[1])!) }
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "the targets are not reachable from the host, so the job's failure would show nothing")

        let job = SandboxJob(command: ["python3", "network_outbound.py", String(tcp.port), abstractName] + targets,
                             files: ["network_outbound.py": try Fixtures.hostile("network_outbound.py")], network: true)
        let result = try await sandbox.run(job)
        #expect(result.status == .ok, "\(result.stderr)")
        #expect(!result.stdout.contains("CONNECTED"), "the job reached something: \(result.stdout)")
        #expect(result.stdout.split(separator: "\n").filter { $0.hasPrefix("REFUSED") }.count == 4 + targets.count, "\(result.stdout)")
        #expect(result.stdout.contains("interfaces lo,") && !result.stdout.contains("interfaces lo\n"), "no network at all: \(result.stdout)")
        #expect(!result.stdout.contains("RULE-DELETE DONE"), "\(result.stdout)")
        #expect(tcp.connections() == 0 && abstract.connections() == 0)
        // Nothing is left running: pasta and the namespace's holder went with the job.
        try await Task.sleep(for: .milliseconds(200))
        #expect(Fixtures.processes(containing: sandbox.configuration.jobsRoot).isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: sandbox.configuration.jobsRoot)) ?? []).allSatisfy { !$0.hasPrefix(".net-") })
    }

    @Test func aNetworkJobReachesTheInternetWhenTheHostDoes() async throws {
        // Only where this machine reaches PyPI itself (the project's CI does; a machine without a network does not).
        guard HostTool.run(["/usr/bin/python3", "-c", "import socket; socket.create_connection(('pypi.org', 443), timeout=5)"], uid: nil).status == 0 else { return }
        let sandbox = Fixtures.sandbox(uids: 61_720...61_739, path: .cold)
        defer { Fixtures.finish(sandbox) }
        let job = SandboxJob(command: ["sh", "-c", "python3 -m pip download --no-deps --disable-pip-version-check -q -d /tmp/dl six && ls /tmp/dl"],
                             limits: SandboxLimits(wallSeconds: 120), network: true)
        let result = try await sandbox.run(job)
        #expect(result.status == .ok && result.stdout.contains("six-"), "\(result.stdout)\n\(result.stderr)")
    }

    @Test func aJobWithoutNetworkStillHasNone() async throws {
        let sandbox = Fixtures.sandbox(uids: 61_740...61_759, path: .cold)
        defer { Fixtures.finish(sandbox) }
        let result = try await sandbox.run(SandboxJob(command: ["python3", "-c", "import socket; print(','.join(n for _, n in socket.if_nameindex()))"]))
        #expect(result.stdout == "lo\n")
    }

    @Test func theRulesCoverTheSpecialRangesAndTheHostsOwnNetworks() {
        let (four, six) = JobNetwork.rules(hostNetworks: ["192.0.2.2/32", "192.0.2.0/24", "fd00::2/128"])
        for range in ["127.0.0.0/8", "169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.2.2/32", "192.0.2.0/24"] {
            #expect(four.contains("to \(range) prohibit"), "\(range)")
        }
        for range in ["::1/128", "fc00::/7", "fe80::/10", "fd00::2/128"] { #expect(six.contains("to \(range) prohibit"), "\(range)") }
        // The DNS forwarder is the one exception, and it comes first.
        #expect(four.hasPrefix("rule add pref 100 to \(JobNetwork.dnsAddress)/32 ipproto udp dport 53 lookup main"))
    }
}
