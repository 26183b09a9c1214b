// The AI gateway's request path: key → course (or project) and its policy → model and provider → credits held
// for the most the request can cost → forwarded (failing over to the model's second provider when the first fails
// before any byte reached the client) → credits settled by the usage the upstream reports → one usage row.
// Refusals answer in OpenAI's error format with a sentence saying why and who can change it.
import Fluent
import Foundation
import Gateway
import Ledger
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import AsyncHTTPClient
import SQLKit
import Vapor

/// Who is calling: the key, its owner, the place whose allowance pays, and that place's rules.
struct GatewayCaller: Sendable {
    var key: AIKey
    var user: User
    var place: LedgerPlace
    var policy: GatewayPolicy
    var placeName: String { place.name }
}

enum AIGateway {
    static let holdLifetime: TimeInterval = 15 * 60
    static let upstreamTimeout: TimeAmount = .seconds(300)
    static let maxReplyBytes = 32 << 20

    // MARK: Who is calling

    static func caller(token: String?, app: Application) async throws -> GatewayCaller {
        let now = app.clock.now()
        if let token, let parts = TokenCodec.parse(token), let cached = app.gatewayCache.caller(prefix: parts.prefix, now: now),
           TokenCodec.matches(parts.secret, hash: cached.hash) {
            return cached.caller
        }
        let db = app.db  // only when the caller is not known yet (looking a database up costs on every request)
        guard let token, let parts = TokenCodec.parse(token),
              let key = try await AIKey.query(on: db).filter(\.$prefix == parts.prefix).with(\.$user).first(),
              TokenCodec.matches(parts.secret, hash: key.secretHash) else {
            throw GatewayError.badKey("The key is missing or not valid. Create one on your course page (AI access) and send it as Authorization: Bearer <key>.")
        }
        guard key.revokedAt == nil else { throw GatewayError.badKey("This key was revoked. Create a new one on your course page.") }
        guard key.user.isActive else { throw GatewayError.badKey("The account this key belongs to is deactivated.") }
        let place: LedgerPlace, policy: GatewayPolicy
        if let courseID = key.$course.id, let course = try await Course.find(courseID, on: db) {
            guard try await CourseMember.query(on: db).filter(\.$course.$id == courseID).filter(\.$user.$id == key.$user.id).filter(\.$leftAt == nil).first() != nil else {
                throw GatewayError.policy("You are no longer a member of \(course.code), so its keys stop working.", code: "not_a_member")
            }
            place = .course(course)
            do { policy = try await AIPolicies.policy(of: courseID, on: db) } catch is AIPolicies.Unreadable {
                throw GatewayError.policy("The AI policy of \(course.code) could not be read, so its AI requests are refused until its instructor saves the policy again.",
                                          code: "policy_unreadable")
            }
        } else if let projectID = key.$project.id, let project = try await ResearchProject.find(projectID, on: db) {
            guard try await LedgerPlace.project(project).member(key.$user.id, on: db) != nil else {
                throw GatewayError.policy("You are no longer a member of the project “\(project.title)”, so its keys stop working.", code: "not_a_member")
            }
            place = .project(project)
            policy = GatewayPolicy()
        } else {
            throw GatewayError.badKey("The course or project of this key no longer exists.")
        }
        if (key.lastUsedAt ?? .distantPast) < now.addingTimeInterval(-60) {
            key.lastUsedAt = now
            try await key.save(on: db)
        }
        let caller = GatewayCaller(key: key, user: key.user, place: place, policy: policy)
        app.gatewayCache.remember(prefix: parts.prefix, hash: key.secretHash, caller: caller, now: now)
        return caller
    }

    // MARK: Models

    /// The models this caller may use (the catalogue filtered by the policy), by name.
    static func models(for caller: GatewayCaller, on db: any Database) async throws -> [AIModel] {
        try await AIModel.query(on: db).sort(\.$name).all().filter { caller.policy.allows(model: $0.name) }
    }

    // MARK: One request

