// `campuscloud worker`: grading workers without the web server, on any machine that reaches the platform's
// PostgreSQL (or its SQLite file on the same machine). This is how a university scales grading out.
import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import Vapor

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Grade submissions from the shared job queue, and with --labs run lab sessions, until stopped (SIGINT/SIGTERM).",
        discussion: """
            Run it on as many machines as you like against the same DATABASE_URL (PostgreSQL). Each needs bwrap.
            With --labs N it is also a lab host: the web tier (serve) starts up to N lab sessions here and relays them \
            to it at --labs-address. Every machine needs the same CAMPUSCLOUD_SECRET (each request names a session \
            and carries its key) and the same CAMPUSCLOUD_LAB_HOMES folder (people's files, e.g. an NFS mount).
            """)

    @ArgumentParser.Option(help: "How many jobs this process runs at once (0: none, with --labs).") var concurrency = 2
    @ArgumentParser.Option(help: .hidden) var leaseSeconds: Double = 60
    @ArgumentParser.Option(help: "How many lab sessions this process runs (0: none).") var labs = 0
    @ArgumentParser.Option(help: "Where the lab host listens for the web tier, host:port (port 0: any free one).") var labsListen = "127.0.0.1:8091"
    @ArgumentParser.Option(help: "The address the web tier reaches this lab host at (default http://<listen address>).") var labsAddress: String?

    func validate() throws {
        guard (labs > 0 ? 0 : 1)...256 ~= concurrency else {
            throw ValidationError("--concurrency must be between 1 and 256 (0 only with --labs).")
        }
        guard (0...1000).contains(labs) else { throw ValidationError("--labs must be between 0 and 1000.") }
        guard listen != nil else { throw ValidationError("--labs-listen must be host:port, e.g. 0.0.0.0:8091.") }
        if let labsAddress {
            guard let url = URL(string: labsAddress), url.scheme == "http", url.host != nil else {
                throw ValidationError("--labs-address must be an http:// address the web tier reaches, e.g. http://lab1.internal:8091.")
            }
        }
        guard leaseSeconds >= 1 else { throw ValidationError("--lease-seconds must be at least 1.") }
    }

    private var listen: (host: String, port: Int)? {
        guard let colon = labsListen.lastIndex(of: ":"), let port = Int(labsListen[labsListen.index(after: colon)...]), (0...65_535).contains(port),
              colon > labsListen.startIndex else { return nil }
        return (String(labsListen[..<colon]), port)
    }

    func run() async throws {
        try await PlatformRuntime.withApplication(serving: labs > 0 ? .labHost : .platform) { app in
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
            if concurrency > 0 { workers.start(app) }
            let meter = labs > 0 ? try await startLabHost(app) : nil
            say("campuscloud worker: \(concurrency) grading worker(s) running; stop with Ctrl-C")
            await Signals.wait(for: [SIGINT, SIGTERM])
            say("campuscloud worker: stopping (a run in progress returns to the queue when its lease runs out)")
            if let meter {
                // No new sessions from now on (the web tier reads this before choosing a host).
                let address = await app.labHost.address
                await app.labHost.serve(at: address ?? "", capacity: 0)
                try? await LabHosts.heartbeat(name: app.labHost.name, address: address, capacity: 0, ready: [:], at: app.clock.now(), on: app.db)
                await app.server.shutdown()
                await meter.shutdownAsync(app)
                await app.labHost.stopAll(reason: "The lab host stopped; your files are kept.")
            }
            if concurrency > 0 { await workers.stop() }
        }
    }
}

extension WorkerCommand {
    /// Serves the lab host's routes, says where in `lab_hosts`, and meters its sessions.
    private func startLabHost(_ app: Application) async throws -> LabMeterLoop {
        let (host, port) = listen!
        do {
            try await app.server.start(address: .hostname(host, port: port))
        } catch {
            throw StartupError.config(ConfigError.invalid("--labs-listen", "(\(labsListen)) cannot be listened on: \(error)"))
        }
        let bound = app.http.server.shared.localAddress?.port ?? port
        var advertised = host
        if host == "0.0.0.0" || host == "::" {
            var name = [CChar](repeating: 0, count: 256)
            gethostname(&name, 255)
            advertised = String(cString: name)
        }
        let address = labsAddress ?? "http://\(advertised.contains(":") ? "[\(advertised)]" : advertised):\(bound)"
        await app.labHost.serve(at: address, capacity: labs)
        try await LabHosts.heartbeat(name: app.labHost.name, address: address, capacity: labs, ready: [:], at: app.clock.now(), on: app.db)
        let meter = LabMeterLoop()
        try await meter.didBootAsync(app)
        say("campuscloud worker: lab host \(app.labHost.name) at \(address), up to \(labs) session(s)")
        return meter
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
