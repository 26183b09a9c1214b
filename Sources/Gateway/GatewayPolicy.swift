// A course's (or project's) rules for its AI keys, set by its instructor and enforced on every request: which
// models, how many tokens a request may ask for, how many requests a minute each person may make, a system prompt
// put first (a tutoring persona), blackout windows (an exam: keys refused with the instructor's message), and
// whether prompts are kept and for how long (by default only usage numbers, never content).
import Foundation

public struct GatewayPolicy: Codable, Sendable, Equatable {
    public struct Blackout: Codable, Sendable, Equatable {
        public var start: Date
        public var end: Date
        public var message: String
        public init(start: Date, end: Date, message: String) {
            self.start = start
            self.end = end
            self.message = message
        }
    }

    /// Models the keys may use; empty means every model the platform offers.
    public var allowedModels: [String] = []
    /// The most tokens one request may generate (requests asking for more are capped to it).
    public var maxTokensPerRequest: Int = 1024
    /// Requests per minute per person; nil: no limit.
    public var requestsPerMinute: Int? = 20
    public var systemPrompt: String?
    public var blackouts: [Blackout] = []
    /// Keep prompt text with the usage row (for the course's staff), and for how many days.
    public var logPrompts = false
    public var promptRetentionDays = 30
    /// The most answers (`n`) one request may ask for; nil: one.
    public var maxChoices: Int?

    public init() {}

    public static let maxTokensCeiling = 1_000_000
    public static let maxSystemPrompt = 8_000

    /// Problems with the policy as an instructor typed it (empty when it may be saved).
    public func problems() -> [String] {
        var problems: [String] = []
        if maxTokensPerRequest < 1 || maxTokensPerRequest > Self.maxTokensCeiling { problems.append("maxTokensPerRequest must be between 1 and \(Self.maxTokensCeiling).") }
        if let rpm = requestsPerMinute, rpm < 1 || rpm > 10_000 { problems.append("requestsPerMinute must be between 1 and 10000 (or empty for no limit).") }
        if (systemPrompt?.count ?? 0) > Self.maxSystemPrompt { problems.append("systemPrompt is at most \(Self.maxSystemPrompt) characters.") }
        if promptRetentionDays < 1 || promptRetentionDays > 365 { problems.append("promptRetentionDays must be between 1 and 365.") }
        for (index, window) in blackouts.enumerated() where window.end <= window.start {
            problems.append("blackout \(index + 1) ends before it starts.")
        }
        if allowedModels.count > 100 { problems.append("allowedModels lists at most 100 models.") }
        if let choices = maxChoices, choices < 1 || choices > 16 { problems.append("maxChoices must be between 1 and 16.") }
        return problems
    }

    /// The blackout in force at `now`, if any.
    public func blackout(at now: Date) -> Blackout? {
        blackouts.first { $0.start <= now && now < $0.end }
    }

    public func allows(model: String) -> Bool { allowedModels.isEmpty || allowedModels.contains(model) }

    /// The token cap a request gets: what it asked for, never above the policy's.
    public func cap(requested: Int?) -> Int { min(requested ?? maxTokensPerRequest, maxTokensPerRequest) }
}

/// Requests per minute per person: a sliding window of the last minute's request times, in this process. The
/// platform adds a count per clock minute shared by every process on its database (`RatePermits`).
public final class RateWindow: @unchecked Sendable {
    private var times: [String: [Date]] = [:]
    private let lock = NSLock()
    public init() {}

    /// Records a request for `key` when fewer than `limit` were made in the last minute; false otherwise.
    public func admit(_ key: String, limit: Int, now: Date = Date()) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        var recent = (times[key] ?? []).filter { now.timeIntervalSince($0) < 60 }
        guard recent.count < limit else {
            times[key] = recent
            return false
        }
        recent.append(now)
        times[key] = recent
        return true
    }

    /// Takes back the request recorded for `key` at `now` (another check refused it after this one admitted it).
    public func withdraw(_ key: String, at now: Date) {
        lock.lock()
        defer { lock.unlock() }
        guard var recent = times[key], let index = recent.lastIndex(of: now) ?? recent.indices.last else { return }
        recent.remove(at: index)
        times[key] = recent
    }

    /// Seconds until `key` may make another request.
    public func retryAfter(_ key: String, now: Date = Date()) -> Int {
        lock.lock()
        defer { lock.unlock() }
        guard let oldest = times[key]?.first else { return 0 }
        return max(1, Int((60 - now.timeIntervalSince(oldest)).rounded(.up)))
    }
}
