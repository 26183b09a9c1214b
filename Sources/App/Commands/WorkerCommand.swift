// `campuscloud worker`: grading workers without the web server, on any machine that reaches the platform's
// PostgreSQL (or its SQLite file on the same machine). This is how a university scales grading out.
import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import Vapor

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Grade submissions from the shared job queue until stopped (SIGINT/SIGTERM).",
        discussion: "Run it on as many machines as you like against the same DATABASE_URL (PostgreSQL). Each needs bwrap.")

    @ArgumentParser.Option(help: "How many jobs this process runs at once.") var concurrency = 2
    @ArgumentParser.Option(help: .hidden) var leaseSeconds: Double = 60

    func validate() throws {
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 256.") }
        guard leaseSeconds >= 1 else { throw ValidationError("--lease-seconds must be at least 1.") }
    }

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: false)
            do {
                let host = try app.sandbox.sandbox.describeHost()
                app.logger.info("Sandbox: \(host)")
            } catch {
                throw StartupError.config(ConfigError.invalid("sandbox", "is not usable here, so this worker would grade nothing: \(error)"))
            }
            // Labs run where the web server relays them (`serve`): their set-ups and class starts are left to it.
            app.jobHandlers = app.jobHandlers.excluding([LabSetupHandler.kind, LabPrestartHandler.kind])
            let workers = JobWorkers(count: concurrency, lease: leaseSeconds)
            workers.start(app)
            say("campuscloud worker: \(concurrency) grading worker(s) running; stop with Ctrl-C")
            await Signals.wait(for: [SIGINT, SIGTERM])
            say("campuscloud worker: stopping (a run in progress returns to the queue when its lease runs out)")
            await workers.stop()
        }
    }
}

/// Waits until one of the signals arrives.
enum Signals {
    static func wait(for signals: [Int32]) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queue = DispatchQueue(label: "campuscloud.signals")
            let resumed = NIOLockedValueBox(false)
            var sources: [any DispatchSourceSignal] = []
            for number in signals {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    let first = resumed.withLockedValue { done in
                        defer { done = true }
                        return !done
                    }
                    if first { continuation.resume() }
                }
                source.resume()
                sources.append(source)
            }
            // Kept alive for the life of the process: a worker stops once.
            Signals.keep = sources
        }
    }

    nonisolated(unsafe) private static var keep: [any DispatchSourceSignal] = []
}
