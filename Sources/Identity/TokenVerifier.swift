// Accepting an id_token from an OpenID Connect provider or an LTI platform, every rule in one order, none skipped:
// the header names an allowed asymmetric algorithm and a key id; that key is in the provider's published set (a
// rotation fetches the set again); the key fits the algorithm; the signature verifies (JWTKit: no cryptography here);
// then the claims: issuer exactly, audience only this client, azp when present, not expired, not issued in the
// future (both with the configured leeway), a subject, and the nonce this sign-in sent. The key is chosen here, by
// kid, never by JWTKit's fallback to a default key.
import Foundation
import JWTKit

public struct TokenExpectation: Sendable {
    /// Asymmetric algorithms only: "none" and HMAC (a shared secret a public key could be mistaken for) never.
    public static let allowedAlgorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]

    public var issuer: String
    public var clientID: String
    public var keySetURL: URL
    /// The nonce this sign-in sent (kept with its state), which the token must carry back.
    public var nonce: String
    public var leeway: TimeInterval
    public var algorithms: Set<String>

    public init(issuer: String, clientID: String, keySetURL: URL, nonce: String, leeway: TimeInterval = 60,
                algorithms: Set<String> = TokenExpectation.allowedAlgorithms) {
        (self.issuer, self.clientID, self.keySetURL, self.nonce, self.leeway) = (issuer, clientID, keySetURL, nonce, leeway)
        self.algorithms = algorithms.intersection(Self.allowedAlgorithms)
    }
}

public enum TokenVerifier {
    /// What a token says about where it is from, before anything is verified: only for finding which registration's
    /// rules apply (an LMS posts the token without saying which of its registrations it comes from).
    public static func unverifiedOrigin(of token: String) throws(IdentityRefusal) -> (issuer: String, audiences: [String]) {
        let parts = try segments(token)
        guard let payload = decodeSegment(parts[1]),
              let claims = try? JSONDecoder().decode(TokenClaims.self, from: payload) else { throw .malformed("its claims are not JSON") }
        guard let issuer = claims.issuer else { throw .missingClaim("iss") }
        guard let audiences = claims.audience, !audiences.isEmpty else { throw .missingClaim("aud") }
        return (issuer, audiences)
    }

    public static func verify(_ token: String, expecting expectation: TokenExpectation, keys: KeySetCache,
                              now: Date) async throws(IdentityRefusal) -> TokenClaims {
        let parts = try segments(token)
        guard let headerData = decodeSegment(parts[0]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw .malformed("its header is not JSON")
        }
        let algorithm = header["alg"] as? String
        guard let algorithm, expectation.algorithms.contains(algorithm) else { throw .algorithmNotAllowed(algorithm) }
        guard header["crit"] == nil else { throw .malformed("it names critical header extensions this platform does not know") }
        guard let kid = header["kid"] as? String, !kid.isEmpty else { throw .missingKeyID }
        guard var key = try await keys.key(kid, in: expectation.keySetURL, now: now) else { throw .unknownKeyID(kid) }
        try fit(key, to: algorithm)
        key.algorithm = JWK.Algorithm(rawValue: algorithm)

        let claims: TokenClaims
        do {
            let collection = JWTKeyCollection()
            try await collection.add(jwk: key)
            claims = try await collection.verify(token, as: TokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw .malformed("its claims could not be read")
        } catch {
            throw .keyDoesNotFit("the signature could not be checked with it")
        }
        try check(claims, against: expectation, now: now)
        return claims
    }

    /// The claim rules, on claims whose signature verified.
    static func check(_ claims: TokenClaims, against expectation: TokenExpectation, now: Date) throws(IdentityRefusal) {
        guard let issuer = claims.issuer else { throw .missingClaim("iss") }
        guard issuer == expectation.issuer else { throw .wrongIssuer(issuer) }
        guard let audiences = claims.audience, !audiences.isEmpty else { throw .missingClaim("aud") }
        // Only this client: a token also meant for another party is refused (OpenID Connect Core 3.1.3.7).
        guard audiences.allSatisfy({ $0 == expectation.clientID }) else { throw .wrongAudience }
        if let party = claims.authorizedParty, party != expectation.clientID { throw .wrongAuthorizedParty }
        guard let expires = claims.expires else { throw .missingClaim("exp") }
        guard now.timeIntervalSince1970 - expectation.leeway < expires else { throw .expired }
        guard let issuedAt = claims.issuedAt else { throw .missingClaim("iat") }
        guard issuedAt <= now.timeIntervalSince1970 + expectation.leeway else { throw .issuedInTheFuture }
        guard let subject = claims.subject, !subject.isEmpty, subject.utf8.count <= 255 else { throw .missingClaim("sub") }
        guard let nonce = claims.nonce else { throw .missingClaim("nonce") }
        guard constantTimeEqual(nonce, expectation.nonce) else { throw .nonceMismatch }
    }

    /// The key must be of the algorithm's kind (and say the same algorithm when it names one): an RSA key never
    /// verifies an ES256 token and the reverse, whatever the header claims.
    static func fit(_ key: JWK, to algorithm: String) throws(IdentityRefusal) {
        if let named = key.algorithm?.rawValue, named != algorithm {
            throw .keyDoesNotFit("the key is for \(named), the token says \(algorithm)")
        }
        switch algorithm.prefix(2) {
        case "RS", "PS": guard key.keyType == .rsa else { throw .keyDoesNotFit("\(algorithm) needs an RSA key") }
        case "ES":
            let curve = ["ES256": "P-256", "ES384": "P-384"][algorithm]
            guard key.keyType == .ecdsa, key.curve?.rawValue == curve else { throw .keyDoesNotFit("\(algorithm) needs a \(curve ?? "") key") }
        default: throw .algorithmNotAllowed(algorithm)
        }
    }

    static func segments(_ token: String) throws(IdentityRefusal) -> [Substring] {
        guard token.utf8.count <= 64 * 1024 else { throw .malformed("it is longer than 64 KiB") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { throw .malformed("it does not have three parts") }
        return parts
    }

    static func decodeSegment(_ segment: Substring) -> Data? {
        var text = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
