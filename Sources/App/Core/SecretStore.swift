// The platform secret (signs sessions and links). Taken from CAMPUSCLOUD_SECRET, or generated on first start and
// kept in the data folder readable by the owner only. It is never logged. The folder itself is 0711 (enter, not
// list) so that the sandbox's unprivileged uids can reach their job folders below it.
import Foundation
import Crypto

public enum SecretStore {
    public static let fileName = "secret"

    public static func resolve(_ config: AppConfig) throws -> String {
        if let secret = config.secret { return secret }
        let fm = FileManager.default
        let path = (config.dataDirectory as NSString).appendingPathComponent(fileName)
        if let data = fm.contents(atPath: path), let text = String(data: data, encoding: .utf8) {
            let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if secret.utf8.count >= AppConfig.minimumSecretLength { return secret }
        }
        do {
            try fm.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        } catch {
            throw StartupError.dataDirectory(config.dataDirectory, reason: "it cannot be created")
        }
        let secret = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
        guard fm.createFile(atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw StartupError.dataDirectory(config.dataDirectory, reason: "the secret file cannot be written there")
        }
        return secret
    }
}
