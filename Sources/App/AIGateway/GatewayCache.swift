// What the gateway reads on every request and rarely changes, kept in memory for a few seconds: a key's caller
// (owner, course, policy), the catalogue's models and the price list. Changes made through this process drop the
// entries at once (revoking a key, saving a policy, adding a provider, model or price); changes made by another
// process sharing the database take effect within `lifetime`.
import Foundation
import Gateway
import Ledger
import NIOConcurrencyHelpers
import Vapor

final class GatewayCache: Sendable {
    static let lifetime: TimeInterval = 5

    private struct State {
        var callers: [String: (hash: String, caller: GatewayCaller, until: Date)] = [:]
        var models: (byName: [String: AIModel], until: Date)?
        var prices: (list: PriceList, until: Date)?
        var allowances: [String: (account: LedgerAccount, until: Date)] = [:]
    }
    private let state = NIOLockedValueBox(State())

    func caller(prefix: String, now: Date) -> (hash: String, caller: GatewayCaller)? {
        state.withLockedValue { state in
            guard let entry = state.callers[prefix], entry.until > now else { return nil }
            return (entry.hash, entry.caller)
        }
    }

    func remember(prefix: String, hash: String, caller: GatewayCaller, now: Date) {
        state.withLockedValue { state in
            if state.callers.count > 10_000 { state.callers.removeAll() }
            state.callers[prefix] = (hash, caller, now.addingTimeInterval(Self.lifetime))
        }
    }

    func models(now: Date, load: () async throws -> [AIModel]) async throws -> [String: AIModel] {
        if let cached = state.withLockedValue({ $0.models }), cached.until > now { return cached.byName }
        let byName = Dictionary(try await load().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        state.withLockedValue { $0.models = (byName, now.addingTimeInterval(Self.lifetime)) }
        return byName
    }

    func prices(now: Date, load: () async throws -> PriceList) async throws -> PriceList {
        if let cached = state.withLockedValue({ $0.prices }), cached.until > now { return cached.list }
        let list = try await load()
        state.withLockedValue { $0.prices = (list, now.addingTimeInterval(Self.lifetime)) }
        return list
    }

    /// The allowance account of a person in a place (created and funded on first use by `load`). Holds are taken
    /// by a conditional update of the account's row, so a cached copy never lets a request past the balance.
    func allowance(_ key: String, now: Date, load: () async throws -> LedgerAccount) async throws -> LedgerAccount {
        if let cached = state.withLockedValue({ $0.allowances[key] }), cached.until > now { return cached.account }
        let account = try await load()
        state.withLockedValue { state in
            if state.allowances.count > 10_000 { state.allowances.removeAll() }
            state.allowances[key] = (account, now.addingTimeInterval(Self.lifetime))
        }
        return account
    }

    /// After a change made here: keys revoked, policies saved, the catalogue or prices changed.
    func forgetAll() {
        state.withLockedValue { $0 = State() }
    }
}

extension Application {
    private struct GatewayCacheKey: StorageKey { typealias Value = GatewayCache }
    /// Set once in `configure`.
    var gatewayCache: GatewayCache {
        get { storage[GatewayCacheKey.self]! }
        set { storage[GatewayCacheKey.self] = newValue }
    }
}

/// Usage rows written after the answers have gone out, off the clients' critical path: endings queue up and one
/// writer records all that are waiting in one transaction. (Their credits were already charged on their lease,
/// see CreditLeases.) When a batch fails, its rows are written one by one. Shutdown and tests wait for the queue.
actor GatewayRecorder {
    private var queue: [AIGateway.Ending] = []
    private var writer: Task<Void, Never>?
    private let app: Application

    init(app: Application) { self.app = app }

    func enqueue(_ ending: AIGateway.Ending) {
        queue.append(ending)
        if writer == nil { writer = Task { await self.run() } }
    }

    private func run() async {
        while !queue.isEmpty {
            // A moment for more endings to arrive: fewer, larger transactions under load (rows only; nobody waits).
            try? await Task.sleep(for: .milliseconds(20))
            let batch = queue
            queue = []
            await write(batch)
        }
        writer = nil
    }

    private func write(_ batch: [AIGateway.Ending]) async {
        let app = self.app
        do {
            let now = app.clock.now(), rows = try batch.map { try AIGateway.usageValues($0, at: now) }
            try await app.writeTransaction(on: app.db) { tx in try await AIGateway.insertUsage(rows, on: tx) }
        } catch {
            for ending in batch {
                do { try await AIGateway.insertUsage([try AIGateway.usageValues(ending, at: app.clock.now())], on: app.db) } catch {
                    app.logger.error("The usage row of an AI request of \(ending.context.model) could not be written: \(String(describing: error))")
                }
            }
        }
        app.platformMetrics.recordGateway(batch.map { ending in
            .init(model: ending.context.model, outcome: ending.outcome, promptTokens: ending.usage?.promptTokens ?? 0,
                  completionTokens: ending.usage?.completionTokens ?? 0, microCredits: ending.charged, upstream: ending.upstreamTime)
        })
    }

    /// Waits until every ending enqueued so far is recorded.
    func drain() async {
        while let writer { await writer.value }
    }
}

/// Drains the recorder when the application stops.
struct GatewayRecorderLifecycle: LifecycleHandler {
    func shutdownAsync(_ application: Application) async { await application.drainGateway() }
}

extension Application {
    /// Every usage row written, every credit lease closed and every unused rate permit given back (shutdown; tests
    /// before they look at the ledger).
    func drainGateway() async {
        await gatewayRecorder.drain()
        await creditLeases.retireAll()
        await ratePermits.returnAll()
    }
}

extension Application {
    private struct GatewayRecorderKey: StorageKey { typealias Value = GatewayRecorder }
    /// Set once in `configure` (and drained at shutdown).
    var gatewayRecorder: GatewayRecorder {
        get { storage[GatewayRecorderKey.self]! }
        set { storage[GatewayRecorderKey.self] = newValue }
    }
}
