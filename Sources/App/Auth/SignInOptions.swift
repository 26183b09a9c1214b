// What the sign-in page offers besides a password: the enabled single sign-on providers, and for which email domains
// a password is no longer accepted (their provider's people sign in through it only). Read from the providers' table
// here, in the shared Auth layer, so the Account area's pages need nothing of the SingleSignOn area.
import Fluent
import Foundation

enum SignInOptions {
    /// The session key under which a single sign-on leaves its provider's sign-out address (read when signing out).
    static let endSessionKey = "ssoEndSession"
    /// The session key of this browser's random value, whose hash each single sign-on it starts is bound to.
    static let browserKey = "ssoBrowser"

    static func providers(on db: any Database) async throws -> [(name: String, id: UUID)] {
        try await IdentityProvider.query(on: db).filter(\.$enabled == true).sort(\.$name).all().map { ($0.name, try $0.requireID()) }
    }

    /// The name of the provider through which this email's people must sign in, or nil when a password may be used.
    /// Administrators keep their passwords (single sign-on never links their accounts by email, so nothing else would
    /// let them in).
    static func passwordSignInOff(for email: String, on db: any Database) async throws -> String? {
        let normalised = User.normalise(email: email)
        guard let provider = try await provider(refusingPasswordsOf: normalised, on: db) else { return nil }
        if try await User.query(on: db).filter(\.$email == normalised).filter(\.$isAdmin == true).first() != nil { return nil }
        return provider.name
    }

    /// The same for a person already found.
    static func passwordSignInOff(for user: User, on db: any Database) async throws -> String? {
        guard !user.isAdmin else { return nil }
        return try await provider(refusingPasswordsOf: user.email, on: db)?.name
    }

    private static func provider(refusingPasswordsOf normalised: String, on db: any Database) async throws -> IdentityProvider? {
        guard let at = normalised.lastIndex(of: "@") else { return nil }
        let domain = String(normalised[normalised.index(after: at)...])
        return try await IdentityProvider.query(on: db).filter(\.$enabled == true).filter(\.$passwordSignInOff == true).all()
            .first(where: { $0.domains.contains(domain) })
    }
}
