// Calls to an LMS's services (LTI Advantage: scores and line items, rosters) with the tool's access token: one place
// that fetches and keeps the token, fetches it again once when the LMS says it expired, and reads what an answer
// means — a success, a wait the LMS asked for (429, 503 with Retry-After), a failure worth trying again (network,
// 5xx), or a refusal (4xx) that trying again will not change.
import Foundation
import Identity
import NIOCore
import NIOHTTP1
import Vapor
import AsyncHTTPClient

enum LTIServices {
    /// What a call to an LMS service came to, when it did not succeed (or, for a score, when it did).
    enum Outcome: Error, Equatable {
        case sent
        /// The LMS asks to wait (429, 503): the whole job waits.
        case wait(TimeInterval)
        /// A failure worth trying again later (network, 5xx).
        case transient(String)
        /// The LMS refused (4xx): trying again will not change it.
        case refused(String)
        /// The assignment's grades are not published (any more): kept back until they are.
        case withheld
    }

    /// A service address the tool will call or keep (a line item, a container, a roster): on the LMS's side of the
    /// network, of a sane length.
    static func usable(_ url: String, _ registration: LTIRegistration) -> Bool {
        url.utf8.count <= 2000 && IdentityProviders.acceptable(endpoint: url, issuer: registration.issuer)
    }

    /// An answer's body and headers, when it succeeded.
    struct Answer {
        var body: ByteBuffer
        var headers: HTTPHeaders
    }

    /// One call to `url` with the access token for `scope`; `what` names it in failures ("its roster").
    static func call(_ url: String, method: HTTPMethod = .GET, body: Data? = nil, contentType: String? = nil, accept: String? = nil,
                     scope: String, what: String, registration: LTIRegistration, app: Application, now: Date,
                     timeout: TimeAmount = .seconds(15), limit: Int = 1 << 20) async throws -> Result<Answer, Outcome> {
        // Never the LMS's token to a host that is not one of its services' (a forged launch's address, say); while
        // they are not known (a registration from before they were kept), the call waits for a launch to pin them.
        guard !registration.serviceHostList.isEmpty else {
            return .failure(.transient("\(registration.name)'s service host is not known yet: it is learnt from its next launch (or an administrator sets it on the LTI page)."))
        }
        guard registration.serves(url) else {
            return .failure(.refused("\(URLComponents(string: url)?.host ?? "?") is not one of \(registration.name)'s service hosts (\(registration.serviceHosts)); an administrator can add it on the LTI page."))
        }
        for attempt in 0..<2 {
            let token: String
            switch try await app.ltiServiceTokens.token(for: registration, scope: scope, app: app, now: now) {
            case .success(let value): token = value
            case .failure(let outcome): return .failure(outcome)
            }
            var request = HTTPClientRequest(url: url)
            request.method = method
            if let contentType { request.headers.add(name: .contentType, value: contentType) }
            if let accept { request.headers.add(name: .accept, value: accept) }
            request.headers.add(name: .authorization, value: "Bearer \(token)")
            if let body { request.body = .bytes(ByteBuffer(data: body)) }
            let response: HTTPClientResponse
            do { response = try await app.identityHTTP.send(request, timeout) } catch {
                return .failure(.transient("The LMS could not be reached for \(what): \(error)"))
            }
            let answer = (try? await response.body.collect(upTo: limit)) ?? ByteBuffer()
            // An expired or revoked token: fetched again, once.
            if response.status.code == 401, attempt == 0 {
                await app.ltiServiceTokens.forget(registration: try registration.requireID(), scope: scope)
                continue
            }
            if let failure = failure(response.status.code, response.headers, text: String(buffer: answer), what: what, now: now) {
                return .failure(failure)
            }
            return .success(Answer(body: answer, headers: response.headers))
        }
        return .failure(.refused("The LMS refused the access token it had just given, for \(what)."))
    }

