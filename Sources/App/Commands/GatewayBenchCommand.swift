// bench/gateway's driver (hidden): the same chat requests sent straight to the fake upstream, through the gateway
// (key, policy, credits held and settled, usage row: the whole path, on this process's database), and through
// another proxy when bench/gateway starts one (LiteLLM) — one after the other in one run, with the same load
// generator. Latency at one request at a time (p50, p99), throughput with `concurrency` at a time.
import ArgumentParser
import AsyncHTTPClient
import Fluent
import Foundation
import Gateway
import Ledger
import NIOCore
import Vapor

struct GatewayBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway-bench", abstract: "Measure the AI gateway (for bench/gateway).", shouldDisplay: false)

    @ArgumentParser.Option var requests = 400
    @ArgumentParser.Option var concurrency = 16
    @ArgumentParser.Option var seconds = 3.0
    @ArgumentParser.Option(help: "Port of a fake upstream already running (0: start one in this process).") var upstreamPort = 0
    @ArgumentParser.Option(help: "Base URL of another OpenAI-compatible proxy to the same upstream (e.g. LiteLLM).") var other: String?
    @ArgumentParser.Option var otherKey = "sk-bench"
    @ArgumentParser.Option var otherModel = "bench-model"

    struct Figures {
        var name: String
        var p50: Double
        var p99: Double
        var throughput: Double
        var errors: Int
    }

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: true)
            var upstreamApp: Application?
            var port = upstreamPort
            if port == 0 { (upstreamApp, port) = try await FakeUpstream.start() }
            let token = try await prepare(app, upstream: "http://127.0.0.1:\(port)/v1")
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let gatewayPort = app.http.server.shared.localAddress!.port!
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(connectionPool: .init(idleTimeout: .seconds(30))))
            var rows: [Figures] = []
            rows.append(try await measure("direct to the upstream", client: client, url: "http://127.0.0.1:\(port)/v1/chat/completions", key: "none", model: "bench-model"))
            rows.append(try await measure("through the gateway", client: client, url: "http://127.0.0.1:\(gatewayPort)/v1/chat/completions", key: token, model: "bench-model"))
            if let other {
                rows.append(try await measure("through LiteLLM", client: client, url: other.trimmingSuffix("/") + "/chat/completions", key: otherKey, model: otherModel))
            }
            try await client.shutdown()
            await app.server.shutdown()
            if let upstreamApp { await FakeUpstream.stop(upstreamApp) }
            func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
                let space = String(repeating: " ", count: max(0, width - text.count))
                return left ? text + space : space + text
            }
            say(pad("path", 26, left: true) + pad("p50 ms", 10) + pad("p99 ms", 10) + pad("req/s", 10) + pad("errors", 8))
            for row in rows {
                say(pad(row.name, 26, left: true) + pad(String(format: "%.2f", row.p50), 10) + pad(String(format: "%.2f", row.p99), 10)
                    + pad(String(format: "%.0f", row.throughput), 10) + pad("\(row.errors)", 8))
            }
            if rows.count > 2 { say(String(format: "throughput_vs_litellm=%.1f", rows[1].throughput / max(rows[2].throughput, 0.001))) }
            say(String(format: "added_p50_ms=%.2f", rows[1].p50 - rows[0].p50))
        }
    }

    /// The demo's people and credits, a provider at the upstream, a model, a policy without a per-minute limit, a
    /// big allowance for student 1, and their key.
    func prepare(_ app: Application, upstream: String) async throws -> String {
        _ = try await DemoData.load(on: app.db, passwordHash: try Bcrypt.hash(DemoData.password, cost: 4), credits: true)
        let provider = AIProvider(name: "bench-\(UUID().uuidString.prefix(8))", baseURL: upstream, secretEnv: nil)
        try await provider.create(on: app.db)
        if try await AIModel.query(on: app.db).filter(\.$name == "bench-model").first() == nil {
            var input = ModelInput()
            (input.name, input.provider, input.inputPrice, input.outputPrice) = ("bench-model", provider.name, "0.5", "1.5")
            _ = try await AICatalogue.addModel(input, app: app, on: app.db)
        }
        guard let course = try await Course.query(on: app.db).filter(\.$code == "CS101").first(),
              let student = try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first(),
              let instructor = try await User.query(on: app.db).filter(\.$email == DemoData.instructor.email).first() else {
            throw CommandFailure("the demo course is missing")
        }
        var policy = AIPolicyInput()
        policy.requestsPerMinuteGiven = true  // null: no limit
        policy.allowedModels = []
        _ = try await AIPolicies.update(course, policy, by: instructor, app: app, on: app.db)
        _ = try await app.ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 500), actor: nil)
        guard let token = try await AIKeys.issue(to: student, in: course, name: "bench", origin: .password, on: app.db).token else { throw CommandFailure("no key") }
        return token
    }

    func measure(_ name: String, client: HTTPClient, url: String, key: String, model: String) async throws -> Figures {
        let body = try JSONSerialization.data(withJSONObject: ["model": model, "max_tokens": 16,
                                                                "messages": [["role": "user", "content": "a short question about lists"]]])
        @Sendable func once() async -> (Double, Bool) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "authorization", value: "Bearer \(key)")
            request.body = .bytes(ByteBuffer(data: body))
            let start = ContinuousClock.now
            do {
                let response = try await client.execute(request, timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 20)
                let elapsed = ContinuousClock.now - start
                return (Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000, response.status == .ok)
            } catch {
                return (0, false)
            }
        }
        for _ in 0..<20 { _ = await once() }  // warm-up: connections, caches
        var latencies: [Double] = [], errors = 0
        for _ in 0..<requests {
            let (ms, ok) = await once()
            if ok { latencies.append(ms) } else { errors += 1 }
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        let done = await withTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var ok = 0, failed = 0
                    while ContinuousClock.now < deadline {
                        if await once().1 { ok += 1 } else { failed += 1 }
                    }
                    return (ok, failed)
                }
            }
            return await group.reduce(into: (0, 0)) { $0.0 += $1.0; $0.1 += $1.1 }
        }
        let elapsed = ContinuousClock.now - started
        let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Figures(name: name, p50: percentile(0.5), p99: percentile(0.99), throughput: Double(done.0) / secondsTaken, errors: errors + done.1)
    }
}