    /// Everything up to the upstream's answer; the caller turns the outcome into a response.
    static func handle(_ endpoint: Endpoint, body: Data, caller: GatewayCaller, app: Application,
                       started: ContinuousClock.Instant = .now) async throws -> Response {
        let request: GatewayRequest
        do { request = try GatewayRequest(endpoint: endpoint, json: body) } catch { return errorResponse(error) }
        var context = UsageContext(caller: caller, model: request.model, endpoint: endpoint, streamed: request.stream, started: started,
                                   prompt: caller.policy.logPrompts ? request.promptText : nil)
        /// What the upstream may have generated once it answered: the request's whole draw (its cap for every answer).
        var mostUsed: Usage?
        do {
            let (model, ticket, cap) = try await admit(request, caller: caller, app: app)
            context = context.with(ticket: ticket, estimate: request.estimatedPromptTokens)
            let body = request.upstreamBody(model: model.upstreamName, maxTokens: endpoint == .chat ? cap : nil,
                                            systemPrompt: endpoint == .chat ? caller.policy.systemPrompt : nil)
            let (upstream, upstreamTime) = try await forward(endpoint, body: body, model: model, app: app, context: context)
            mostUsed = Usage(promptTokens: request.estimatedPromptTokens, completionTokens: endpoint == .chat ? cap * request.choices : 0)
            guard upstream.status == .ok else {
                _ = try? await upstream.body.collect(upTo: 1 << 20)
                throw GatewayError.providerRefused(model: model.name, status: Int(upstream.status.code))
            }
            if request.stream {
                return stream(upstream, context: context, upstreamTime: upstreamTime, app: app)
            }
            var collected = try await upstream.body.collect(upTo: maxReplyBytes)
            let data = collected.readData(length: collected.readableBytes) ?? Data()
            // A large answer is read on the concurrency pool, not on the request's event loop (`OnEventLoopResponder`).
            let read = data.count > OnEventLoopResponder.smallBody ? await offTheLoop { Usage.from(json: data) } : Usage.from(json: data)
            let usage = read ?? Usage(promptTokens: request.estimatedPromptTokens, completionTokens: data.count / 4)
            // Charged after the answer has gone out, with other requests'.
            context.finished = ContinuousClock.now - started
            await end(Ending(context: context, usage: usage, status: 200, outcome: "ok", upstreamTime: upstreamTime), app: app)
            let response = Response(status: .ok, body: .init(data: data))
            response.headers.contentType = .json
            return response
        } catch let error as GatewayError {
            try? await finish(context, usage: nil, status: error.status,
                              outcome: error.status == 502 || error.status == 504 || error.code == "upstream_refused" ? "upstream_error" : "refused",
                              upstreamTime: nil, app: app)
            return errorResponse(error)
        } catch {
            // Anything else (a reply over the size cap, the upstream breaking off while it is read): the request still
            // ends here, its draw settled — charged in full once the upstream answered, since what it generated is unknown.
            app.logger.warning("AI request to \(request.model) failed: \(String(describing: error))")
            try? await finish(context, usage: mostUsed, status: 502, outcome: "upstream_error", upstreamTime: nil, app: app)
            return errorResponse(.upstream("The model '\(request.model)' gave an answer the gateway could not pass on (too large, or broken off). Try again shortly."))
        }
    }

