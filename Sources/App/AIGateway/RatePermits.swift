// Requests per minute per person, held across every gateway process on one database. Each clock minute a person
// (in a course or project) has `limit` permits, counted in `ai_rate_permits`. A process leases them a block at a
// time — half of what is left, at most 64, at least 1 — with one conditional upsert that never grants past the
// limit, and hands them out in memory; so a person asking at their limit costs a database write for a handful of
// requests, not for each. What a process holds and has not used goes back 5 s after it was leased (the person's
// requests may be going to another process, which meanwhile may refuse a little early) and at shutdown; a process
// that dies loses its block until the minute ends (fewer requests admitted, never more). The minute is each
// process's clock's: the machines' clocks must agree (NTP), as the ledger's hold expiries already need. Within one
// process the sliding window (`RateWindow`) runs first, so one process lets no burst through across a minute's
// boundary; across processes the limit is per clock minute. A request refused by a later check (credits, choices)
// has used its permit: it was a request.
import Fluent
import Foundation
import Gateway
import NIOConcurrencyHelpers
import SQLKit
import Vapor

final class RatePermits: Sendable {
    static let largestBlock = 64
    /// What is left of a block this long after it was leased goes back to the shared count.
    static let returnAfter: TimeInterval = 5
    /// After the database refused a key, this process refuses it from memory this long before asking again.
    static let refusalMemory: TimeInterval = 1

    enum Verdict: Equatable, Sendable {
        case admitted
        /// Refused until the next minute begins, in whole seconds (at least 1).
        case refused(retryAfter: Int)
    }

    private struct Block {
        var minute: Int64
        var left: Int
        var leasedAt: Date
        var refusedUntil: Date?
    }

    private let blocks = NIOLockedValueBox<[String: Block]>([:])
    private let returner = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let app: Application

    init(app: Application) { self.app = app }

