// Environment layers: built once by a setup script (with network), then seen read-only by jobs (without network).
import Testing
import Foundation
import Glibc
@testable import Sandbox

@Suite final class LayerTests {
    let sandbox = Fixtures.sandbox(uids: 61_500...61_549)
    deinit { Fixtures.finish(sandbox) }

    static let setupScript = """
    set -e
    site=$(python3 -c 'import site; print(site.getsitepackages()[0])')
    mkdir -p "$site"
    echo 'GREETING = "hello from the layer"' > "$site/cclayer_probe.py"
    printf '#!/bin/sh\\necho tool-ok\\n' > /usr/local/bin/cc-layer-tool
    chmod 755 /usr/local/bin/cc-layer-tool
    echo configured > /etc/python3/cc-layer.conf
    echo "setup ran as $(id -u)"
    """

    func build(_ id: String, script: String = setupScript, network: Bool = false) async throws -> (SandboxLayer?, SandboxResult) {
        try await sandbox.buildLayer(id: id, setup: SandboxJob(command: ["sh", "setup.sh"], files: ["setup.sh": Data(script.utf8)],
                                                               limits: SandboxLimits(wallSeconds: 60), network: network))
    }

    @Test func aLayerBuiltOnceIsSeenReadOnlyByLaterJobs() async throws {
        let (built, setup) = try await build("tools-\(UUID().uuidString.prefix(6))")
        #expect(setup.status == .ok && setup.exitCode == 0, "setup failed: \(setup.stderr)")
        #expect(setup.stdout.contains("setup ran as 0"))
        let layer = try #require(built)
        #expect(!layer.hostUsr, "the setup wrote into /usr: jobs need the overlay")
        let probe = """
        python3 -c 'import cclayer_probe; print(cclayer_probe.GREETING)'
        cc-layer-tool
        cat /etc/python3/cc-layer.conf
        touch /usr/local/bin/intruder 2>/dev/null && echo WROTE-USR || echo usr-read-only
        rm /usr/local/bin/cc-layer-tool 2>/dev/null && echo REMOVED || echo kept
        id -u
        """
        let result = try await sandbox.run(SandboxJob(command: ["sh", "-c", probe], layer: layer))
        #expect(result.status == .ok)
        #expect(result.stdout == "hello from the layer\ntool-ok\nconfigured\nusr-read-only\nkept\n\(BwrapArguments.insideUID)\n", "stderr: \(result.stderr)")
        // The host is untouched, and a job without the layer sees the bare system.
        #expect(!FileManager.default.fileExists(atPath: "/usr/local/bin/cc-layer-tool"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/python3/cc-layer.conf"))
        let bare = try await sandbox.run(SandboxJob(command: ["sh", "-c", "command -v cc-layer-tool || echo absent"]))
        #expect(bare.stdout == "absent\n")
        if getuid() == 0 {
            var info = stat()
            #expect(lstat(layer.path + "/upper/usr/local/bin/cc-layer-tool", &info) == 0)
            #expect(info.st_uid == 0, "a job uid owns the layer's files")
            // Its jobs bind one composed /etc (the layer's changes over the host's), made when it was built; a
            // layer without one (built by an earlier version) gets it at its next job, with the same view.
            let composed = ComposedEtc.layerFolder(layer, network: false)
            #expect(FileManager.default.contents(atPath: composed + "/python3/cc-layer.conf") == Data("configured\n".utf8))
            #expect(!FileManager.default.fileExists(atPath: composed + "/shadow"))
            try FileManager.default.removeItem(atPath: composed)
            try FileManager.default.removeItem(atPath: ComposedEtc.layerFolder(layer, network: true))
            // (In another work folder: sandboxes of the first job's shape may have been set up ahead already.)
            let again = try await sandbox.run(SandboxJob(command: ["sh", "-c", probe], workPath: "/elsewhere", layer: layer))
            #expect(again.stdout == result.stdout)
            #expect(FileManager.default.fileExists(atPath: composed + "/python3/cc-layer.conf"))
            // The overlay mounted for the copy stayed in its own namespace.
            let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!mounts.contains(".etc-merge-"))
        }
    }

    @Test func aSetupThatLeavesUsrAloneGivesJobsTheHostsUsr() async throws {
        let (built, setup) = try await build("plain-\(UUID().uuidString.prefix(6))", script: "echo configured > /etc/python3/cc-plain.conf; ls /usr/local > /dev/null")
        #expect(setup.exitCode == 0, "setup failed: \(setup.stderr)")
        let layer = try #require(built)
        #expect(layer.hostUsr)
        #expect(LayerMounts.overlays(layer: layer, building: false, composedEtc: false).map(\.target) == [layer.merged("etc")])
        let probe = "cat /etc/python3/cc-plain.conf; python3 -c 'print(6 * 7)'; touch /usr/local/intruder 2>/dev/null && echo WROTE-USR || echo usr-read-only"
        let result = try await sandbox.run(SandboxJob(command: ["sh", "-c", probe], layer: layer))
        #expect(result.stdout == "configured\n42\nusr-read-only\n", "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/usr/local/intruder"))
        // Any other change to /usr keeps the overlay: a removed folder (a whiteout), a folder's mode, a new folder.
        for script in ["rm -rf /usr/local/games", "chmod 700 /usr/local/include", "mkdir /usr/local/cc-new-folder"] {
            let (other, run) = try await build("usr-\(UUID().uuidString.prefix(6))", script: script)
            #expect(run.exitCode == 0, "\(script): \(run.status) \(run.stderr)")
            #expect(other?.hostUsr == false, "\(script)")
        }
        let (removed, _) = try await build("gone-\(UUID().uuidString.prefix(6))", script: "rm -rf /usr/local/games")
        let seen = try await sandbox.run(SandboxJob(command: ["sh", "-c", "test -d /usr/local/games && echo there || echo gone"], layer: try #require(removed)))
        #expect(seen.stdout == "gone\n")
    }

    @Test func theSetupHasNetworkAndJobsDoNot() async throws {
        let script = "python3 -c \"import socket; print(','.join(n for _, n in socket.if_nameindex()))\""
        let (built, setup) = try await build("net-\(UUID().uuidString.prefix(6))", script: script, network: true)
        #expect(setup.stdout != "lo\n" && !setup.stdout.isEmpty)
        let layer = try #require(built)
        let job = try await sandbox.run(SandboxJob(command: ["sh", "-c", script], layer: layer))
        #expect(job.stdout == "lo\n")
    }

    @Test func aSetupThatWritesPastItsDiskCapIsStoppedAndLeavesNothing() async throws {
        let id = "big-\(UUID().uuidString.prefix(6))"
        let setup = SandboxJob(command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do head -c 4000000 /dev/urandom > /usr/local/blob$i; sleep 0.3; done; echo finished"],
                               limits: SandboxLimits(wallSeconds: 60))
        let (built, result) = try await sandbox.buildLayer(id: id, setup: setup, diskMB: 8)
        #expect(built == nil && sandbox.layer(id: id) == nil)
        #expect(result.stderr.contains("more than 8 MB"), "\(result.stderr)")
        #expect(!result.stdout.contains("finished"), "the setup was not stopped at its cap")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: sandbox.configuration.layersFolder)) ?? []
        #expect(!left.contains { $0.contains(id) }, "\(left)")
    }

    @Test func aFailedSetupLeavesNoLayer() async throws {
        let id = "broken-\(UUID().uuidString.prefix(6))"
        let (built, setup) = try await build(id, script: "echo installing; echo 'no such package' >&2; exit 3")
        #expect(built == nil)
        #expect(setup.exitCode == 3)
        #expect(setup.stdout == "installing\n")
        #expect(setup.stderr.contains("no such package"))
        #expect(sandbox.layer(id: id) == nil)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: sandbox.configuration.layersFolder)) ?? []
        #expect(!leftovers.contains { $0.contains(id) })
    }

    @Test func rebuildingReplacesTheLayer() async throws {
        let id = "versioned-\(UUID().uuidString.prefix(6))"
        let (first, _) = try await build(id, script: "echo one > /usr/local/share/cc-version")
        // A job on the first build leaves an idle lane (or a ready sandbox) on it behind.
        let before = try await sandbox.run(SandboxJob(command: ["cat", "/usr/local/share/cc-version"], layer: try #require(first)))
        #expect(before.stdout == "one\n")
        let (second, _) = try await build(id, script: "echo two > /usr/local/share/cc-version")
        let layer = try #require(second)
        #expect(sandbox.layer(id: id) == layer)
        for _ in 0..<2 {
            let result = try await sandbox.run(SandboxJob(command: ["cat", "/usr/local/share/cc-version"], layer: layer))
            #expect(result.stdout == "two\n", "a job ran on the layer's first build")
        }
    }

    @Test func unknownLayersAndBadIdsAreRefused() async throws {
        await #expect(throws: SandboxError.self) {
            try await sandbox.run(SandboxJob(command: ["true"], layer: SandboxLayer(id: "never-built", path: "/tmp/nowhere")))
        }
        await #expect(throws: SandboxError.self) {
            try await sandbox.buildLayer(id: "../escape", setup: SandboxJob(command: ["true"]))
        }
    }
}