    /// What an LMS's answer with `status` means; nil for a success.
    static func failure(_ status: UInt, _ headers: HTTPHeaders, text: String, what: String, now: Date) -> Outcome? {
        switch status {
        case 200..<300: nil
        case 429, 503: .wait(retryAfter(headers, now: now))
        case 400..<500: .refused("The LMS answered \(status) for \(what): \(text.prefix(300))")
        default: .transient("The LMS answered \(status) for \(what): \(text.prefix(300))")
        }
    }

    /// Retry-After in seconds or as a date; 30 s when absent; at most an hour.
    static func retryAfter(_ headers: HTTPHeaders, now: Date) -> TimeInterval {
        guard let value = headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces) else { return 30 }
        if let seconds = Double(value), seconds.isFinite { return min(3600, max(1, seconds)) }
        let format = DateFormatter()
        (format.locale, format.dateFormat) = (Locale(identifier: "en_US_POSIX"), "EEE, dd MMM yyyy HH:mm:ss zzz")
        if let date = format.date(from: value) { return min(3600, max(1, date.timeIntervalSince(now))) }
        return 30
    }
}

/// Access tokens for the LMSs' services, per LMS and scope, until a minute before they expire; one request at a time
/// per LMS and scope.
actor LTIServiceTokens {
    private var kept: [String: (token: String, until: Date)] = [:]
    private var inFlight: [String: Task<Result<ServiceToken, LTIServices.Outcome>, any Error>] = [:]

    func token(for registration: LTIRegistration, scope: String, app: Application, now: Date) async throws -> Result<String, LTIServices.Outcome> {
        let key = "\(try registration.requireID()) \(scope)"
        if let kept = kept[key], kept.until > now { return .success(kept.token) }
        let task = inFlight[key] ?? Task { try await Self.fetch(registration, scope: scope, app: app, now: now) }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        switch try await task.value {
        case .success(let answer):
            kept[key] = (answer.accessToken, now.addingTimeInterval(max(0, (answer.expiresIn ?? 3600) - 60)))
            return .success(answer.accessToken)
        case .failure(let outcome):
            return .failure(outcome)
        }
    }

    func forget(registration: UUID, scope: String) {
        kept["\(registration) \(scope)"] = nil
    }

    /// The client credentials grant with a JWT assertion signed by the tool's key.
    static func fetch(_ registration: LTIRegistration, scope: String, app: Application, now: Date) async throws -> Result<ServiceToken, LTIServices.Outcome> {
        let key = try await LTIToolKeys.signing(secret: app.platformSecret, on: app.db, now: now, logger: app.logger)
        let assertion = try await key.sign(ClientAssertion(clientID: registration.clientID, tokenURL: registration.tokenURL, now: now))
        let form = [("grant_type", "client_credentials"), ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", assertion), ("scope", scope)]
            .map { "\($0.0)=\(SingleSignOns.formEncode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: registration.tokenURL)
        request.method = .POST
        request.headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
        request.headers.add(name: .accept, value: "application/json")
        request.body = .bytes(ByteBuffer(string: form))
        let response: HTTPClientResponse
        do { response = try await app.identityHTTP.send(request, .seconds(15)) } catch {
            return .failure(.transient("The LMS's token endpoint could not be reached: \(error)"))
        }
        let body = (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer()
        switch LTIServices.failure(response.status.code, response.headers, text: String(buffer: body), what: "the tool's access token request", now: now) {
        case nil:
            guard let answer = try? JSONDecoder().decode(ServiceToken.self, from: Data(buffer: body)), !answer.accessToken.isEmpty else {
                return .failure(.transient("The LMS's token endpoint answered without an access token."))
            }
            return .success(answer)
        // A refusal means the registration is wrong (client id, key set not entered at the LMS, scope not granted):
        // every call of this LMS would fail the same way, so the job waits and tries again rather than failing each row.
        case .refused(let reason): return .failure(.transient(reason))
        case let other?: return .failure(other)
        }
    }
}

extension Application {
    private struct LTIServiceTokensKey: StorageKey { typealias Value = LTIServiceTokens }
    var ltiServiceTokens: LTIServiceTokens {
        /// Set once in `configure`.
        get { storage[LTIServiceTokensKey.self]! }
        set { storage[LTIServiceTokensKey.self] = newValue }
    }
}
