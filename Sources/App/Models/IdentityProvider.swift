// Single sign-on (issue 21): an OpenID Connect provider an admin added, the identities people hold there, and the
// sign-ins under way.
import Fluent
import Foundation

final class IdentityProvider: Model, @unchecked Sendable {
    static let schema = "identity_providers"

    @ID(key: .id) var id: UUID?
    /// What the sign-in page's button says ("Sign in with …").
    @Field(key: "name") var name: String
    @Field(key: "issuer") var issuer: String
    @Field(key: "client_id") var clientID: String
    /// The NAME of the environment variable holding the client secret (CAMPUSCLOUD_SSO_…), never the secret.
    @Field(key: "secret_env") var secretEnv: String
    @Field(key: "scopes") var scopes: String
    @Field(key: "authorization_endpoint") var authorizationEndpoint: String
    @Field(key: "token_endpoint") var tokenEndpoint: String
    @Field(key: "jwks_uri") var jwksURI: String
    @OptionalField(key: "end_session_endpoint") var endSessionEndpoint: String?
    /// The signing algorithms it announced that this platform accepts, comma-separated.
    @Field(key: "algorithms") var algorithms: String
    /// Email domains it speaks for, comma-separated, lower-case ("" for none).
    @Field(key: "email_domains") var emailDomains: String
    /// Its domains' people sign in through it only: no password sign-in, no reset link.
    @Field(key: "password_sign_in_off") var passwordSignInOff: Bool
    /// A first sign-in whose verified email is an existing account's (in its domains) is linked to that account.
    @Field(key: "link_by_email") var linkByEmail: Bool
    /// A first sign-in that matches no account creates one (verified email in its domains).
    @Field(key: "create_accounts") var createAccounts: Bool
    @Field(key: "enabled") var enabled: Bool
    /// The claim → role rule: whose `roleClaim` holds one of `roleValues` (comma-separated, compared without case) may
    /// create courses in `courseCreatorsProgramme`. All three or none.
    @OptionalField(key: "role_claim") var roleClaim: String?
    @OptionalField(key: "role_values") var roleValues: String?
    @OptionalField(key: "course_creators_programme_id") var courseCreatorsProgramme: UUID?
    @Field(key: "discovered_at") var discoveredAt: Date
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    /// The values of the claim → role rule, lower-case.
    var roleValueList: [String] { (roleValues ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty } }

    var domains: [String] { emailDomains.split(separator: ",").map { String($0) } }
    var algorithmSet: Set<String> { Set(algorithms.split(separator: ",").map { String($0) }) }

    /// Whether it speaks for this email's domain (any, when it names none).
    func covers(email: String) -> Bool {
        guard let domain = email.split(separator: "@").last.map({ $0.lowercased() }), email.contains("@") else { return false }
        return domains.isEmpty || domains.contains(domain)
    }
}

final class ExternalIdentity: Model, @unchecked Sendable {
    static let schema = "external_identities"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "issuer") var issuer: String
    @Field(key: "subject") var subject: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @OptionalField(key: "last_seen_at") var lastSeenAt: Date?

    init() {}

    init(userID: UUID, issuer: String, subject: String, at now: Date) {
        $user.id = userID
        (self.issuer, self.subject, lastSeenAt) = (issuer, subject, now)
    }
}

final class SSOSignIn: Model, @unchecked Sendable {
    static let schema = "sso_sign_ins"

    @ID(key: .id) var id: UUID?
    @Parent(key: "provider_id") var provider: IdentityProvider
    @Field(key: "state_hash") var stateHash: String
    @Field(key: "nonce") var nonce: String
    @Field(key: "code_verifier") var codeVerifier: String
    @Field(key: "browser_hash") var browserHash: String
    @Field(key: "next_path") var next: String
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?

    init() {}
}
