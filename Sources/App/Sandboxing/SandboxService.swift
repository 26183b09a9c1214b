// The platform's one way into the sandbox: every job (grading, research batch jobs, the CLI) runs through here,
// so each is counted in /metrics with the CPU and wall seconds that usage is charged by.
import Foundation
import Prometheus
import Sandbox
import Vapor

public struct SandboxService: Sendable {
    public typealias Runner = @Sendable (SandboxJob, (@Sendable (SandboxStream, Data) -> Void)?) async throws -> SandboxResult
    public let sandbox: Sandbox
    let metrics: PlatformMetrics?
    /// What runs a job: the real sandbox, unless a test gives a stand-in that answers with a prepared result (so
    /// grading and research runs get fast tests next to the real ones).
    let runner: Runner

    public init(sandbox: Sandbox, metrics: PlatformMetrics?, runner: Runner? = nil) {
        self.sandbox = sandbox
        self.metrics = metrics
        self.runner = runner ?? { job, onOutput in try await sandbox.run(job, onOutput: onOutput) }
    }

    /// Jobs live under the data folder, never in the working directory.
    public static func configuration(for config: AppConfig) -> Sandbox.Configuration {
        var configuration = Sandbox.Configuration(jobsRoot: URL(fileURLWithPath: config.dataDirectory).standardizedFileURL.path + "/sandbox")
        configuration.lanes = config.sandboxLanes
        configuration.allowWeakIsolation = config.unsafeWeakSandbox
        configuration.uidRange = config.sandboxUIDs
        return configuration
    }

    public func run(_ job: SandboxJob, onOutput: (@Sendable (SandboxStream, Data) -> Void)? = nil) async throws -> SandboxResult {
        let result = try await runner(job, onOutput)
        metrics?.recordSandboxJob(result)
        return result
    }
}

extension PlatformMetrics {
    func recordSandboxJob(_ result: SandboxResult) {
        registry.makeCounter(descriptor: .init(metricName: "sandbox_jobs", unitName: "total", helpText: "Sandbox jobs by final status."),
                             labels: [("status", result.status.rawValue)]).increment()
        registry.makeCounter(descriptor: .init(metricName: "sandbox_cpu", unitName: "seconds_total", helpText: "CPU seconds used by sandbox jobs."),
                             labels: []).increment(by: Double(result.cpuMs) / 1000)
        registry.makeCounter(descriptor: .init(metricName: "sandbox_wall", unitName: "seconds_total", helpText: "Wall-clock seconds of sandbox jobs."),
                             labels: []).increment(by: Double(result.wallMs) / 1000)
    }
}

extension Application {
    private struct SandboxKey: StorageKey { typealias Value = SandboxService }

    /// The platform's sandbox: jobs live under the data folder; nothing starts until the first job.
    public var sandbox: SandboxService {
        get { storage[SandboxKey.self]! }
        set { storage[SandboxKey.self] = newValue }
    }
}

/// Ends the sandbox's prepared launchers and sandboxes, and finishes job cleanups, when the application stops.
struct SandboxLifecycle: LifecycleHandler {
    func shutdown(_ application: Application) {
        application.sandbox.sandbox.shutdown()
    }
}
