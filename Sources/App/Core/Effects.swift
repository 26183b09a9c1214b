// What the platform reaches outside itself for, each behind a small struct set in `configure`: the time, the AI
// providers' HTTP and single sign-on's (the sandbox runner is another: `SandboxService(runner:)`). Tests set their
// own values — a fixed or moving clock, an upstream that answers from memory — and the real ones stay in the
// integration tests.
import AsyncHTTPClient
import Foundation
import NIOCore
import Vapor

/// What time it is, for everything the platform stamps or compares (holds, leases, deadlines, blackouts, runs).
struct PlatformClock: Sendable {
    var now: @Sendable () -> Date

    static let system = PlatformClock { Date() }

    /// Always this time.
    static func fixed(_ date: Date) -> PlatformClock { PlatformClock { date } }
}

/// Where the AI gateway sends a request for a provider, and how long it waits for the answer's head.
struct UpstreamClient: Sendable {
    var send: @Sendable (HTTPClientRequest, TimeAmount) async throws -> HTTPClientResponse

    /// The real one: AsyncHTTPClient with redirects off (a redirect could carry a provider's secret elsewhere).
    static func http(_ client: HTTPClient) -> UpstreamClient {
        UpstreamClient { request, timeout in try await client.execute(request, timeout: timeout) }
    }
}

extension Application {
    private struct ClockKey: StorageKey { typealias Value = PlatformClock }
    private struct UpstreamKey: StorageKey { typealias Value = UpstreamClient }
    private struct IdentityHTTPKey: StorageKey { typealias Value = UpstreamClient }

    var clock: PlatformClock {
        get { storage[ClockKey.self] ?? .system }
        set { storage[ClockKey.self] = newValue }
    }

    var upstream: UpstreamClient {
        get { storage[UpstreamKey.self] ?? .http(http.client.shared) }
        set { storage[UpstreamKey.self] = newValue }
    }

    /// Where single sign-on's requests go (discovery, key sets, token endpoints): the same HTTP client, redirects off.
    var identityHTTP: UpstreamClient {
        get { storage[IdentityHTTPKey.self] ?? .http(http.client.shared) }
        set { storage[IdentityHTTPKey.self] = newValue }
    }
}

extension Request {
    /// The platform's time now.
    var now: Date { application.clock.now() }
}