    static func minute(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / 60).rounded(.down)) }

    static func secondsToNextMinute(from date: Date) -> Int {
        let next = Double(minute(of: date) + 1) * 60
        return max(1, Int((next - date.timeIntervalSince1970).rounded(.up)))
    }

    /// One request of `key` against `limit` a minute: this process's sliding window first, then the minute's count
    /// shared by every process (whose refusal withdraws the window's entry). Nil when admitted, else the seconds to wait.
    func secondsToWait(_ key: String, limit: Int, window: RateWindow, now: Date) async throws -> Int? {
        guard window.admit(key, limit: limit, now: now) else { return window.retryAfter(key, now: now) }
        let shared: Verdict
        do { shared = try await admit(key, limit: limit, now: now) } catch {
            window.withdraw(key, at: now)
            throw error
        }
        guard case .refused(let seconds) = shared else { return nil }
        window.withdraw(key, at: now)
        return seconds
    }

    /// One request of `key` at `now`: admitted from this process's block, from a new block leased from the shared
    /// count, or refused until the next minute.
    func admit(_ key: String, limit: Int, now: Date) async throws -> Verdict {
        let minute = Self.minute(of: now)
        guard limit > 0 else { return .refused(retryAfter: Self.secondsToNextMinute(from: now)) }
        let fromMemory: Verdict? = blocks.withLockedValue { blocks in
            guard var block = blocks[key], block.minute == minute else { return nil }
            if block.left > 0 {
                block.left -= 1
                blocks[key] = block
                return .admitted
            }
            if let until = block.refusedUntil, now < until { return .refused(retryAfter: Self.secondsToNextMinute(from: now)) }
            return nil
        }
        if let fromMemory { return fromMemory }
        let granted = try await lease(key, minute: minute, limit: limit)
        let verdict: Verdict = blocks.withLockedValue { blocks in
            // A block of a later minute (this request waited across the boundary) is kept as it is.
            if let later = blocks[key], later.minute > minute {
                return granted > 0 ? .admitted : .refused(retryAfter: Self.secondsToNextMinute(from: now))
            }
            var block = blocks[key].flatMap { $0.minute == minute ? $0 : nil } ?? Block(minute: minute, left: 0, leasedAt: now)
            defer { blocks[key] = block }
            guard granted > 0 else {
                // Another request of this process may have leased meanwhile.
                if block.left > 0 {
                    block.left -= 1
                    return .admitted
                }
                block.refusedUntil = now.addingTimeInterval(Self.refusalMemory)
                return .refused(retryAfter: Self.secondsToNextMinute(from: now))
            }
            block.left += granted - 1
            block.leasedAt = now
            block.refusedUntil = nil
            return .admitted
        }
        scheduleReturns()
        return verdict
    }

    /// Takes a block from the shared count: 0 when the minute's permits are all granted.
    private func lease(_ key: String, minute: Int64, limit: Int) async throws -> Int {
        let first = max(1, min(Self.largestBlock, limit / 2)), most = Self.largestBlock
        let db = app.db
        // The block is computed from the row as it stands when the upsert takes its lock (SET sees the old values),
        // so concurrent leases from several processes never add up past the limit.
        let size: SQLQueryString = """
            CASE WHEN (\(bind: limit) - ai_rate_permits.granted) / 2 > \(bind: most) THEN \(bind: most) \
            WHEN (\(bind: limit) - ai_rate_permits.granted) / 2 < 1 THEN 1 \
            ELSE (\(bind: limit) - ai_rate_permits.granted) / 2 END
            """
        let rows = try await app.writing {
            try await (db as! any SQLDatabase).raw("""
                INSERT INTO ai_rate_permits (rate_key, window_minute, granted, last_grant) VALUES (\(bind: key), \(bind: minute), \(bind: first), \(bind: first))
                ON CONFLICT (rate_key, window_minute) DO UPDATE SET last_grant = \(size), granted = ai_rate_permits.granted + \(size)
                WHERE ai_rate_permits.granted < \(bind: limit)
                RETURNING last_grant
                """).all()
        }
        guard let row = rows.first else { return 0 }
        return Int(try row.decode(column: "last_grant", as: Int64.self))
    }

    /// Gives back what is left of the blocks of this minute leased `returnAfter` ago (or of all of them), and forgets
    /// older minutes' blocks.
    func returnUnused(now: Date, all: Bool = false) async {
        let minute = Self.minute(of: now)
        let giving: [(String, Int)] = blocks.withLockedValue { blocks in
            var giving: [(String, Int)] = []
            for (key, block) in blocks where all || block.minute != minute || now.timeIntervalSince(block.leasedAt) >= Self.returnAfter {
                blocks[key] = nil
                if block.minute == minute, block.left > 0 { giving.append((key, block.left)) }
            }
            return giving
        }
        let db = app.db
        for (key, left) in giving {
            do {
                try await app.writing {
                    try await (db as! any SQLDatabase).raw("""
                        UPDATE ai_rate_permits SET granted = granted - \(bind: left) WHERE rate_key = \(bind: key) AND window_minute = \(bind: minute)
                        """).run()
                }
            } catch {
                app.logger.warning("Unused AI request permits could not be given back (\(String(describing: error))); they lapse with the minute")
            }
        }
    }

    /// Every second while blocks are held, gives back what is left of the old ones.
    private func scheduleReturns() {
        returner.withLockedValue { task in
            guard task == nil else { return }
            task = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    guard let self, !Task.isCancelled else { return }
                    await self.returnUnused(now: self.app.clock.now())
                    let done = self.returner.withLockedValue { task -> Bool in
                        guard self.blocks.withLockedValue({ $0.isEmpty }) else { return false }
                        task = nil
                        return true
                    }
                    if done { return }
                }
            }
        }
    }

    /// Shutdown: the returning task stops (its last return finished), then every block goes back.
    func returnAll() async {
        let task = returner.withLockedValue { task in
            defer { task = nil }
            task?.cancel()
            return task
        }
        await task?.value
        await returnUnused(now: app.clock.now(), all: true)
    }

    /// The sweep: rows of minutes that have ended.
    @Sendable static func sweep(_ app: Application) async throws {
        let current = minute(of: app.clock.now())
        try await app.writing {
            try await (app.db as! any SQLDatabase).raw("DELETE FROM ai_rate_permits WHERE window_minute < \(bind: current - 1)").run()
        }
    }
}

extension Application {
    private struct RatePermitsKey: StorageKey { typealias Value = RatePermits }
    /// Set once in `configure`; blocks go back at shutdown (`drainGateway`).
    var ratePermits: RatePermits {
        get { storage[RatePermitsKey.self]! }
        set { storage[RatePermitsKey.self] = newValue }
    }
}
