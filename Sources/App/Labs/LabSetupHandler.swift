// A lab environment's set-up: its script run once, with network, into an environment layer on this machine (as
// an autograder's setup.sh), then — for JupyterLab — a check that the layer can start it. The result is recorded
// with the job's completion, for this version only: a script changed meanwhile has a set-up of its own.
import Fluent
import Foundation
import Labs
import Sandbox
import SQLKit
import Vapor

struct LabSetupHandler: JobHandler {
    static let kind = "lab-setup"
    var kind: String { Self.kind }

    struct Payload: Codable { var lab: UUID; var version: Int }

    /// What a set-up may use: network, 20 minutes, 2 GB of memory, 4 GB written into the layer.
    static let limits = SandboxLimits(wallSeconds: 1200, cpuSeconds: 1200, memoryMB: 2048, pids: 512, outputKB: 2048,
                                      fileSizeMB: 1024, diskMB: 1024, openFiles: 1024)
    static let layerDiskMB = 4096
    static let logCharacters = 64 * 1024
    /// Where the script runs inside the set-up's sandbox (its working folder).
    static let setupFolder = "/lab-setup"
    /// JupyterLab must start from the layer: its version, printed by the layer's own `jupyter-lab`.
    static let jupyterCheck = ["/bin/sh", "-c", "command -v jupyter-lab >/dev/null || { echo 'jupyter-lab is not on PATH' >&2; exit 3; }; exec jupyter-lab --version"]

    static func enqueue(_ lab: LabEnvironment, at now: Date, on db: any Database) async throws {
        let payload = Payload(lab: try lab.requireID(), version: lab.setupVersion)
        try await JobQueue.enqueue(kind, payload: try JobQueue.encode(payload), maxAttempts: 2, at: now, on: db)
    }

    enum Outcome: Sendable, Equatable {
        case ready(log: String)
        case failed(log: String)
    }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        let job = claimed.job, app = worker.app
        let payload = try JobQueue.decode(Payload.self, job.payload)
        guard let lab = try await LabEnvironment.find(payload.lab, on: app.db), lab.setupVersion == payload.version else {
            try await worker.complete(job, result: "superseded by a newer set-up") { _ in }
            return nil
        }
        let outcome = try await Self.build(lab, app: app)
        try await worker.complete(job, result: "set up") { tx in
            let (status, log): (SetupStatus, String) = switch outcome {
            case .ready(let log): (.ready, log)
            case .failed(let log): (.failed, log)
            }
            try await tx.sqlDatabase().raw("""
                UPDATE lab_environments SET setup_status = \(bind: status.rawValue), setup_log = \(bind: log)
                WHERE id = \(bind: payload.lab) AND setup_version = \(bind: payload.version)
                """).run()
        }
        return nil
    }

    /// The layer of the environment's current version on this machine: built now unless it is here already.
    static func build(_ lab: LabEnvironment, app: Application) async throws -> Outcome {
        let sandbox = app.sandbox.sandbox
        var log: String
        let layer: SandboxLayer
        if let built = sandbox.layer(id: lab.layerID) {
            (layer, log) = (built, "Already set up on this machine.\n")
        } else {
            let setup = SandboxJob(command: ["/bin/bash", "setup.sh"], files: ["setup.sh": Data(lab.setupScript.utf8)], workPath: setupFolder,
                                   environment: ["HOME": setupFolder, "DEBIAN_FRONTEND": "noninteractive", "PIP_BREAK_SYSTEM_PACKAGES": "1",
                                                 "PIP_ROOT_USER_ACTION": "ignore", "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"],
                                   limits: limits, network: true)
            let (built, result) = try await sandbox.buildLayer(id: lab.layerID, setup: setup, diskMB: layerDiskMB)
            log = SandboxReport.log(result, characters: logCharacters)
            guard let built else { return .failed(log: log) }
            layer = built
        }
        guard lab.kind == .jupyterlab else { return .ready(log: log) }
        let check = try await app.sandbox.run(SandboxJob(command: jupyterCheck, environment: ["HOME": "/work"],
                                                         limits: SandboxLimits(wallSeconds: 60, cpuSeconds: 60, memoryMB: 1024, pids: 64), layer: layer))
        log += "--- check: jupyter-lab --version ---\n" + SandboxReport.log(check, characters: 4096)
        guard check.status == .ok, check.exitCode == 0 else {
            return .failed(log: log + "JupyterLab does not start from this environment: its set-up script must install it (e.g. pip install jupyterlab).\n")
        }
        return .ready(log: log)
    }

    /// The set-up will not be tried again: the environment says so, if this is still its version.
    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        let payload = try JobQueue.decode(Payload.self, job.payload)
        try await app.db.sqlDatabase().raw("""
            UPDATE lab_environments SET setup_status = \(bind: SetupStatus.failed.rawValue), setup_log = \(bind: "The set-up could not run: \(reason)")
            WHERE id = \(bind: payload.lab) AND setup_version = \(bind: payload.version)
            """).run()
    }
}
