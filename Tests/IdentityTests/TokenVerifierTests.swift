// Every way an id_token can be forged or replayed, performed for real against the verifier: tokens signed by keys
// made here (RSA and P-256), served as a key set by a fetch function that counts its calls. Each must be refused
// with its own reason; the valid ones (including after the provider rotates its keys) accepted.
import CryptoExtras
import Foundation
import JWTKit
import Testing
@testable import Identity

/// A provider's signing keys and the key set it publishes.
final class Provider: @unchecked Sendable {
    let issuer = "https://idp.example.edu"
    let clientID = "campuscloud"
    let keySetURL = URL(string: "https://idp.example.edu/jwks")!
    private let lock = NSLock()
    /// The public side of its keys by kid (the private side signs in the tests).
    private var published: [String: JWK] = [:]
    private var _failing = false
    private var _fetches = 0
    var failing: Bool {
        get { lock.withLock { _failing } }
        set { lock.withLock { _failing = newValue } }
    }
    var fetches: Int { lock.withLock { _fetches } }
    let cacheControl = "max-age=300"
    /// The cache under test, fetching this provider's document (and counting).
    private(set) var cache: KeySetCache!

    init() {
        cache = KeySetCache { [self] url in
            #expect(url == keySetURL)
            let failing = lock.withLock { _fetches += 1; return _failing }
            if failing { throw URLError(.cannotConnectToHost) }
            try await Task.sleep(for: .milliseconds(20))  // long enough for concurrent verifications to meet
            return (try document(), cacheControl)
        }
    }

    static func rsaKey() throws -> JWTKit.Insecure.RSA.PrivateKey {
        try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    func publish(rsa key: JWTKit.Insecure.RSA.PrivateKey, kid: String, alg: JWK.Algorithm? = .rs256) throws {
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        let jwk = JWK.rsa(alg, identifier: JWKIdentifier(string: kid), modulus: Self.base64URL(modulus), exponent: Self.base64URL(exponent))
        lock.withLock { published[kid] = jwk }
    }

    func publish(ec key: ES256PrivateKey, kid: String) {
        let parameters = key.publicKey.parameters!
        let jwk = JWK.ecdsa(.es256, identifier: JWKIdentifier(string: kid), x: parameters.x, y: parameters.y, curve: .p256)
        lock.withLock { published[kid] = jwk }
    }

    func withdraw(_ kid: String) { lock.withLock { published[kid] = nil } }

    /// The JWKS document, with strangers the verifier must skip: a symmetric key, an encryption key, a key without kid.
    func document() throws -> Data {
        let keys = try lock.withLock { try published.values.map { try JSONSerialization.jsonObject(with: JSONEncoder().encode($0)) } }
        let strangers: [[String: Any]] = [
            ["kty": "oct", "kid": "shared", "k": "c2VjcmV0"],
            ["kty": "RSA", "kid": "encryption", "use": "enc", "n": "AQAB", "e": "AQAB"],
            ["kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB"],
        ]
        return try JSONSerialization.data(withJSONObject: ["keys": keys + strangers])
    }

    func expectation(nonce: String = "n-1", leeway: TimeInterval = 60) -> TokenExpectation {
        TokenExpectation(issuer: issuer, clientID: clientID, keySetURL: keySetURL, nonce: nonce, leeway: leeway)
    }

    func claims(now: Date, _ change: (inout TokenClaims) -> Void = { _ in }) -> TokenClaims {
        var claims = TokenClaims(issuer: issuer, subject: "user-42", audience: [clientID], expires: now.timeIntervalSince1970 + 300,
                                 issuedAt: now.timeIntervalSince1970, nonce: "n-1", email: "ada@example.edu", emailVerified: true, name: "Ada")
        change(&claims)
        return claims
    }
}

/// Signs `claims` with an RSA key, under `kid` (nil: no kid in the header).
func sign(_ claims: TokenClaims, rsa key: JWTKit.Insecure.RSA.PrivateKey, kid: String?, digest: DigestAlgorithm = .sha256) async throws -> String {
    let keys = JWTKeyCollection()
    await keys.add(rsa: key, digestAlgorithm: digest, kid: kid.map { JWKIdentifier(string: $0) })
    return try await keys.sign(claims, kid: kid.map { JWKIdentifier(string: $0) })
}

func sign(_ claims: TokenClaims, ec key: ES256PrivateKey, kid: String) async throws -> String {
    let keys = JWTKeyCollection()
    await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
    return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
}

@Suite struct TokenVerifierTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func refusal(_ token: String, _ provider: Provider, expectation: TokenExpectation? = nil, at time: Date? = nil) async -> IdentityRefusal? {
        do {
            _ = try await TokenVerifier.verify(token, expecting: expectation ?? provider.expectation(), keys: provider.cache, now: time ?? now)
            return nil
        } catch {
            return error
        }
    }

