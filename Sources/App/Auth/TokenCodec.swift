// The shape of bearer tokens: cc_<prefix>_<secret>. The prefix finds the stored key; only SHA-256 of the secret is
// stored, compared in constant time. Pure functions, no database.
import Crypto
import Foundation

enum TokenCodec {
    static let prefixLength = 12
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")

    struct Parts: Equatable {
        var prefix: String
        var secret: String
    }

    /// A new token and the parts to store.
    static func generate() -> (token: String, prefix: String, secretHash: String) {
        var generator = SystemRandomNumberGenerator()
        let prefix = String((0..<prefixLength).map { _ in alphabet.randomElement(using: &generator)! })
        let secret = randomSecret()
        return ("cc_\(prefix)_\(secret)", prefix, hash(secret))
    }

    /// 256 random bits, URL-safe base64 without padding (43 characters).
    static func randomSecret() -> String {
        Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func parse(_ token: String) -> Parts? {
        let pieces = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0] == "cc", pieces[1].count == prefixLength, !pieces[2].isEmpty, pieces[2].count <= 128 else { return nil }
        return Parts(prefix: String(pieces[1]), secret: String(pieces[2]))
    }

    static func hash(_ secret: String) -> String {
        // Hex by table: String(format:) per byte is slow on Linux, and the gateway hashes a key on every request.
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(secret.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// Compares two hex digests without an early exit.
    static func matches(_ secret: String, hash stored: String) -> Bool {
        let computed = Array(hash(secret).utf8), expected = Array(stored.utf8)
        guard computed.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in computed.indices { difference |= computed[index] ^ expected[index] }
        return difference == 0
    }
}