    /// Policy, model, rate and credits, in that order; returns the model, the draw on the person's credit lease and the token cap.
    private static func admit(_ request: GatewayRequest, caller: GatewayCaller, app: Application) async throws -> (AIModel, CreditLeases.Ticket?, Int) {
        let policy = caller.policy, now = app.clock.now()
        if let blackout = policy.blackout(at: now) {
            throw GatewayError.policy("AI access for \(caller.placeName) is paused until \(ISO8601DateFormatter().string(from: blackout.end)): \(blackout.message)",
                                      code: "blackout")
        }
        let catalogue = try await app.gatewayCache.models(now: now) { try await AIModel.query(on: app.db).with(\.$provider).with(\.$fallback).all() }
        guard let model = catalogue[request.model] else {
            throw GatewayError.unknownModel(request.model)
        }
        guard policy.allows(model: model.name) else {
            throw GatewayError.policy("\(caller.placeName) does not allow the model '\(model.name)'; it allows \(policy.allowedModels.joined(separator: ", ")). Its instructor sets this.",
                                      code: "model_not_allowed")
        }
        guard (model.kind == .chat) == (request.endpoint == .chat) else {
            throw GatewayError.invalid("'\(model.name)' is \(model.kind == .chat ? "a chat" : "an embedding") model; use /v1/\(model.kind == .chat ? "chat/completions" : "embeddings").", param: "model")
        }
        if let limit = policy.requestsPerMinute {
            let key = try caller.user.requireID().uuidString + "/" + caller.place.naturalKey
            if let wait = try await app.ratePermits.secondsToWait(key, limit: limit, window: app.aiRateWindow, now: now) {
                throw GatewayError.rateLimited("\(caller.placeName) allows \(limit) AI requests a minute per person; try again in \(wait) s. Its instructor sets this limit.",
                                               retryAfter: wait)
            }
        }
        let allowedChoices = policy.maxChoices ?? 1
        guard request.choices <= allowedChoices else {
            throw GatewayError.policy("\(caller.placeName) allows \(allowedChoices) answer\(allowedChoices == 1 ? "" : "s") per request ('n' = \(request.choices) asked); its instructor sets this.",
                                      code: "n_not_allowed")
        }
        let cap = policy.cap(requested: request.maxTokens)
        let prices = try await app.gatewayCache.prices(now: now) { try await Prices.list(on: app.db) }
        let estimate: Credits
        do {
            estimate = try prices.cost(of: [.modelInput(model.name): Int64(request.estimatedPromptTokens),
                                            .modelOutput(model.name): Int64(request.endpoint == .chat ? cap * request.choices : 0)], at: now)
        } catch {
            throw GatewayError.policy("The model '\(model.name)' has no price on the price list yet, so it cannot be charged; a programme manager sets its prices.",
                                      code: "no_price")
        }
        guard estimate > .zero else { return (model, nil, cap) }
        do {
            let account = try await app.gatewayCache.allowance("\(try caller.user.requireID())/\(caller.place.naturalKey)", now: now) {
                try await app.ledger.allowance(of: caller.user, in: caller.place)
            }
            let ticket = try await app.creditLeases.draw(estimate, account: account, key: try account.requireID().uuidString,
                                                         reason: "AI requests (\(model.name))", actor: caller.user.id)
            return (model, ticket, cap)
        } catch let refusal as LedgerRefusal {
            let ask = try await caller.place.whoToAsk(on: app.db)
            throw GatewayError.noCredits("Refused: \(refusal.description) This request may cost up to \(estimate) credits (\(request.estimatedPromptTokens) prompt tokens estimated, up to \(cap) generated). \(ask)")
        }
    }

    /// Sends the body to the model's provider, then to its fallback when the first fails before answering (no
    /// connection, a timeout, a 5xx or 429). Nothing has reached the client yet at that point.
    private static func forward(_ endpoint: Endpoint, body: Data, model: AIModel, app: Application, context: UsageContext) async throws -> (HTTPClientResponse, Duration) {
        var providers = [model.provider]
        if let fallback = model.fallback, fallback.id != model.provider.id { providers.append(fallback) }
        var failures: [String] = []
        for provider in providers {
            let started = ContinuousClock.now
            do {
                var request = HTTPClientRequest(url: provider.baseURL.trimmingSuffix("/") + "/" + endpoint.rawValue)
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.headers.add(name: "accept", value: context.streamed ? "text/event-stream" : "application/json")
                if let name = provider.secretEnv, AICatalogue.allowedSecretEnv(name), let secret = ProcessInfo.processInfo.environment[name], !secret.isEmpty {
                    request.headers.add(name: "authorization", value: "Bearer \(secret)")
                }
                request.body = .bytes(ByteBuffer(data: body))
                let response = try await app.upstream.send(request, upstreamTimeout)
                // A provider's own refusals (a prompt too long for the model) are answered in the gateway's words (see
                // `handle`); its failures are tried elsewhere, and after the last one reported likewise (never its internals).
                guard response.status.code >= 500 || response.status == .tooManyRequests else { return (response, ContinuousClock.now - started) }
                failures.append("\(provider.name) answered \(response.status.code)")
                _ = try? await response.body.collect(upTo: 1 << 20)
            } catch {
                // Never the provider's URL or secret in what the client sees: only its name and the kind of failure.
                app.logger.warning("AI provider \(provider.name) failed for \(model.name): \(type(of: error))")
                failures.append("\(provider.name) could not be reached")
            }
        }
        throw GatewayError.upstream("The model '\(model.name)' is not answering (\(failures.joined(separator: "; "))). Try again shortly.")
    }