    @Test func aValidTokenIsAcceptedWithItsClaims() async throws {
        let provider = Provider()
        let key = try Provider.rsaKey()
        try provider.publish(rsa: key, kid: "k1")
        let token = try await sign(provider.claims(now: now), rsa: key, kid: "k1")
        let claims = try await TokenVerifier.verify(token, expecting: provider.expectation(), keys: provider.cache, now: now)
        #expect(claims.subject == "user-42")
        #expect(claims.email == "ada@example.edu" && claims.emailVerified == true)
        let origin = try TokenVerifier.unverifiedOrigin(of: token)
        #expect(origin.issuer == provider.issuer && origin.audiences == [provider.clientID])
        // ES256 from a P-256 key in the same set.
        let ec = ES256PrivateKey()
        provider.publish(ec: ec, kid: "ec1")
        await provider.cache.forget(provider.keySetURL)
        let ecToken = try await sign(provider.claims(now: now), ec: ec, kid: "ec1")
        #expect(await refusal(ecToken, provider) == nil)
    }

    @Test func forgedSignaturesAndAlgorithmsAreRefused() async throws {
        let provider = Provider()
        let key = try Provider.rsaKey(), forger = try Provider.rsaKey()
        try provider.publish(rsa: key, kid: "k1")
        // Signed by another key under the provider's kid.
        #expect(await refusal(try await sign(provider.claims(now: now), rsa: forger, kid: "k1"), provider) == .badSignature)
        // A valid token with its claims changed afterwards (the signature no longer covers them).
        let valid = try await sign(provider.claims(now: now), rsa: key, kid: "k1").split(separator: ".")
        var changed = provider.claims(now: now)
        changed.subject = "admin"
        let changedPayload = Provider.base64URL(try JSONEncoder().encode(changed))
        #expect(await refusal("\(valid[0]).\(changedPayload).\(valid[2])", provider) == .badSignature)
        // No kid: JWTKit would fall back to a default key; the verifier refuses first.
        #expect(await refusal(try await sign(provider.claims(now: now), rsa: key, kid: nil), provider) == .missingKeyID)
        // alg none, HS256 with the public key's bytes as the secret, RS256 claimed over an EC key.
        let claims = Provider.base64URL(try JSONEncoder().encode(provider.claims(now: now)))
        let none = Provider.base64URL(Data(#"{"alg":"none","kid":"k1"}"#.utf8))
        #expect(await refusal("\(none).\(claims).AAAA", provider) == .algorithmNotAllowed("none"))
        #expect(await refusal("\(none).\(claims).", provider) == .malformed("it does not have three parts"))
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: Data(try key.publicKey.getKeyPrimitives().modulus)), digestAlgorithm: .sha256, kid: JWKIdentifier(string: "k1"))
        #expect(await refusal(try await hmac.sign(provider.claims(now: now), kid: JWKIdentifier(string: "k1")), provider) == .algorithmNotAllowed("HS256"))
        let ec = ES256PrivateKey()
        #expect(await refusal(try await sign(provider.claims(now: now), ec: ec, kid: "k1"), provider) == .keyDoesNotFit("the key is for RS256, the token says ES256"))
        // A key published for RS256 does not verify RS512 (no algorithm switch by header).
        #expect(await refusal(try await sign(provider.claims(now: now), rsa: key, kid: "k1", digest: .sha512), provider)
                == .keyDoesNotFit("the key is for RS256, the token says RS512"))
        // Not a JWT at all.
        #expect(await refusal("not.a-token", provider) == .malformed("it does not have three parts"))
        #expect(await refusal("e30.e30.e30", provider) == .algorithmNotAllowed(nil))
    }

    @Test func claimsAreCheckedWithTheLeeway() async throws {
        let provider = Provider()
        let key = try Provider.rsaKey()
        try provider.publish(rsa: key, kid: "k1")
        func token(_ change: (inout TokenClaims) -> Void) async throws -> String { try await sign(provider.claims(now: now, change), rsa: key, kid: "k1") }
        let t = now.timeIntervalSince1970
        #expect(await refusal(try await token { $0.issuer = "https://evil.example" }, provider) == .wrongIssuer("https://evil.example"))
        #expect(await refusal(try await token { $0.issuer = nil }, provider) == .missingClaim("iss"))
        #expect(await refusal(try await token { $0.audience = ["another-tool"] }, provider) == .wrongAudience)
        #expect(await refusal(try await token { $0.audience = ["campuscloud", "another-tool"] }, provider) == .wrongAudience)
        #expect(await refusal(try await token { $0.audience = nil }, provider) == .missingClaim("aud"))
        #expect(await refusal(try await token { $0.authorizedParty = "another-tool" }, provider) == .wrongAuthorizedParty)
        #expect(await refusal(try await token { $0.authorizedParty = "campuscloud" }, provider) == nil)
        #expect(await refusal(try await token { $0.expires = t - 61 }, provider) == .expired)
        #expect(await refusal(try await token { $0.expires = t - 30 }, provider) == nil)  // within the leeway
        #expect(await refusal(try await token { $0.expires = t - 30 }, provider, expectation: provider.expectation(leeway: 0)) == .expired)
        #expect(await refusal(try await token { $0.expires = nil }, provider) == .missingClaim("exp"))
        #expect(await refusal(try await token { $0.issuedAt = t + 120 }, provider) == .issuedInTheFuture)
        #expect(await refusal(try await token { $0.issuedAt = t + 30 }, provider) == nil)
        #expect(await refusal(try await token { $0.issuedAt = nil }, provider) == .missingClaim("iat"))
        #expect(await refusal(try await token { $0.subject = nil }, provider) == .missingClaim("sub"))
        #expect(await refusal(try await token { $0.subject = "" }, provider) == .missingClaim("sub"))
        #expect(await refusal(try await token { $0.nonce = nil }, provider) == .missingClaim("nonce"))
        #expect(await refusal(try await token { $0.nonce = "n-2" }, provider) == .nonceMismatch)
        // The same valid token later, past its expiry.
        let valid = try await token { _ in }
        #expect(await refusal(valid, provider) == nil)
        #expect(await refusal(valid, provider, at: now.addingTimeInterval(361)) == .expired)
    }

    @Test func unknownKeysFetchTheSetOnceAMinuteAndRotationIsFollowed() async throws {
        let provider = Provider()
        let old = try Provider.rsaKey(), new = try Provider.rsaKey()
        try provider.publish(rsa: old, kid: "k1")
        #expect(await refusal(try await sign(provider.claims(now: now), rsa: old, kid: "k1"), provider) == nil)
        #expect(provider.fetches == 1)
        // The provider rotates: a token under the new kid makes one fetch, and is accepted.
        try provider.publish(rsa: new, kid: "k2")
        provider.withdraw("k1")
        let later = now.addingTimeInterval(90)
        #expect(await refusal(try await sign(provider.claims(now: later), rsa: new, kid: "k2"), provider, at: later) == nil)
        #expect(provider.fetches == 2)
        // Forged kids: the first fetches again only once the minute has passed; a flood right after fetches nothing.
        let forger = try Provider.rsaKey()
        for second in 0..<20 {
            let at = later.addingTimeInterval(Double(second))
            #expect(await refusal(try await sign(provider.claims(now: at), rsa: forger, kid: "forged-\(second)"), provider, at: at) == .unknownKeyID("forged-\(second)"))
        }
        #expect(provider.fetches == 2)
        let minuteOn = later.addingTimeInterval(61)
        #expect(await refusal(try await sign(provider.claims(now: minuteOn), rsa: forger, kid: "forged"), provider, at: minuteOn) == .unknownKeyID("forged"))
        #expect(provider.fetches == 3)
        // The withdrawn key is gone from the set fetched since.
        #expect(await refusal(try await sign(provider.claims(now: minuteOn), rsa: old, kid: "k1"), provider, at: minuteOn) == .unknownKeyID("k1"))
    }

    @Test func theSetIsKeptAsLongAsTheProviderSaysAndSharedBetweenConcurrentSignIns() async throws {
        let provider = Provider()
        let key = try Provider.rsaKey()
        try provider.publish(rsa: key, kid: "k1")
        let token = try await sign(provider.claims(now: now), rsa: key, kid: "k1")
        let results = await withTaskGroup(of: IdentityRefusal?.self) { group in
            for _ in 0..<10 { group.addTask { await refusal(token, provider) } }
            return await group.reduce(into: [IdentityRefusal?]()) { $0.append($1) }
        }
        #expect(results.count == 10 && results.allSatisfy { $0 == nil })
        #expect(provider.fetches == 1)
        // max-age=300: still cached at 299 s, fetched again at 301 s.
        let late = now.addingTimeInterval(299)
        #expect(await refusal(try await sign(provider.claims(now: late), rsa: key, kid: "k1"), provider, at: late) == nil)
        #expect(provider.fetches == 1)
        let stale = now.addingTimeInterval(301)
        #expect(await refusal(try await sign(provider.claims(now: stale), rsa: key, kid: "k1"), provider, at: stale) == nil)
        #expect(provider.fetches == 2)
        // The provider is down: the set fetched before still serves (asked again a minute later, not every time).
        provider.failing = true
        let down = now.addingTimeInterval(700)
        #expect(await refusal(try await sign(provider.claims(now: down), rsa: key, kid: "k1"), provider, at: down) == nil)
        #expect(await refusal(try await sign(provider.claims(now: down), rsa: key, kid: "k1"), provider, at: down.addingTimeInterval(10)) == nil)
        #expect(provider.fetches == 3)
        // Down for more than a day since it last answered: the old set is no longer trusted.
        let dayLater = now.addingTimeInterval(301 + 86_401)
        guard case .keySetUnavailable = await refusal(try await sign(provider.claims(now: dayLater), rsa: key, kid: "k1"), provider, at: dayLater) else {
            Issue.record("a set cached more than a day before the provider stopped answering was still used"); return
        }
        // A provider never reached: a clear refusal.
        let unreachable = Provider()
        unreachable.failing = true
        guard case .keySetUnavailable = await refusal(token, unreachable) else { Issue.record("expected keySetUnavailable"); return }
    }

    @Test func keySetsAreReadKeyByKeyAndCacheControlIsBounded() throws {
        let provider = Provider()
        try provider.publish(rsa: try Provider.rsaKey(), kid: "k1")
        let set = try KeySet(json: try provider.document())
        #expect(Array(set.keys.keys) == ["k1"])  // the symmetric, encryption and kid-less keys are skipped
        #expect(throws: IdentityRefusal.self) { try KeySet(json: Data("[1,2]".utf8)) }
        #expect(KeySetCache.lifetime(nil) == 3600)
        #expect(KeySetCache.lifetime("public, max-age=300") == 300)
        #expect(KeySetCache.lifetime("max-age=5") == 60)
        #expect(KeySetCache.lifetime("max-age=9999999") == 86_400)
        #expect(KeySetCache.lifetime("no-store") == 60)
        #expect(KeySetCache.lifetime("max-age=banana") == 3600)
        #expect(KeySetCache.lifetime("max-age=nan") == 3600 && KeySetCache.lifetime("max-age=inf") == 3600)
    }

    @Test func pkceMatchesRFC7636() {
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        let (a, b) = (PKCE.verifier(), PKCE.verifier())
        #expect(a.count == 43 && a != b && !a.contains("=") && !a.contains("+") && !a.contains("/"))
    }
}
