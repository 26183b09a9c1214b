// The job script's sandbox, run for real on this host (no Slurm needed: a batch script is a shell script, run here as
// the service account `nobody` would run it on a node). Beside the job's folder in the staging folder lies another
// job's, with a secret input, and a spool folder holding another job's script; the job tries to read and change both,
// list the staging folder, count the processes it can see and make a namespace of its own. In the sandbox it gets
// none of it and still writes its own outputs; with the sandbox off the same job gets all of it (which is what the
// sandbox is for). A node that cannot give the sandbox ends the job unrun when the cluster requires it, and runs it
// with a warning otherwise. Needs bwrap (and root, to run as nobody).
import Foundation
import Glibc
import Sandbox
import Testing
@testable import Slurm

@Suite(.serialized) struct SlurmSandboxTests {
    /// The host's folders for one run: a staging folder with another job's folder (its secret) and the job's own, and a
    /// spool folder the sandbox hides. Outside /tmp, which the sandbox replaces anyway, so hiding the rest is tested.
    struct Scene {
        var root: URL
        var staging: URL { root.appendingPathComponent("staging") }
        var victim: URL { staging.appendingPathComponent("campuscloud-victim") }
        var job: URL { staging.appendingPathComponent("campuscloud-job") }
        var spool: URL { root.appendingPathComponent("spool") }
        /// The spool as the sandbox is told of it: through an absolute link (bwrap cannot follow one when it mounts).
        var spoolLink: URL { root.appendingPathComponent("spool-link") }
        /// A folder under /run, named through /var/run (a link to /run on most systems; as munge's often is); nil
        /// when not root.
        var run: String?
        var owner: SlurmServiceAccount?