    /// Passes the upstream's events through as they come, reading the usage on the way; when the client goes away
    /// the upstream request is dropped and what was generated so far is charged.
    private static func stream(_ upstream: HTTPClientResponse, context: UsageContext, upstreamTime: Duration, app: Application) -> Response {
        let response = Response(status: .ok)
        response.headers.contentType = HTTPMediaType(type: "text", subType: "event-stream", parameters: ["charset": "utf-8"])
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-cache")
        let writeTimeout = Duration.seconds(app.platformConfig.aiWriteTimeout)
        response.body = .init(asyncStream: { writer in
            var scanner = StreamUsageScanner()
            var outcome = "ok"
            do {
                for try await buffer in upstream.body {
                    scanner.feed(buffer.readableBytesView)
                    do {
                        // A client that stops reading holds the write; after the timeout it is cut (below) and charged.
                        guard try await within(writeTimeout, { try await writer.write(.buffer(buffer)) }) else {
                            outcome = "client_stalled"
                            break
                        }
                    } catch {
                        outcome = "disconnected"
                        break
                    }
                }
            } catch {
                outcome = "upstream_error"
                let event = "data: " + String(decoding: GatewayError.upstream("The model's stream broke off; what it generated so far is charged.").json, as: UTF8.self) + "\n\n"
                try? await writer.write(.buffer(ByteBuffer(string: event)))
            }
            let usage = scanner.usage ?? Usage(promptTokens: context.estimatedPromptTokens, completionTokens: scanner.generatedTokens)
            var ended = context
            ended.finished = ContinuousClock.now - context.started
            await end(Ending(context: ended, usage: usage, status: 200, outcome: outcome, upstreamTime: upstreamTime), app: app)
            // A stalled client's connection is closed (a failed body closes it; its pending write then fails too).
            if outcome == "client_stalled" {
                try? await writer.write(.error(Abort(.requestTimeout, reason: "The client stopped reading the stream.")))
                return
            }
            // Always closed off (to a client that left, this only ends the stream on our side).
            try? await writer.write(.end)
        })
        return response
    }

