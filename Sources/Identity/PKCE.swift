// Proof Key for Code Exchange (RFC 7636, S256): the sign-in keeps a random verifier and sends its SHA-256 as the
// challenge, so an authorization code stolen on its way back is useless without the verifier. Also the random
// state and nonce values a sign-in keeps.
import Crypto
import Foundation

public enum PKCE {
    /// A new verifier: 32 random bytes, base64url (43 characters).
    public static func verifier() -> String { randomToken(bytes: 32) }

    /// The S256 challenge for `verifier`.
    public static func challenge(for verifier: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    /// `bytes` random bytes, base64url without padding (state, nonce, verifier).
    public static func randomToken(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return base64URL(Data((0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