        init() throws {
            let base = geteuid() == 0 ? URL(fileURLWithPath: "/var/lib") : FileManager.default.temporaryDirectory
            root = base.appendingPathComponent("campuscloud-sandbox-test-\(UUID().uuidString.prefix(8))")
            owner = geteuid() == 0 ? try #require(SlurmServiceAccount.named("nobody")) : nil
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            chmod(root.path, 0o755)
            try SlurmStaging.prepare(victim, command: "true", files: ["secret.txt": Data("the victim's secret".utf8)], owner: owner)
            let script = spool.appendingPathComponent("job42")
            try FileManager.default.createDirectory(at: script, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try Data("the victim's script".utf8).write(to: script.appendingPathComponent("slurm_script"))
            try FileManager.default.createSymbolicLink(atPath: spoolLink.path, withDestinationPath: spool.path)
            if geteuid() == 0 {
                let name = root.lastPathComponent
                try FileManager.default.createDirectory(atPath: "/run/" + name, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
                try Data("a socket's neighbour".utf8).write(to: URL(fileURLWithPath: "/run/\(name)/munge.key"))
                chmod("/run/\(name)/munge.key", 0o644)
                run = "/var/run/" + name
            }
        }

        /// The job's command: each attempt reported on a line of its own.
        var command: String {
            """
            echo "secret: $(cat \(victim.path)/work/secret.txt 2>/dev/null || echo none)"
            echo "staging: $(ls \(staging.path) 2>/dev/null | tr '\\n' ' ')"
            echo "spool: $(cat \(spool.path)/job42/slurm_script 2>/dev/null || echo none)"
            echo "run: $(cat \(run ?? "/nonexistent")/munge.key 2>/dev/null || echo none)"
            echo "interfaces: $(grep -c : /proc/net/dev)"
            if (echo changed > \(victim.path)/work/secret.txt) 2>/dev/null; then echo "write: done"; else echo "write: refused"; fi
            echo "processes: $(ls /proc | grep -c '^[0-9]')"
            if unshare -U true 2>/dev/null; then echo "unshare: done"; else echo "unshare: refused"; fi
            echo kept > outputs/kept.txt
            """
        }

        /// Stages the job with `sandbox` and runs its script as the service account: its status and what it printed.
        func run(_ sandbox: SlurmSandbox?) throws -> (status: Int32, output: String) {
            if FileManager.default.fileExists(atPath: job.path) { SlurmStaging.remove(job, owner: owner) }
            try SlurmStaging.prepare(job, command: command, files: [:], owner: owner, sandbox: sandbox)
            do {
                return (0, try SlurmCommand.runBlocking(["/bin/sh", SlurmStaging.script(job).path], as: owner, timeout: 60))
            } catch let failure as SlurmCommandFailure {
                return (failure.status ?? -1, failure.output)
            }
        }

        var kept: Bool { FileManager.default.fileExists(atPath: SlurmStaging.work(job).appendingPathComponent("outputs/kept.txt").path) }

        func line(_ key: String, in output: String) -> String? {
            output.split(separator: "\n").first { $0.hasPrefix(key + ": ") }.map { String($0.dropFirst(key.count + 2)).trimmingCharacters(in: .whitespaces) }
        }

        func remove() {
            SlurmStaging.remove(job, owner: owner)
            SlurmStaging.remove(victim, owner: owner)
            try? FileManager.default.removeItem(at: root)
            if run != nil { try? FileManager.default.removeItem(atPath: "/run/" + root.lastPathComponent) }
        }
    }

    static func sandbox(_ mode: SlurmSandbox.Mode, architecture: String = SystemCallFilter.architecture, hiding scene: Scene, network: Bool = false) throws -> SlurmSandbox {
        SlurmSandbox(mode: mode, filter: try #require(SystemCallFilter.program()), architecture: architecture,
                     hidden: ["/var/spool/slurmd", scene.spoolLink.path] + (scene.run.map { [$0] } ?? []), network: network)
    }

    @Test func aJobInTheSandboxSeesOnlyItsOwnFolder() throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap"), "install bubblewrap")
        let scene = try Scene()
        defer { scene.remove() }
        let secret = SlurmStaging.work(scene.victim).appendingPathComponent("secret.txt")

        let boxed = try scene.run(try Self.sandbox(.whenAvailable, hiding: scene))
        #expect(boxed.status == 0 && boxed.output.contains("runs in the platform's sandbox"), "\(boxed)")
        #expect(scene.line("secret", in: boxed.output) == "none" && scene.line("spool", in: boxed.output) == "none", "\(boxed.output)")
        #expect(scene.line("run", in: boxed.output) == "none", "\(boxed.output)")
        // No network asked for: a loopback alone.
        #expect(scene.line("interfaces", in: boxed.output) == "1", "\(boxed.output)")
        // The staging folder holds the job's own folder alone.
        #expect(scene.line("staging", in: boxed.output) == "campuscloud-job", "\(boxed.output)")
        #expect(scene.line("write", in: boxed.output) == "refused" && scene.line("unshare", in: boxed.output) == "refused", "\(boxed.output)")
        #expect(Int(scene.line("processes", in: boxed.output) ?? "") ?? 99 <= 8, "\(boxed.output)")
        #expect(try String(contentsOf: secret, encoding: .utf8) == "the victim's secret")
        #expect(scene.kept)

        // A job that may use the network has the node's.
        let networked = try scene.run(try Self.sandbox(.required, hiding: scene, network: true))
        #expect(networked.status == 0 && Int(scene.line("interfaces", in: networked.output) ?? "") ?? 0 > 1, "\(networked)")
        #expect(scene.line("secret", in: networked.output) == "none", "\(networked.output)")

        // The same job without the sandbox: everything it tried works (the service account's reach).
        let bare = try scene.run(try Self.sandbox(.off, hiding: scene))
        #expect(bare.status == 0 && !bare.output.contains("sandbox"), "\(bare)")
        #expect(scene.line("secret", in: bare.output) == "the victim's secret" && scene.line("spool", in: bare.output) == "the victim's script", "\(bare.output)")
        if scene.run != nil { #expect(scene.line("run", in: bare.output) == "a socket's neighbour", "\(bare.output)") }
        #expect(Int(scene.line("interfaces", in: bare.output) ?? "") ?? 0 > 1, "\(bare.output)")
        #expect(scene.line("write", in: bare.output) == "done" && (Int(scene.line("processes", in: bare.output) ?? "") ?? 0) > 20, "\(bare.output)")
        #expect(scene.line("staging", in: bare.output)?.contains("campuscloud-victim") == true)
        #expect(try String(contentsOf: secret, encoding: .utf8) == "changed\n")
        #expect(scene.kept)
    }

    @Test func aNodeWithoutTheSandboxEndsTheJobWhenItIsRequiredAndSaysSoOtherwise() throws {
        let scene = try Scene()
        defer { scene.remove() }
        // A filter built for another machine is no sandbox on this one.
        let refused = try scene.run(try Self.sandbox(.required, architecture: "pdp11", hiding: scene))
        #expect(refused.status == Int32(SlurmSandbox.unavailableStatus) && refused.output.contains("runs jobs only in the platform's sandbox")
                && refused.output.contains("its system-call filter is for pdp11"), "\(refused)")
        #expect(scene.line("secret", in: refused.output) == nil && !scene.kept, "the command ran: \(refused.output)")

        let warned = try scene.run(try Self.sandbox(.whenAvailable, architecture: "pdp11", hiding: scene))
        #expect(warned.status == 0 && warned.output.contains("within Slurm's limits alone"), "\(warned)")
        #expect(scene.line("secret", in: warned.output) == "the victim's secret" && scene.kept, "\(warned.output)")
    }

    @Test func theFoldersHiddenFromJobsComeFromTheClustersSlurmConf() {
        let conf = """
            ClusterName=hpc
            AuthInfo=socket=/srv/munge/munge.socket.2,ttl=60   # the cluster's own munge
            SlurmdSpoolDir=/scratch/slurmd/%n
            statesavelocation = /srv/slurmctld
            AccountingStoragePass=/srv/munge-dbd/munge.socket
            NodeName=n[1-4] CPUs=32 SlurmdSpoolDir=/ignored
            """
        let hidden = SlurmSandbox.hiddenFolders(slurmConf: conf)
        #expect(hidden.contains("/srv/munge") && hidden.contains("/scratch/slurmd") && hidden.contains("/srv/slurmctld")
                && hidden.contains("/srv/munge-dbd"), "\(hidden)")
        #expect(hidden.contains("/run/munge") && hidden.contains("/var/spool/slurmd") && !hidden.contains("/ignored"))
        #expect(Set(SlurmSandbox.hiddenFolders(slurmConf: nil)) == ["/run/munge", "/var/run/munge", "/var/spool/slurmd", "/var/spool/slurm", "/var/lib/slurm"])
    }
}
