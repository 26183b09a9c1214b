// The platform's one way into the sandbox: every job (grading, research batch jobs, the CLI) runs through here,
// so each is counted in /metrics with the CPU and wall seconds that usage is charged by.
import Foundation
import Prometheus
import Sandbox

public struct SandboxService: Sendable {
    public let sandbox: Sandbox
    let metrics: PlatformMetrics?

    public init(sandbox: Sandbox, metrics: PlatformMetrics?) {
        self.sandbox = sandbox
        self.metrics = metrics
    }

    /// Jobs live under the data folder, never in the working directory.
    public static func configuration(for config: AppConfig) -> Sandbox.Configuration {
        Sandbox.Configuration(jobsRoot: URL(fileURLWithPath: config.dataDirectory).standardizedFileURL.path + "/sandbox")
    }

    public func run(_ job: SandboxJob, onOutput: (@Sendable (SandboxStream, Data) -> Void)? = nil) async throws -> SandboxResult {
        let result = try await sandbox.run(job, onOutput: onOutput)
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