    /// Runs `operation`, or stops waiting for it after `timeout`: true when it finished in time (its error, if any,
    /// is thrown), false when the time ran out (it goes on by itself until whatever it waits for fails).
    static func within(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        let settled = NIOLockedValueBox(false)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            @Sendable func finish(_ result: Result<Bool, any Error>) {
                guard settled.withLockedValue({ done in defer { done = true }; return !done }) else { return }
                continuation.resume(with: result)
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { finish(.success(false)) }
            }
            Task {
                do { try await operation(); timer.cancel(); finish(.success(true)) } catch { timer.cancel(); finish(.failure(error)) }
            }
        }
    }

    // MARK: Settling and recording

    struct UsageContext: Sendable {
        var caller: GatewayCaller
        var model: String
        var endpoint: Endpoint
        var streamed: Bool
        var started: ContinuousClock.Instant
        var prompt: String?
        var ticket: CreditLeases.Ticket?
        var estimatedPromptTokens = 0
        /// When the answer was complete (the latency recorded), if it is.
        var finished: Duration?

        func with(ticket: CreditLeases.Ticket?, estimate: Int) -> UsageContext {
            var copy = self
            copy.ticket = ticket
            copy.estimatedPromptTokens = estimate
            return copy
        }
    }

    /// One request's ending, to be charged and recorded.
    struct Ending: Sendable {
        var context: UsageContext
        var usage: Usage?
        var status: Int
        var outcome: String
        var upstreamTime: Duration?
        /// Micro-credits charged (set by `end`).
        var charged: Int64 = 0
    }

    /// Charges the request on its lease now (in memory: what it used, at the prices when its lease was made; what its
    /// draw does not cover is charged beyond the lease's hold; nothing when nothing was used) and queues its usage row.
    static func end(_ ending: Ending, app: Application) async {
        var ending = ending
        if let ticket = ending.context.ticket {
            var charged: Int64 = 0
            if let usage = ending.usage, usage.promptTokens + usage.completionTokens > 0 {
                let model = ending.context.model
                let cost = try? await app.gatewayCache.prices(now: app.clock.now()) { try await Prices.list(on: app.db) }.cost(
                    of: [.modelInput(model): Int64(usage.promptTokens), .modelOutput(model): Int64(usage.completionTokens)], at: ticket.createdAt)
                charged = cost?.micro ?? ticket.amount  // beyond the draw too: the lease charges that past its hold
            }
            app.creditLeases.settle(ticket, actual: charged)
            ending.charged = charged
        }
        await app.gatewayRecorder.enqueue(ending)
    }

    /// Ends a refused or failed request now (its row written before the answer goes out).
    static func finish(_ context: UsageContext, usage: Usage?, status: Int, outcome: String, upstreamTime: Duration?,
                       app: Application) async throws {
        await end(Ending(context: context, usage: usage, status: status, outcome: outcome, upstreamTime: upstreamTime), app: app)
        await app.gatewayRecorder.drain()
    }

    /// The columns of a usage row, in the order `usageValues` gives them.
    static let usageColumns = ["id", "key_id", "user_id", "course_id", "project_id", "model", "endpoint", "prompt_tokens", "completion_tokens",
                               "credits", "status", "outcome", "streamed", "latency_ms", "upstream_ms", "prompt", "prompt_expires_at", "created_at"]

    /// The usage row of an ending (not yet written), as bound values: written with plain SQL, many rows to a
    /// statement, since building a Fluent model per row cost the gateway more than the insert.
    static func usageValues(_ ending: Ending, at now: Date) throws -> [any SQLExpression] {
        let context = ending.context, usage = ending.usage
        var course: UUID?, project: UUID?
        switch context.caller.place {
        case .course(let place): course = place.id
        case .project(let place): project = place.id
        }
        var prompt: String?, expires: Date?
        if let text = context.prompt, ending.outcome != "refused" {
            prompt = String(text.prefix(64 * 1024))
            expires = now.addingTimeInterval(Double(context.caller.policy.promptRetentionDays) * 86_400)
        }
        let values: [any Encodable & Sendable] = [
            UUID(), try context.caller.key.requireID(), try context.caller.user.requireID(), course, project, context.model, context.endpoint.rawValue,
            usage?.promptTokens ?? 0, usage?.completionTokens ?? 0, ending.charged, ending.status, ending.outcome, context.streamed,
            milliseconds(context.finished ?? ContinuousClock.now - context.started), ending.upstreamTime.map(milliseconds), prompt, expires, now,
        ]
        return values.map { SQLBind($0) }
    }

    /// Writes usage rows (each `usageValues`), up to 200 to a statement (well under SQLite's limit on bound values).
    static func insertUsage(_ rows: [[any SQLExpression]], on db: any Database) async throws {
        let sql = try db.sqlDatabase()
        for start in stride(from: 0, to: rows.count, by: 200) {
            let insert = sql.insert(into: AIUsage.schema).columns(usageColumns)
            for row in rows[start..<min(start + 200, rows.count)] { insert.values(row) }
            try await insert.run()
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    static func errorResponse(_ error: GatewayError) -> Response {
        let response = Response(status: HTTPResponseStatus(statusCode: error.status), body: .init(data: error.json))
        response.headers.contentType = .json
        if let wait = error.retryAfter { response.headers.replaceOrAdd(name: "retry-after", value: String(wait)) }
        return response
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}

extension Application {
    private struct RateWindowKey: StorageKey { typealias Value = RateWindow }
    /// Requests per minute per person and place, in this process (set once in `configure`).
    var aiRateWindow: RateWindow {
        get { storage[RateWindowKey.self]! }
        set { storage[RateWindowKey.self] = newValue }
    }
}
