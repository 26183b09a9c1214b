// The AI gateway end to end over real HTTP: the platform listening on a port, the built-in fake upstream as the
// provider, AsyncHTTPClient as the client. Credits, policy, failover, a client leaving mid-stream, concurrency
// against one allowance, and secrecy of keys and provider secrets.
import AsyncHTTPClient
import Fluent
import Foundation
import Gateway
import Ledger
import NIOCore
import NIOHTTP1
import SQLKit
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct AIGatewayTests {
    struct Rig {
        var app: Application
        var base: String
        var token: String
        var course: Course
        var log: FakeUpstreamLog
        var upstreams: [Application]
    }

    static let secretEnv = "CAMPUSCLOUD_AI_TEST_PARTNER_KEY"
    static let secret = "partner-secret-\(UUID().uuidString)"

    /// The platform on a port, a fake upstream as provider "partner" (needing its secret) and model "campuscloud-tutor"
    /// (priced by the demo: 0.5 / 1.5 credits per million tokens), and a CS101 key of student 1.
    static func withGateway(upstream options: FakeUpstreamOptions = .init(), fallback: FakeUpstreamOptions? = nil,
                            database: DatabaseURL? = nil, adjust: (inout AppConfig) -> Void = { _ in },
                            _ body: (Rig) async throws -> Void) async throws {
        setenv(secretEnv, secret, 1)
        try await withTestApp(database: database, adjust: adjust) { app in
            try await app.loadDemoData(credits: true)
            let log = FakeUpstreamLog()
            var primary = options
            primary.requiredAuthorization = "Bearer \(secret)"
            let (fake, port) = try await FakeUpstream.start(options: primary, log: log)
            var upstreams = [fake]
            let admin = try await app.bearer("admin@demo.test")
            func post(_ path: String, _ json: [String: String], _ headers: HTTPHeaders) async throws -> TestingHTTPResponse {
                try await app.testing().sendRequest(.POST, path, headers: headers) { try $0.content.encode(json, as: .json) }
            }
            #expect(try await post("api/v1/ai/providers", ["name": "partner", "baseURL": "http://127.0.0.1:\(port)/v1/", "secretEnv": secretEnv], admin).status == .created)
            var model = ["name": "campuscloud-tutor", "provider": "partner", "upstreamName": "partner-large", "inputPrice": "0.5", "outputPrice": "1.5"]
            if let fallback {
                let (second, secondPort) = try await FakeUpstream.start(options: fallback, log: FakeUpstreamLog())
                upstreams.append(second)
                #expect(try await post("api/v1/ai/providers", ["name": "campus-vllm", "baseURL": "http://127.0.0.1:\(secondPort)/v1"], admin).status == .created)
                model["fallbackProvider"] = "campus-vllm"
            }
            // The demo already prices campuscloud-tutor; a model of another name gets its prices from here.
            try await LedgerPrice.query(on: app.db).filter(\.$meter ~~ [Meter.modelInput("campuscloud-tutor").name, Meter.modelOutput("campuscloud-tutor").name]).delete()
            let added = try await post("api/v1/ai/models", model, admin)
            #expect(added.status == .created, "\(added.body.string)")
            let course = try await app.course("CS101")
            let created = try await post("api/v1/courses/\(try course.requireID())/ai/keys", ["name": "laptop"], try await app.bearer("student1@demo.test"))
            #expect(created.status == .created, "\(created.body.string)")
            let token = try #require(try created.content.decode(AIKeyDTO.self).token)
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let base = "http://127.0.0.1:\(app.http.server.shared.localAddress!.port!)"
            do {
                try await body(Rig(app: app, base: base, token: token, course: course, log: log, upstreams: upstreams))
            } catch {
                await app.server.shutdown()
                for upstream in upstreams { await FakeUpstream.stop(upstream) }
                throw error
            }
            await app.server.shutdown()
            for upstream in upstreams { await FakeUpstream.stop(upstream) }
        }
    }

    static func call(_ rig: Rig, _ body: [String: Any], path: String = "/v1/chat/completions", token: String? = nil, drain: Bool = true,
                     contentType: String? = "application/json") async throws -> (HTTPResponseStatus, Data) {
        var request = HTTPClientRequest(url: rig.base + path)
        request.method = .POST
        if let contentType { request.headers.add(name: "content-type", value: contentType) }
        request.headers.add(name: "authorization", value: "Bearer \(token ?? rig.token)")
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var collected = try await response.body.collect(upTo: 1 << 22)
        if drain { await rig.app.drainGateway() }  // usage rows are written, and credit leases closed, after the answer goes out
        return (response.status, collected.readData(length: collected.readableBytes) ?? Data())
    }

    static func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }
    static func message(_ data: Data) -> String { ((json(data)["error"] as? [String: Any])?["message"] as? String) ?? "" }

    static func held(_ app: Application, _ course: Course, _ email: String) async throws -> (held: Int64, spent: Int64, balance: Int64) {
        let user = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
        let account = try await app.ledger.allowance(of: user, in: .course(course))
        return (account.held, account.spent, account.balance)
    }

    @Test func aBodyOfAnotherContentTypeIsRefusedAndJSONWithParametersOrNoneIsRead() async throws {
        try await Self.withGateway { rig in
            let chat: [String: Any] = ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "hi"]]]
            for refused in ["text/plain", "application/x-www-form-urlencoded", "application/jsonp", "multipart/form-data; boundary=x"] {
                let (status, data) = try await Self.call(rig, chat, contentType: refused)
                #expect(status == .badRequest && Self.message(data).contains("application/json"), "\(refused): \(Self.message(data))")
            }
            for read in [nil, "application/json", "Application/JSON; charset=utf-8", " application/json ;charset=UTF-8"] {
                let (status, data) = try await Self.call(rig, chat, contentType: read)
                #expect(status == .ok, "\(read ?? "none"): \(String(decoding: data, as: UTF8.self))")
            }
        }
    }

    /// The model routes collect the body themselves (on the request's event loop): one over 4 MB is refused whole,
    /// in the API's words, and nothing reaches the upstream or the books; one of 200 KB is forwarded as sent.
    @Test func aBodyOverTheLimitIsRefusedAndNothingIsForwarded() async throws {
        try await Self.withGateway { rig in
            let huge: [String: Any] = ["model": "campuscloud-tutor", "messages": [["role": "user", "content": String(repeating: "x", count: 5 << 20)]]]
            let (status, data) = try await Self.call(rig, huge)
            #expect(status == .payloadTooLarge)
            #expect(Self.json(data)["error"] != nil, "an error body: \(String(decoding: data.prefix(200), as: UTF8.self))")
            let usage = try await AIUsage.query(on: rig.app.db).count()
            #expect(rig.log.requests == 0 && usage == 0)
            let (after, _) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "hi"]]])
            #expect(after == .ok && rig.log.requests == 1)
            // A large body within the limit is handled off the event loop (`OnEventLoopResponder.smallBody`), as any.
            let large: [String: Any] = ["model": "campuscloud-tutor", "messages": [["role": "user", "content": String(repeating: "y", count: 200_000)]]]
            let (status200, answer) = try await Self.call(rig, large)
            #expect(status200 == .ok && rig.log.requests == 2 && (rig.log.lastBody["messages"] as? [[String: Any]])?.last?["content"] as? String == String(repeating: "y", count: 200_000),
                    "\(String(decoding: answer.prefix(200), as: UTF8.self))")
        }
    }

    @Test func aChatIsForwardedAndChargedByItsUsage() async throws {
        try await Self.withGateway { rig in
            let before = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let (status, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "what is a list"]], "max_tokens": 50])
            #expect(status == .ok, "\(String(decoding: data, as: UTF8.self))")
            let reply = Self.json(data)
            let choice = try #require((reply["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "Echo: what is a list")
            // The upstream got its own model name, the provider's secret (never the student's key), the cap.
            #expect(rig.log.lastBody["model"] as? String == "partner-large")
            #expect(rig.log.lastAuthorization == "Bearer \(Self.secret)")
            #expect(rig.log.lastBody["max_tokens"] as? Int == 50)
            // Charged exactly by usage: prompt 4 words + 3 = 7 tokens at 0.5/M, 5 completion tokens at 1.5/M.
            let usage = try #require(try await AIUsage.query(on: rig.app.db).first())
            #expect(usage.promptTokens == 7 && usage.completionTokens == 5 && usage.outcome == "ok")
            #expect(usage.credits == 4 + 8)  // ceil(7 × 0.5) + ceil(5 × 1.5) micro-credits
            #expect(usage.prompt == nil)  // the default policy keeps numbers, not content
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            #expect(after.held == 0)
            #expect(after.spent - before.spent == usage.credits)
            // Models: only what this key may use; embeddings refused for a chat model with a sentence.
            var list = HTTPClientRequest(url: rig.base + "/v1/models")
            list.headers.add(name: "authorization", value: "Bearer \(rig.token)")
            let models = try await HTTPClient.shared.execute(list, timeout: .seconds(10))
            var body = try await models.body.collect(upTo: 1 << 20)
            #expect((Self.json(body.readData(length: body.readableBytes)!)["data"] as? [[String: Any]])?.map { $0["id"] as? String } == ["campuscloud-tutor"])
            let (wrongKind, wrongData) = try await Self.call(rig, ["model": "campuscloud-tutor", "input": "x"], path: "/v1/embeddings")
            #expect(wrongKind == .badRequest && Self.message(wrongData).contains("chat model"))
        }
    }

    /// Leases that retire only by running out, and the demo's 20 requests a minute lifted.
    static func unlimitedLeasesForOneStudent(_ rig: Rig) async throws {
        rig.app.creditLeases = CreditLeases(app: rig.app, retireAfter: 300)
        var instructor = try await rig.app.bearer("instructor@demo.test")
        instructor.contentType = .json
        let unlimited = try await rig.app.testing().sendRequest(.PUT, "api/v1/courses/\(try rig.course.requireID())/ai/policy", headers: instructor,
                                                                body: ByteBuffer(string: #"{"requestsPerMinute": null}"#))
        #expect(unlimited.status == .ok)
    }

    /// The same small chat request, 10 at a time, until the ledger has `count` lease holds (oldest first); and how many were sent.
    static func chatUntilLeases(_ rig: Rig, _ count: Int) async throws -> ([LedgerHold], Int) {
        var leases: [LedgerHold] = [], sent = 0
        while leases.count < count && sent < 5_000 {
            for _ in 0..<10 {
                let (status, data) = try await call(rig, ["model": "campuscloud-tutor", "max_tokens": 20, "messages": [["role": "user", "content": "q"]]], drain: false)
                #expect(status == .ok, "\(String(decoding: data, as: UTF8.self))")
            }
            sent += 10
            leases = try await LedgerHold.query(on: rig.app.db).filter(\.$idempotencyKey =~ "ai-lease:").sort(\.$createdAt).all()
        }
        return (leases, sent)
    }

    @Test func aPersonWhoseLeasesRunOutGetsLargerOnesAndIsChargedTheSame() async throws {
        try await Self.withGateway { rig in
            // Leases retire only by running out here: the first holds 20 requests' worth (at their most), the next two
            // twice and four times as much (a busy script costs a ledger write per many requests).
            try await Self.unlimitedLeasesForOneStudent(rig)
            let before = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let (leases, sent) = try await Self.chatUntilLeases(rig, 3)
            let amounts = leases.map(\.amount)
            #expect(amounts.count == 3 && amounts[1] == 2 * amounts[0] && amounts[2] == 4 * amounts[0], "\(amounts) after \(sent) requests")
            await rig.app.creditLeases.retireAll()
            await rig.app.drainGateway()
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let charged = try await AIUsage.query(on: rig.app.db).all().reduce(Int64(0)) { $0 + $1.credits }
            #expect(try await AIUsage.query(on: rig.app.db).count() == sent)
            #expect(after.held == before.held && after.spent - before.spent == charged && charged > 0)
            try await LedgerStoreTests.expectConserved(rig.app)
        }
    }

    @Test func aGrownLeaseHoldsAtMostAQuarterOfWhatIsFree() async throws {
        try await Self.withGateway { rig in
            try await Self.unlimitedLeasesForOneStudent(rig)
            // A small allowance: 0.01 credits free beyond what the demo already used.
            let student = try #require(try await User.query(on: rig.app.db).filter(\.$email == "student1@demo.test").first())
            let before = try await Self.held(rig.app, rig.course, "student1@demo.test")
            _ = try await rig.app.ledger.setAllowance(of: student, in: .course(rig.course), to: Credits(micro: before.spent + before.held + 10_000), actor: nil)
            #expect(try await Self.held(rig.app, rig.course, "student1@demo.test").balance == 10_000)
            let (leases, sent) = try await Self.chatUntilLeases(rig, 4)
            let request = try #require(leases.first).amount / CreditLeases.requestsPerLease
            // The leases grew (the second twice the first), and beyond the first twenty requests' worth none held more
            // than a quarter of the 0.01 credits (unbounded, the third would hold 80 requests' worth). How much less
            // depends on when the allowance's free credits were last read (they are cached for seconds).
            let amounts = leases.map(\.amount)
            #expect(amounts.count >= 3 && amounts[1] == 2 * amounts[0] && amounts.allSatisfy { $0 <= max(CreditLeases.requestsPerLease * request, 10_000 / 4) },
                    "\(amounts)")
            await rig.app.creditLeases.retireAll()
            await rig.app.drainGateway()
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let charged = try await AIUsage.query(on: rig.app.db).all().reduce(Int64(0)) { $0 + $1.credits }
            #expect(after.held == before.held && after.spent - before.spent == charged && after.balance == 10_000 - charged, "\(after), charged \(charged)")
            try await LedgerStoreTests.expectConserved(rig.app)
        }
    }

    @Test func requestsDrawOnOneLeaseAndItsHoldIsSettledWithTheirSum() async throws {
        try await Self.withGateway { rig in
            // One lease for the ten however slowly they run (on a loaded machine ten requests can outlast the 2 s after
            // which a lease retires, and the eleventh draw would rightly open another).
            rig.app.creditLeases = CreditLeases(app: rig.app, retireAfter: 300)
            let before = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let holdsBefore = try await LedgerHold.query(on: rig.app.db).count()
            for index in 0..<10 {
                let (status, _) = try await Self.call(rig, ["model": "campuscloud-tutor", "max_tokens": 20, "messages": [["role": "user", "content": "q \(index)"]]], drain: false)
                #expect(status == .ok)
            }
            // One hold in the ledger for the ten (20 requests' worth), open while the lease lives.
            #expect(try await LedgerHold.query(on: rig.app.db).count() == holdsBefore + 1)
            #expect(try await Self.held(rig.app, rig.course, "student1@demo.test").held > 0)
            await rig.app.drainGateway()
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let charged = try await AIUsage.query(on: rig.app.db).all().reduce(Int64(0)) { $0 + $1.credits }
            #expect(try await AIUsage.query(on: rig.app.db).count() == 10)
            #expect(after.held == 0 && after.spent - before.spent == charged && charged > 0)
            #expect(after.balance == before.balance - charged)
            // /metrics counts the ten requests (rows and counters are written in batches), their tokens and credits.
            let metrics = rig.app.platformMetrics.exposition()
            #expect(metrics.contains(#"campuscloud_ai_requests_total{model="campuscloud-tutor",outcome="ok"} 10"#), "\(metrics)")
            let tokens = try await AIUsage.query(on: rig.app.db).all().reduce(0) { $0 + $1.completionTokens }
            #expect(metrics.contains(#"campuscloud_ai_tokens_total{model="campuscloud-tutor",kind="completion"} \#(tokens)"#))
            #expect(metrics.contains(#"campuscloud_ai_credits_microcredits_total{model="campuscloud-tutor"} \#(charged)"#))
        }
    }

    @Test func aStudentCannotCloseTheirAILeaseAndAnExpiredLeaseIsStillCharged() async throws {
        try await Self.withGateway { rig in
            // The lease stays open while the attack runs (on a loaded machine it would otherwise retire within 2 s).
            rig.app.creditLeases = CreditLeases(app: rig.app, retireAfter: 300)
            let before = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let (status, _) = try await Self.call(rig, ["model": "campuscloud-tutor", "max_tokens": 20, "messages": [["role": "user", "content": "free?"]]], drain: false)
            #expect(status == .ok)
            let student = try #require(try await User.query(on: rig.app.db).filter(\.$email == "student1@demo.test").first())
            let allowance = try await rig.app.ledger.allowance(of: student, in: .course(rig.course))
            let lease = try #require(try await LedgerHold.query(on: rig.app.db).filter(\.$account.$id == allowance.requireID()).filter(\.$status == .open).first())
            #expect(lease.origin == .platform)
            // The student (and an admin) try to void or zero-settle the lease's hold: 404, it stays open.
            try await PlatformHoldsTests.attack(rig.app, hold: try lease.requireID(), as: ["student1@demo.test", "admin@demo.test"])
            // The lease's hold expires before the lease closes (the sweep voids it): the use is charged all the same.
            try await LedgerHold.query(on: rig.app.db).filter(\.$id == lease.requireID()).set(\.$expiresAt, to: Date().addingTimeInterval(-1)).update()
            #expect(try await rig.app.ledger.expire().holds == 1)
            await rig.app.drainGateway()
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let charged = try await AIUsage.query(on: rig.app.db).all().reduce(Int64(0)) { $0 + $1.credits }
            #expect(charged > 0 && after.held == 0 && after.spent - before.spent == charged && after.balance == before.balance - charged)
            #expect(try await LedgerEntry.query(on: rig.app.db).filter(\.$holdID == lease.requireID()).filter(\.$kind == .charge).count() == 1)
        }
    }

    @Test func usageBeyondTheCapIsChargedNotFree() async throws {
        try await Self.withGateway(upstream: FakeUpstreamOptions(overrun: 5000)) { rig in
            let before = try await Self.held(rig.app, rig.course, "student1@demo.test")
            let (status, _) = try await Self.call(rig, ["model": "campuscloud-tutor", "max_tokens": 1, "messages": [["role": "user", "content": "hi"]]])
            #expect(status == .ok)
            let usage = try #require(try await AIUsage.query(on: rig.app.db).first())
            #expect(usage.completionTokens == 5001)
            // 5001 completion tokens at 1.5/M and 4 prompt tokens at 0.5/M: far beyond the one token's draw.
            #expect(usage.credits == 7502 + 2)
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            #expect(after.held == 0 && after.spent - before.spent == usage.credits)
        }
    }

    @Test func aProvidersRefusalIsAnsweredInTheGatewaysWordsAndRedirectsAreNotFollowed() async throws {
        try await Self.withGateway(upstream: FakeUpstreamOptions(failStatus: 400)) { rig in
            let (status, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "x"]]])
            #expect(status == .badRequest && Self.message(data).contains("refused this request"))
            #expect(!String(decoding: data, as: UTF8.self).contains("gpu-7.internal"))
            #expect(try await Self.held(rig.app, rig.course, "student1@demo.test").held == 0)
        }
        // A provider answering with a redirect (to a second server that would happily answer): not followed, 502.
        let elsewhere = FakeUpstreamLog()
        let (target, targetPort) = try await FakeUpstream.start(log: elsewhere)
        try await Self.withGateway(upstream: FakeUpstreamOptions(redirectTo: "http://127.0.0.1:\(targetPort)/v1/chat/completions")) { rig in
            let (status, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "x"]]])
            #expect(status == .badGateway && Self.message(data).contains("answered 307"), "\(String(decoding: data, as: UTF8.self))")
            #expect(elsewhere.requests == 0)
        }
        await FakeUpstream.stop(target)
    }

    @Test func aStreamingClientThatStopsReadingIsCutAndCharged() async throws {
        try await Self.withGateway(upstream: FakeUpstreamOptions(overrun: 100_000), adjust: { $0.aiWriteTimeout = 1 }) { rig in
            #expect(rig.app.platformConfig.aiWriteTimeout == 1)
            let before = try await Self.held(rig.app, rig.course, "student1@demo.test")
            // A raw client: sends the request, then never reads a byte of the (many megabytes of) stream.
            let port = rig.app.http.server.shared.localAddress!.port!
            let body = #"{"model": "campuscloud-tutor", "stream": true, "max_tokens": 10, "messages": [{"role": "user", "content": "go"}]}"#
            let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(rig.token)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let socket = try StalledClient(port: port, request: request)
            defer { socket.close() }
            // The gateway gives up on the client after its timeout and records what was generated by then.
            var row: AIUsage?
            for _ in 0..<600 where row == nil {
                try await Task.sleep(for: .milliseconds(100))
                await rig.app.drainGateway()
                row = try await AIUsage.query(on: rig.app.db).first()
            }
            let usage = try #require(row)
            #expect(usage.outcome == "client_stalled" && usage.completionTokens > 0 && usage.credits > 0)
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            #expect(after.held == 0 && after.spent - before.spent == usage.credits)
        }
    }

    @Test func aStreamPassesThroughAndIsChargedFromTheUpstreamsUsage() async throws {
        try await Self.withGateway { rig in
            let (status, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "stream": true,
                                                          "messages": [["role": "user", "content": "one two three"]]])
            #expect(status == .ok)
            let text = String(decoding: data, as: UTF8.self)
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            let words = text.split(separator: "\n").filter { $0.hasPrefix("data: {") }.compactMap {
                (((Self.json(Data($0.dropFirst(6).utf8))["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String)
            }.joined()
            #expect(words == "Echo: one two three")
            // The gateway asked for usage in the stream, and charged it.
            #expect((rig.log.lastBody["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
            let usage = try #require(try await AIUsage.query(on: rig.app.db).first())
            #expect(usage.streamed && usage.promptTokens == 6 && usage.completionTokens == 4 && usage.credits == 3 + 6)
            #expect(try await Self.held(rig.app, rig.course, "student1@demo.test").held == 0)
        }
    }

    @Test func theCoursePolicyIsEnforced() async throws {
        try await Self.withGateway { rig in
            let instructor = try await rig.app.bearer("instructor@demo.test")
            func policy(_ json: String) async throws -> TestingHTTPResponse {
                var headers = instructor
                headers.contentType = .json
                return try await rig.app.testing().sendRequest(.PUT, "api/v1/courses/\(try rig.course.requireID())/ai/policy", headers: headers, body: ByteBuffer(string: json))
            }
            // Bad policies are refused with every problem; a student may not set one.
            let bad = try await policy(#"{"maxTokensPerRequest": 0, "allowedModels": ["gpt-9"]}"#)
            #expect(bad.status == .unprocessableEntity && bad.body.string.contains("maxTokensPerRequest"))
            // A well-formed policy naming a model the platform does not offer clashes with the catalogue (409).
            let unoffered = try await policy(#"{"allowedModels": ["gpt-9"]}"#)
            #expect(unoffered.status == .conflict && unoffered.body.string.contains("gpt-9"))
            var student = try await rig.app.bearer("student2@demo.test")
            student.contentType = .json
            #expect(try await rig.app.testing().sendRequest(.PUT, "api/v1/courses/\(try rig.course.requireID())/ai/policy", headers: student,
                                                             body: ByteBuffer(string: "{}")).status == .notFound)
            // A tutoring persona, a token cap and two requests a minute.
            #expect(try await policy(#"{"maxTokensPerRequest": 3, "requestsPerMinute": 2, "systemPrompt": "You are a patient tutor.", "logPrompts": true}"#).status == .ok)
            let (status, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "a b c d e f"]], "max_tokens": 500])
            #expect(status == .ok)
            #expect(rig.log.lastBody["max_tokens"] as? Int == 3)
            #expect(((rig.log.lastBody["messages"] as? [[String: Any]])?.first?["content"] as? String) == "You are a patient tutor.")
            #expect((((Self.json(data)["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String) == "Echo: a b")
            let kept = try #require(try await AIUsage.query(on: rig.app.db).first())
            #expect(kept.prompt?.contains("a b c d e f") == true)  // kept, as the course asked, until its retention ends
            kept.promptExpiresAt = Date().addingTimeInterval(-1)
            try await kept.save(on: rig.app.db)
            try await JobWorker.sweep(rig.app)
            #expect(try await AIUsage.find(kept.requireID(), on: rig.app.db)?.prompt == nil)
            _ = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "again"]]])
            let (limited, limitedData) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "third"]]])
            #expect(limited == .tooManyRequests)
            #expect(Self.message(limitedData).contains("2 AI requests a minute"))
            // null removes the limit (leaving the field out keeps it).
            #expect(try await policy(#"{"systemPrompt": "You are a patient tutor."}"#).status == .ok)
            #expect(try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "fourth"]]]).0 == .tooManyRequests)
            let cleared = try await policy(#"{"requestsPerMinute": null}"#)
            #expect(cleared.status == .ok && (Self.json(Data(buffer: cleared.body))["requestsPerMinute"] == nil || Self.json(Data(buffer: cleared.body))["requestsPerMinute"] is NSNull))
            #expect(try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "fifth"]]]).0 == .ok)
            // More than one answer per request only when the policy allows it.
            let (many, manyData) = try await Self.call(rig, ["model": "campuscloud-tutor", "n": 4, "messages": [["role": "user", "content": "x"]]])
            #expect(many == .forbidden && Self.message(manyData).contains("'n' = 4"))
            #expect(try await policy(#"{"maxChoices": 4}"#).status == .ok)
            let (fourAnswers, fourData) = try await Self.call(rig, ["model": "campuscloud-tutor", "n": 4, "max_tokens": 5, "messages": [["role": "user", "content": "x"]]])
            #expect(fourAnswers == .ok, "\(String(decoding: fourData, as: UTF8.self))")
            #expect(try await policy(#"{"maxChoices": 99}"#).status == .unprocessableEntity)
            // A stored policy that cannot be read refuses the course's requests, naming the course, rather than run on defaults.
            try await AIPolicyRecord.query(on: rig.app.db).set(\.$policy, to: "{\"maxTokensPerRequest\": \"lots\"").update()
            rig.app.gatewayCache.forgetAll()
            let (unreadable, unreadableData) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "x"]]])
            #expect(unreadable == .forbidden && Self.message(unreadableData).contains("CS101") && Self.message(unreadableData).contains("could not be read"))
            // An exam: the course's keys are refused with the instructor's message.
            let start = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-60)), end = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
            #expect(try await policy(#"{"requestsPerMinute": 0, "blackouts": [{"start": "\#(start)", "end": "\#(end)", "message": "Midterm in progress."}]}"#).status == .ok)
            let (paused, pausedData) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "help"]]])
            #expect(paused == .forbidden)
            #expect(Self.message(pausedData).contains("Midterm in progress."))
            // Only the allowed models.
            #expect(try await policy(#"{"blackouts": [], "allowedModels": []}"#).status == .ok)
            let (unknown, _) = try await Self.call(rig, ["model": "gpt-9", "messages": [["role": "user", "content": "x"]]])
            #expect(unknown == .notFound)
            // Fields that would choose the upstream are refused.
            let (steer, steerData) = try await Self.call(rig, ["model": "campuscloud-tutor", "api_base": "http://169.254.169.254/", "messages": [["role": "user", "content": "x"]]])
            #expect(steer == .badRequest && Self.message(steerData).contains("api_base"))
        }
    }

    /// Two gateway processes on one database (two applications, each with its own memory, pool and server): a limit
    /// of 5 a minute holds for a student whose requests alternate between them. Counted per process, 10 got through.
    @Test func requestsPerMinuteHoldAcrossProcesses() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cc-rate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Both clocks put forward (prices start now) to 20 s into a minute, so the twelve requests fall in one minute.
        let second = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
        let clock = PlatformClock { Date().addingTimeInterval(80 - second) }
        try await Self.withGateway(database: TestDatabase.isPostgres ? nil : .sqliteFile(path: folder + "/shared.sqlite")) { rig in
            rig.app.clock = clock
            var instructor = try await rig.app.bearer("instructor@demo.test")
            instructor.contentType = .json
            let set = try await rig.app.testing().sendRequest(.PUT, "api/v1/courses/\(try rig.course.requireID())/ai/policy", headers: instructor,
                                                              body: ByteBuffer(string: #"{"requestsPerMinute": 5}"#))
            #expect(set.status == .ok)
            try await withTestApp(migrate: false, database: rig.app.platformConfig.database) { other in
                other.clock = clock
                try await other.server.start(address: .hostname("127.0.0.1", port: 0))
                var elsewhere = rig
                elsewhere.base = "http://127.0.0.1:\(other.http.server.shared.localAddress!.port!)"
                var statuses: [UInt] = []
                for index in 0..<12 {
                    let (status, _) = try await Self.call(index.isMultiple(of: 2) ? rig : elsewhere,
                                                          ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "hi \(index)"]]], drain: false)
                    statuses.append(status.code)
                }
                #expect(statuses.filter { $0 == 200 } == [200, 200, 200, 200, 200], "\(statuses)")
                #expect(statuses.filter { $0 == 429 }.count == 7, "\(statuses)")
                #expect(Array(statuses.prefix(5)) == [200, 200, 200, 200, 200], "\(statuses)")
                // The refusal says when to come back, in the header OpenAI's clients read.
                var request = HTTPClientRequest(url: elsewhere.base + "/v1/chat/completions")
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.headers.add(name: "authorization", value: "Bearer \(rig.token)")
                request.body = .bytes(ByteBuffer(string: #"{"model": "campuscloud-tutor", "messages": [{"role": "user", "content": "again"}]}"#))
                let refused = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                _ = try await refused.body.collect(upTo: 1 << 20)
                let wait = Int(refused.headers.first(name: "retry-after") ?? "")
                #expect(refused.status == .tooManyRequests && wait != nil && (1...60).contains(wait ?? 0), "\(refused.headers)")
                await other.drainGateway()
                await other.server.shutdown()
            }
            // What one process holds and does not use goes back when idle, for the other to grant.
            let now = clock.now(), key = "someone/course:\(UUID())"
            let first = rig.app.ratePermits, fresh = RatePermits(app: rig.app)
            #expect(try await first.admit(key, limit: 5, now: now) == .admitted)  // leases 2, uses 1
            var admitted = 0
            while try await fresh.admit(key, limit: 5, now: now) == .admitted { admitted += 1 }
            #expect(admitted == 3)
            await first.returnUnused(now: now.addingTimeInterval(RatePermits.returnAfter))
            #expect(try await fresh.admit(key, limit: 5, now: now.addingTimeInterval(RatePermits.refusalMemory)) == .admitted)
            #expect(try await fresh.admit(key, limit: 5, now: now.addingTimeInterval(RatePermits.refusalMemory)) != .admitted)
            // The next minute starts afresh; the sweep removes ended minutes.
            #expect(try await fresh.admit(key, limit: 5, now: now.addingTimeInterval(60)) == .admitted)
            await fresh.returnAll()
            rig.app.clock = PlatformClock { now.addingTimeInterval(180) }
            try await RatePermits.sweep(rig.app)
            let rows = try await (rig.app.db as! any SQLDatabase).raw("SELECT count(*) AS n FROM ai_rate_permits").first()?.decode(column: "n", as: Int.self)
            #expect(rows == 0)
        }
    }

    /// The same with two `campuscloud serve` processes on one database: 12 requests alternating between them at a
    /// limit of 5 a minute admit 5.
    @Test func requestsPerMinuteHoldAcrossTwoServeProcesses() async throws {
        let folder = try CLITests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await Self.withGateway(database: TestDatabase.isPostgres ? nil : .sqliteFile(path: folder.path + "/shared.sqlite")) { rig in
            var instructor = try await rig.app.bearer("instructor@demo.test")
            instructor.contentType = .json
            let set = try await rig.app.testing().sendRequest(.PUT, "api/v1/courses/\(try rig.course.requireID())/ai/policy", headers: instructor,
                                                              body: ByteBuffer(string: #"{"requestsPerMinute": 5}"#))
            #expect(set.status == .ok)
            let raw = switch rig.app.platformConfig.database {
            case .postgres(let text, _, _, _): text
            default: "sqlite://" + folder.path + "/shared.sqlite"
            }
            var servers: [(Process, String)] = []
            defer { for (server, _) in servers where server.isRunning { server.terminate(); server.waitUntilExit() } }
            for index in 0..<2 {
                let port = try LabOriginTests.freePort()
                let server = try LedgerCrashTests.start(["serve", "--hostname", "127.0.0.1", "--port", "\(port)"], environment: [
                    "DATABASE_URL": raw, "CAMPUSCLOUD_DATA_DIR": folder.path + "/data\(index)", "LOG_LEVEL": "error",
                    "CAMPUSCLOUD_GRADING_WORKERS": "0", "CAMPUSCLOUD_SECRET": String(repeating: "s", count: 40)])
                servers.append((server, "http://127.0.0.1:\(port)"))
                let up = try await LedgerCrashTests.eventually(60) { (try? await CLITests.get(servers[index].1 + "/healthz"))?.0 == 200 }
                #expect(up)
            }
            // Well inside one clock minute (the processes keep real time).
            let second = Int(Date().timeIntervalSince1970) % 60
            if second > 45 { try await Task.sleep(for: .seconds(61 - second)) }
            var statuses: [UInt] = []
            for index in 0..<12 {
                var process = rig
                process.base = servers[index % 2].1
                statuses.append(try await Self.call(process, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "hi \(index)"]]],
                                                    drain: false).0.code)
            }
            #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429, 429], "\(statuses)")
        }
    }

    @Test func aFailingProviderFailsOverBeforeTheFirstByteAndErrorsKeepSecrets() async throws {
        try await Self.withGateway(upstream: FakeUpstreamOptions(failStatus: 503), fallback: FakeUpstreamOptions()) { rig in
            let (status, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "stream": true, "messages": [["role": "user", "content": "hi"]]])
            #expect(status == .ok)
            #expect(String(decoding: data, as: UTF8.self).contains("Echo:"))
            #expect(rig.log.requests == 1)  // the first provider was tried
        }
        try await Self.withGateway(upstream: FakeUpstreamOptions(failStatus: 503), fallback: FakeUpstreamOptions(failStatus: 500)) { rig in
            let (status, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "hi"]]])
            #expect(status == .badGateway)
            let error = try #require(Self.json(data)["error"] as? [String: Any])
            #expect(error["type"] as? String == "api_error")
            let text = String(decoding: data, as: UTF8.self)
            #expect(!text.contains("127.0.0.1") && !text.contains(Self.secret))
            #expect(try await Self.held(rig.app, rig.course, "student1@demo.test").held == 0)  // nothing stays held
        }
    }

    @Test func aClientThatLeavesMidStreamIsChargedForWhatWasGenerated() async throws {
        try await Self.withGateway(upstream: FakeUpstreamOptions(delayMs: 40)) { rig in
            let words = (1...60).map { "w\($0)" }.joined(separator: " ")
            var request = HTTPClientRequest(url: rig.base + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(rig.token)")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: [
                "model": "campuscloud-tutor", "stream": true, "max_tokens": 100, "messages": [["role": "user", "content": words]]])))
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let response = try await client.execute(request, timeout: .seconds(30))
            var received = 0
            for try await chunk in response.body {
                received += chunk.readableBytes
                if received > 600 { break }  // leave after a few chunks
            }
            try await client.shutdown()
            var usage: AIUsage?
            for _ in 0..<300 where usage == nil {
                try await Task.sleep(for: .milliseconds(50))
                usage = try await AIUsage.query(on: rig.app.db).first()
            }
            let row = try #require(usage)
            #expect(row.outcome == "disconnected")
            #expect(row.completionTokens > 0 && row.completionTokens < 61, "generated \(row.completionTokens)")
            #expect(row.credits > 0)
            #expect(rig.log.chunksSent < 60)  // the upstream request was dropped, not read to its end
            await rig.app.drainGateway()
            #expect(try await Self.held(rig.app, rig.course, "student1@demo.test").held == 0)
        }
    }

    @Test func concurrentRequestsNeverOvershootTheAllowance() async throws {
        try await Self.withGateway(upstream: FakeUpstreamOptions(delayMs: 20)) { rig in
            // Leave the student 0.02 credits: each request holds up to ~0.0015 (1000 tokens at 1.5/M), so only some fit.
            let user = try #require(try await User.query(on: rig.app.db).filter(\.$email == "student1@demo.test").first())
            let account = try await rig.app.ledger.allowance(of: user, in: .course(rig.course))
            let keep = Credits(micro: 2_000)
            let hold = try await rig.app.ledger.reserve(account, amount: Credits(micro: account.balance - keep.micro), reason: "test", key: "use-most")
            _ = try await rig.app.ledger.settle(hold.requireID(), actual: Credits(micro: hold.amount))
            let statuses = try await withThrowingTaskGroup(of: HTTPResponseStatus.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await Self.call(rig, ["model": "campuscloud-tutor", "max_tokens": 1000, "messages": [["role": "user", "content": "q\(index)"]]]).0
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.contains(.ok) && statuses.contains(.tooManyRequests), "\(statuses)")
            let after = try await Self.held(rig.app, rig.course, "student1@demo.test")
            #expect(after.held == 0 && after.balance >= 0)
            let charged = try await AIUsage.query(on: rig.app.db).all().reduce(Int64(0)) { $0 + $1.credits }
            #expect(charged <= keep.micro)
            let refused = try await AIUsage.query(on: rig.app.db).filter(\.$outcome == "refused").count()
            #expect(refused == statuses.filter { $0 == .tooManyRequests }.count)
        }
    }

    @Test func keysAreHashedRevocableAndOnlyForMembers() async throws {
        try await Self.withGateway { rig in
            let key = try #require(try await AIKey.query(on: rig.app.db).first())
            #expect(!rig.token.contains(key.secretHash) && key.secretHash.count == 64)
            #expect(rig.token.hasPrefix("cc_\(key.prefix)_"))
            // Providers list the variable's name, never its value; the catalogue shows no secret either.
            let providers = try await rig.app.testing().sendRequest(.GET, "api/v1/ai/providers", headers: try await rig.app.bearer("admin@demo.test"))
            #expect(providers.body.string.contains(Self.secretEnv) && !providers.body.string.contains(Self.secret))
            #expect(try await rig.app.testing().sendRequest(.GET, "api/v1/ai/providers", headers: try await rig.app.bearer("student1@demo.test")).status == .notFound)
            // A provider's secret comes only from a CAMPUSCLOUD_AI_… variable: never the platform's own settings, the
            // database's password or any other variable of the machine.
            for name in ["CAMPUSCLOUD_SECRET", "DATABASE_URL", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "CAMPUSCLOUD_AI_WRITE_TIMEOUT", "CAMPUSCLOUD_AI_"] {
                let sneaky = try await rig.app.testing().sendRequest(.POST, "api/v1/ai/providers", headers: try await rig.app.bearer("admin@demo.test")) {
                    try $0.content.encode(["name": "x", "baseURL": "http://evil.example/v1", "secretEnv": name], as: .json)
                }
                #expect(sneaky.status == .unprocessableEntity, "\(name)")
            }
            // A wrong key, another person's revocation, then the owner's: 401 in OpenAI's format.
            let (wrong, wrongData) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "x"]]], token: "cc_\(key.prefix)_nottheright")
            #expect(wrong == .unauthorized && (Self.json(wrongData)["error"] as? [String: Any])?["code"] as? String == "invalid_api_key")
            #expect(try await rig.app.testing().sendRequest(.DELETE, "api/v1/ai/keys/\(try key.requireID())", headers: try await rig.app.bearer("student2@demo.test")).status == .notFound)
            #expect(try await rig.app.testing().sendRequest(.DELETE, "api/v1/ai/keys/\(try key.requireID())", headers: try await rig.app.bearer("student1@demo.test")).status == .noContent)
            let (revoked, _) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "x"]]])
            #expect(revoked == .unauthorized)
            // Keys are per course: someone outside CS101 cannot get one.
            let outsider = try await rig.app.testing().sendRequest(.POST, "api/v1/courses/\(try rig.course.requireID())/ai/keys", headers: try await rig.app.bearer("mentor@partner.test")) {
                try $0.content.encode(["name": "x"], as: .json)
            }
            #expect(outsider.status == .notFound)
        }
    }

    @Test func theAIPageGivesKeysOnceAndInstructorsSetThePolicy() async throws {
        try await Self.withGateway { rig in
            let courseID = try rig.course.requireID()
            let student = try Browser(rig.app)
            try await student.signIn("student2@demo.test")
            #expect(try await student.get("/courses/\(courseID)/ai").body.string.contains("No keys yet."))
            let created = try await student.post("/courses/\(courseID)/ai/keys", ["name": "notebook"])
            #expect(created.status == .created)
            let page = created.body.string
            let token = try #require(page.range(of: #"cc_[a-z0-9]{12}_[A-Za-z0-9_-]{43}"#, options: .regularExpression).map { String(page[$0]) })
            // Shown once: the next visit lists the key by its prefix only.
            let again = try await student.get("/courses/\(courseID)/ai").body.string
            #expect(again.contains("notebook") && !again.contains(token))
            let (status, _) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "hi"]]], token: token)
            #expect(status == .ok)
            // Without the form's CSRF token nothing is created.
            #expect(try await student.post("/courses/\(courseID)/ai/keys", ["name": "forged"], csrf: .some(nil)).status == .forbidden)
            // The instructor sets a blackout from the form; the student's key is refused with its message.
            let instructor = try Browser(rig.app)
            try await instructor.signIn("instructor@demo.test")
            try await instructor.get("/courses/\(courseID)/ai")
            let saved = try await instructor.post("/courses/\(courseID)/ai/policy", [
                "allowedModels": "campuscloud-tutor", "maxTokensPerRequest": "100", "requestsPerMinute": "10", "systemPrompt": "",
                "promptRetentionDays": "30", "blackoutStart": AIPageController.minute(Date().addingTimeInterval(-120)),
                "blackoutEnd": AIPageController.minute(Date().addingTimeInterval(3600)), "blackoutMessage": "Quiz until 3pm."])
            #expect(saved.status == .seeOther)
            let (paused, data) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "hi"]]], token: token)
            #expect(paused == .forbidden && Self.message(data).contains("Quiz until 3pm."))
            // Staff see usage per student.
            #expect(try await instructor.get("/courses/\(courseID)/ai").body.string.contains("Student 2"))
            let bad = try await instructor.post("/courses/\(courseID)/ai/policy", ["maxTokensPerRequest": "lots", "promptRetentionDays": "30"])
            #expect(bad.status == .unprocessableEntity)
        }
    }

    @Test func adminsAddProvidersAndModelsOnTheirPage() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let admin = try Browser(app)
            try await admin.signIn("admin@demo.test")
            #expect(try await admin.get("/admin/ai").status == .ok)
            let added = try await admin.post("/admin/ai/providers", ["name": "campus-vllm", "baseURL": "http://10.0.0.5:8000/v1", "secretEnv": "CAMPUSCLOUD_AI_VLLM_KEY"])
            #expect(added.status == .seeOther)
            let secretNamed = try await admin.post("/admin/ai/providers", ["name": "bad", "baseURL": "http://x.example/v1", "secretEnv": "sk-live-123"])
            #expect(secretNamed.status == .unprocessableEntity && secretNamed.body.string.contains("NAME of an environment variable"))
            #expect(try await admin.post("/admin/ai/models", ["name": "llama-campus", "kind": "chat", "provider": "campus-vllm", "inputPrice": "0.1",
                                                               "outputPrice": "0.2", "upstreamName": "", "fallbackProvider": ""]).status == .seeOther)
            let page = try await admin.get("/admin/ai").body.string
            #expect(page.contains("campus-vllm") && page.contains("CAMPUSCLOUD_AI_VLLM_KEY") && page.contains("llama-campus"))
            let model = try #require(try await AIModel.query(on: app.db).filter(\.$name == "llama-campus").first())
            #expect(model.upstreamName == "llama-campus")
            let prices = try await Prices.list(on: app.db)
            #expect(prices.price(of: .modelOutput("llama-campus"), at: Date())?.price == Credits.parse("0.2"))
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            #expect(try await student.get("/admin/ai").status == .notFound)
        }
    }

    @Test func projectKeysArePaidFromTheMembersProjectAllowance() async throws {
        try await Self.withGateway { rig in
            let project = try #require(try await ResearchProject.query(on: rig.app.db).first())
            let created = try await rig.app.testing().sendRequest(.POST, "api/v1/projects/\(try project.requireID())/ai/keys", headers: try await rig.app.bearer("ta@demo.test")) {
                try $0.content.encode(["name": "experiments"], as: .json)
            }
            #expect(created.status == .created)
            let token = try #require(try created.content.decode(AIKeyDTO.self).token)
            let ta = try #require(try await User.query(on: rig.app.db).filter(\.$email == "ta@demo.test").first())
            let before = try await rig.app.ledger.allowance(of: ta, in: .project(project))
            let (status, _) = try await Self.call(rig, ["model": "campuscloud-tutor", "messages": [["role": "user", "content": "evaluate hints"]]], token: token)
            #expect(status == .ok)
            let after = try await rig.app.ledger.allowance(of: ta, in: .project(project))
            let usage = try #require(try await AIUsage.query(on: rig.app.db).filter(\.$project.$id == project.requireID()).first())
            #expect(usage.credits > 0 && after.spent - before.spent == usage.credits && after.held == 0)
            // Students are not members of the project: no key for them.
            let student = try await rig.app.testing().sendRequest(.POST, "api/v1/projects/\(try project.requireID())/ai/keys", headers: try await rig.app.bearer("student1@demo.test")) {
                try $0.content.encode(["name": "x"], as: .json)
            }
            #expect(student.status == .notFound)
        }
    }
}

/// A TCP client that sends one request and then reads nothing: its receive buffer fills, and the server's writes wait.
final class StalledClient: Sendable {
    let descriptor: Int32

    init(port: Int, request: String) throws {
        descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Abort(.internalServerError, reason: "could not connect: errno \(errno)") }
        let bytes = Array(request.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, 0) == bytes.count else { throw Abort(.internalServerError, reason: "could not send") }
    }

    func close() { _ = Glibc.close(descriptor) }
}
