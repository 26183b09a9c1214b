// The tool's own signing key, for the messages it sends an LMS (a Deep Linking response; later the client assertions
// of grade passback and roster calls): an RSA key (RS256, which every LMS accepts), its id, its PEM to keep, and the
// public half as the JWK the tool publishes. JWTKit signs; no cryptography is written here.
import CryptoExtras
import Foundation
import JWTKit

public struct ToolSigningKey: Sendable {
    public let kid: String
    let key: JWTKit.Insecure.RSA.PrivateKey

    /// A new 2048-bit key with a random id.
    public static func generate() throws -> ToolSigningKey {
        let key = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        return ToolSigningKey(kid: PKCE.randomToken(bytes: 16), key: key)
    }

    /// A key kept as `pem` under `kid`.
    public init(kid: String, pem: String) throws(IdentityRefusal) {
        guard let key = try? JWTKit.Insecure.RSA.PrivateKey(pem: pem) else { throw .malformed("the tool's key is not an RSA private key") }
        self.init(kid: kid, key: key)
    }

    init(kid: String, key: JWTKit.Insecure.RSA.PrivateKey) {
        (self.kid, self.key) = (kid, key)
    }

    public var pem: String { key.pemRepresentation }

    /// The public half as a JWK: kty, kid, alg, use, n and e — never a private part.
    public func publicJWK() throws -> [String: String] {
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        return ["kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": PKCE.base64URL(modulus), "e": PKCE.base64URL(exponent)]
    }

    /// `payload` signed with RS256 under this key's id.
    public func sign(_ payload: some JWTPayload) async throws -> String {
        let keys = JWTKeyCollection()
        let identifier = JWKIdentifier(string: kid)
        await keys.add(rsa: key, digestAlgorithm: .sha256, kid: identifier)
        return try await keys.sign(payload, kid: identifier)
    }
}
