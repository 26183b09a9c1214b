// A provider's published keys (its JWKS), read key by key: a set that also carries keys this platform cannot use
// (symmetric, encryption-only, a curve it does not know, no key id) keeps the others usable, where decoding the
// document whole would refuse every key for one stranger. And the cache that keeps each provider's set: as long as
// the provider's Cache-Control says (within bounds), fetched again at once — but at most once a minute per set — when
// a token names a key the cached set lacks (a provider rotating its keys), fetches in flight shared.
import Foundation
import JWTKit

public struct KeySet: Sendable {
    /// The usable signing keys by their key id.
    public let keys: [String: JWK]

    public init(keys: [String: JWK]) { self.keys = keys }

    /// Reads a JWKS document; throws only when it is not one at all (no `keys` array).
    public init(json: Data) throws(IdentityRefusal) {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              let entries = object["keys"] as? [Any] else {
            throw .keySetUnavailable("the document is not a JSON Web Key Set")
        }
        var keys: [String: JWK] = [:]
        for case let entry as [String: Any] in entries {
            if let use = entry["use"] as? String, use != "sig" { continue }
            guard let kid = entry["kid"] as? String, !kid.isEmpty, keys[kid] == nil,
                  let data = try? JSONSerialization.data(withJSONObject: entry),
                  let key = try? JSONDecoder().decode(JWK.self, from: data),
                  key.keyType == .rsa || key.keyType == .ecdsa else { continue }
            keys[kid] = key
        }
        self.keys = keys
    }
}

/// Where a key set comes from: the document and its Cache-Control header (an effect the App supplies: HTTP with a
/// timeout and a size cap; tests supply a function).
public typealias KeySetFetch = @Sendable (URL) async throws -> (body: Data, cacheControl: String?)

public actor KeySetCache {
    struct Entry {
        var set: KeySet
        var fresh: Date
        /// When it was last asked for (successfully or not): the refetch limit counts from here.
        var fetched: Date
        /// When the provider last answered with it.
        var loaded: Date
    }

    /// How long a set is kept when its provider says nothing, and the bounds on what a provider may say.
    public static let defaultLifetime: TimeInterval = 3600
    public static let shortestLifetime: TimeInterval = 60
    public static let longestLifetime: TimeInterval = 86_400
    /// An unknown key id fetches the set again at most this often (a flood of forged kids costs one fetch a minute).
    public static let refetchInterval: TimeInterval = 60

    private let fetch: KeySetFetch
    private var entries: [URL: Entry] = [:]
    private var inFlight: [URL: Task<Entry, any Error>] = [:]
    /// How many times each set was fetched (what the tests and the admin page read).
    public private(set) var fetches: [URL: Int] = [:]

    public init(fetch: @escaping KeySetFetch) { self.fetch = fetch }

    /// The key `kid` of the set at `url`, fetching the set when it is not cached, stale, or lacks that key (once a
    /// minute at most); nil when the provider does not publish it.
    public func key(_ kid: String, in url: URL, now: Date) async throws(IdentityRefusal) -> JWK? {
        if let entry = entries[url], entry.fresh > now {
            if let key = entry.set.keys[kid] { return key }
            guard now.timeIntervalSince(entry.fetched) >= Self.refetchInterval else { return nil }
        }
        return try await load(url, now: now).set.keys[kid]
    }

    /// Forgets a set (an admin changed the provider's key set URL).
    public func forget(_ url: URL) { entries[url] = nil }

    private func load(_ url: URL, now: Date) async throws(IdentityRefusal) -> Entry {
        let task: Task<Entry, any Error>
        if let running = inFlight[url] {
            task = running
        } else {
            let fetch = self.fetch
            task = Task {
                let (body, cacheControl) = try await fetch(url)
                let set = try KeySet(json: body)
                return Entry(set: set, fresh: now.addingTimeInterval(Self.lifetime(cacheControl)), fetched: now, loaded: now)
            }
            inFlight[url] = task
            fetches[url, default: 0] += 1
        }
        defer { if inFlight[url] == task { inFlight[url] = nil } }
        do {
            let entry = try await task.value
            entries[url] = entry
            return entry
        } catch {
            // A set that cannot be read keeps the one cached (keys still published then are still good) for at most
            // a day since the provider last answered — a withdrawn key is not trusted for as long as someone can make
            // the fetch fail — and the same failure is not asked again before the refetch interval.
            if var cached = entries[url], now.timeIntervalSince(cached.loaded) < Self.longestLifetime {
                cached.fetched = max(cached.fetched, now)
                cached.fresh = max(cached.fresh, now.addingTimeInterval(Self.refetchInterval))
                entries[url] = cached
                return cached
            }
            entries[url] = nil
            throw error as? IdentityRefusal ?? IdentityRefusal.keySetUnavailable("the provider did not answer with it")
        }
    }

    /// Cache-Control's max-age (s-maxage ignored: this is the client), within bounds; no-store/no-cache: the least.
    static func lifetime(_ header: String?) -> TimeInterval {
        guard let header else { return defaultLifetime }
        var seconds: TimeInterval?
        for directive in header.lowercased().split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            switch parts.first {
            case "no-store", "no-cache": return shortestLifetime
            case "max-age":
                if parts.count == 2, let value = TimeInterval(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))), value.isFinite { seconds = value }
            default: break
            }
        }
        return min(max(seconds ?? defaultLifetime, shortestLifetime), longestLifetime)
    }
}
