// What the templates of signing in, setting a password and the profile are given (their view-models; links come from SitePath).
import Foundation
import Vapor

struct SignInPage: Encodable {
    var title = "Sign in"
    var page: PageContext
    var email: String
    var next: String
    var error: String?
    var action = SitePath.signIn.url
    /// The single sign-on providers, one button each.
    var providers: [Provider] = []

    struct Provider: Encodable {
        var name: String
        var action: String
    }
}

struct ProfilePage: Encodable {
    struct KeyRow: Encodable {
        var name: String
        var prefix: String
        var created: String
        var lastUsed: String?
        var revoke: String

        init(_ key: APIKeyDTO) {
            revoke = SitePath.revokeProfileKey(.id(key.id)).url
            let format = Date.FormatStyle(date: .numeric, time: .shortened, timeZone: TimeZone(identifier: "UTC")!)
            name = key.name
            prefix = key.prefix
            created = key.createdAt.map { $0.formatted(format) } ?? ""
            lastUsed = key.lastUsedAt.map { $0.formatted(format) }
        }
    }
    var title = "Profile"
    var page: PageContext
    var changePassword = SitePath.profilePassword.url, createKey = SitePath.profileKeys.url
    var name: String
    var email: String
    var keys: [KeyRow]
    var newToken: String?
    var newKeyName: String?
    var changed: Bool
}

struct SetPasswordPage: Encodable {
    var title = "Set your password"
    var page: PageContext
    var token: String
    var email: String?
    var error: String?
    var action = SitePath.setPassword.url
}
