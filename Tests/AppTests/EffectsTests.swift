// The gateway and research jobs with their effects replaced by test values (Core/Effects.swift): no network, no
// bwrap, no server — an upstream answering from memory, a sandbox stand-in and a fixed platform clock. The real
// integration tests (AIGatewayTests, ResearchJobTests) stay; these run in well under a second each.
import AsyncHTTPClient
import Fluent
import Foundation
import Ledger
import NIOConcurrencyHelpers
import Testing
import Vapor
import VaporTesting
@testable import App
@testable import Sandbox

@Suite struct EffectsTests {
    /// Noon on 2026-10-01: inside the demo programme's term and behind the real time of any run from now on, so a
    /// step that used the real time where it should use the platform's (a job queued "now", a price from "now")
    /// shows here as a job never claimed or a request refused.
    static let noon = Date(timeIntervalSince1970: 1_790_856_000)

    static func post(_ app: Application, _ path: String, _ json: String, _ headers: HTTPHeaders) async throws -> TestingHTTPResponse {
        var headers = headers
        headers.contentType = .json
        return try await app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(string: json))
    }

    /// A provider that fails (503) and its fallback, answered from memory: the gateway fails over before answering,
    /// charges the fallback's reported usage at the model's prices, stamps the usage with the platform's clock, and
    /// a blackout holds exactly while the platform's clock is inside it.
    @Test func theGatewayFailsOverChargesByUsageAndKeepsBlackoutsByThePlatformClock() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            app.clock = .fixed(Self.noon)
            let asked = NIOLockedValueBox<[String]>([])
            app.upstream = UpstreamClient { request, _ in
                asked.withLockedValue { $0.append(request.url) }
                if request.url.hasPrefix("http://primary.invalid") { return HTTPClientResponse(status: .serviceUnavailable) }
                let answer = #"{"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "A list holds items."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1000, "completion_tokens": 2000, "total_tokens": 3000}}"#
                return HTTPClientResponse(status: .ok, headers: ["content-type": "application/json"], body: .bytes(ByteBuffer(string: answer)))
            }
            let admin = try await app.bearer("admin@demo.test")
            #expect(try await Self.post(app, "api/v1/ai/providers", #"{"name": "primary", "baseURL": "http://primary.invalid/v1"}"#, admin).status == .created)
            #expect(try await Self.post(app, "api/v1/ai/providers", #"{"name": "backup", "baseURL": "http://backup.invalid/v1"}"#, admin).status == .created)
            let model = try await Self.post(app, "api/v1/ai/models", #"{"name": "unit-tutor", "provider": "primary", "fallbackProvider": "backup", "inputPrice": "0.5", "outputPrice": "1.5"}"#, admin)
            #expect(model.status == .created, "\(model.body.string)")
            let course = try await app.course("CS101"), courseID = try course.requireID()
            let student = try await app.bearer("student1@demo.test")
            let token = try #require(try await Self.post(app, "api/v1/courses/\(courseID)/ai/keys", #"{"name": "unit"}"#, student).content.decode(AIKeyDTO.self).token)
            func chat() async throws -> TestingHTTPResponse {
                let response = try await Self.post(app, "v1/chat/completions", #"{"model": "unit-tutor", "messages": [{"role": "user", "content": "what is a list"}]}"#,
                                                   ["authorization": "Bearer \(token)"])
                await app.drainGateway()
                return response
            }

            let answered = try await chat()
            #expect(answered.status == .ok, "\(answered.body.string)")
            #expect(answered.body.string.contains("A list holds items."))
            #expect(asked.withLockedValue { $0 } == ["http://primary.invalid/v1/chat/completions", "http://backup.invalid/v1/chat/completions"])
            let usage = try #require(try await AIUsage.query(on: app.db).filter(\.$model == "unit-tutor").first())
            #expect(usage.promptTokens == 1000 && usage.completionTokens == 2000)
            #expect(usage.credits == 1000 / 2 + 2000 * 3 / 2)  // 0.5 and 1.5 micro-credits a token
            #expect(usage.createdAt == Self.noon)

            // An exam from 11:59 to 12:01 by the platform's clock: refused at noon with the instructor's message.
            let instructor = try await app.bearer("instructor@demo.test")
            let time = ISO8601DateFormatter()
            let policy = #"{"blackouts": [{"start": "\#(time.string(from: Self.noon - 60))", "end": "\#(time.string(from: Self.noon + 60))", "message": "Midterm in progress."}]}"#
            var headers = instructor
            headers.contentType = .json
            #expect(try await app.testing().sendRequest(.PUT, "api/v1/courses/\(courseID)/ai/policy", headers: headers, body: ByteBuffer(string: policy)).status == .ok)
            let paused = try await chat()
            #expect(paused.status == .forbidden && paused.body.string.contains("Midterm in progress."))
            // Two minutes later by the same clock the exam is over; the real time never mattered.
            app.clock = .fixed(Self.noon + 120)
            #expect(try await chat().status == .ok)
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    /// A research job through the queue and its handler with the sandbox a stand-in: it is started and finished at the
    /// platform's time, keeps the stand-in's output file, and is charged what the stand-in reported.
    @Test func aResearchJobRunsWithAStandInSandboxAtThePlatformsTime() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            app.clock = .fixed(Self.noon)
            app.sandbox = SandboxService(sandbox: app.sandbox.sandbox, metrics: nil) { job, _ in
                #expect(job.command == ["/bin/sh", "-c", "python3 fold.py"])
                return SandboxResult(status: .ok, exitCode: 0, signal: nil, cpuMs: 1500, wallMs: 2000, maxRssKb: 1000, stdout: "folded\n", stderr: "",
                                     truncated: false, outputFiles: [SandboxOutputFile(path: "result.txt", size: 2, contents: Data("42".utf8))],
                                     skippedOutputs: [])
            }
            let response = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "fold", "command": "python3 fold.py", "wallSeconds": "30"],
                                                             files: ["fold.py": Data("print('folded')\n".utf8)])
            #expect(response.status == .created, "\(response.body.string)")
            let queued = try response.content.decode(ResearchJobDTO.self)
            #expect(queued.createdAt == Self.noon)
            try await app.drainGradingQueue()
            let done = try await ResearchJobTests.job(app, queued.id)
            #expect(done.status == "succeeded" && done.outputs.map(\.path) == ["result.txt"])
            #expect(done.startedAt == Self.noon && done.finishedAt == Self.noon)
            #expect(done.cpuMs == 1500 && done.wallMs == 2000)
            let prices = try await Prices.list(on: app.db)
            #expect(done.charged == (try prices.cost(of: [.sandboxCPUSecond: 1500, .sandboxWallSecond: 2000], at: Self.noon)))
            try await LedgerStoreTests.expectConserved(app)
        }
    }
}
