// The identity providers admins add: checked, then discovered (the issuer's /.well-known/openid-configuration, whose
// issuer must be the one entered, its endpoints https — plain http only on this machine's loopback, for a provider
// run beside the platform), then stored with what discovery found, so a sign-in starts without the network. The
// client secret stays in an environment variable named CAMPUSCLOUD_SSO_…; only the name is stored.
import AsyncHTTPClient
import Fluent
import Foundation
import Identity
import NIOCore
import Vapor

struct IdentityProviderInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, issuer, clientID, secretEnv, scopes, emailDomains, passwordSignInOff, linkByEmail, createAccounts
    }
    typealias Fields = CodingKeys
    var name: String?
    var issuer: String?
    var clientID: String?
    var secretEnv: String?
    var scopes: String?
    /// Comma- or space-separated.
    var emailDomains: String?
    var passwordSignInOff: Bool?
    var linkByEmail: Bool?
    var createAccounts: Bool?
}

extension IdentityProviderInput: APIInput {
    static let schema = JSONSchema.object([
        "name": .text(max: 100), "issuer": .string(maxLength: 500, pattern: "^ *https?://[^/?#\\s]+"), "clientID": .text(max: 200),
        "secretEnv": .string(pattern: "^ *CAMPUSCLOUD_SSO_[A-Z0-9_]{1,80} *$"), "scopes": .optionalText(max: 200),
        "emailDomains": .optionalText(max: 500), "passwordSignInOff": .boolean, "linkByEmail": .boolean, "createAccounts": .boolean,
    ], required: ["name", "issuer", "clientID", "secretEnv"])
}

/// What an admin may change of a provider (its address and client are fixed: add another instead).
struct IdentityProviderChange: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, emailDomains, passwordSignInOff, linkByEmail, createAccounts, roleClaim, roleValues, courseCreatorsProgrammeID
    }
    typealias Fields = CodingKeys
    var enabled: Bool?
    var emailDomains: String?
    var passwordSignInOff: Bool?
    var linkByEmail: Bool?
    var createAccounts: Bool?
    /// The claim → role rule: the claim's name, its values (comma- or space-separated), the programme whose courses
    /// such people may create. All three, or all empty (no rule).
    var roleClaim: String?
    var roleValues: String?
    var courseCreatorsProgrammeID: String?
}

extension IdentityProviderChange: APIInput {
    static let schema = JSONSchema.object([
        "enabled": .boolean, "emailDomains": .optionalText(max: 500), "passwordSignInOff": .boolean, "linkByEmail": .boolean, "createAccounts": .boolean,
        "roleClaim": .optionalText(max: 100), "roleValues": .optionalText(max: 500), "courseCreatorsProgrammeID": .optionalText(max: 40),
    ], required: [])
}

struct IdentityProviderDTO: Content {
    var id: UUID
    var name: String
    var issuer: String
    var clientID: String
    /// The NAME of the variable holding the client secret, and whether this process has it; never the secret.
    var secretEnv: String
    var secretPresent: Bool
    var scopes: String
    var emailDomains: [String]
    var passwordSignInOff: Bool
    var linkByEmail: Bool
    var createAccounts: Bool
    var enabled: Bool
    /// What the provider's admin enters as the redirect URI for this platform.
    var redirectURI: String
    var endSession: Bool
    /// The claim → role rule, when there is one.
    var roleClaim: String?
    var roleValues: [String]
    var courseCreatorsProgrammeID: UUID?
}

extension IdentityProviderDTO: APIBody {
    static let schemaName = "IdentityProvider"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "name": .string(), "issuer": .string(), "clientID": .string(), "secretEnv": .string(),
        "secretPresent": .boolean, "scopes": .string(), "emailDomains": .array(.string()), "passwordSignInOff": .boolean,
        "linkByEmail": .boolean, "createAccounts": .boolean, "enabled": .boolean, "redirectURI": .string(), "endSession": .boolean,
        "roleClaim": .string(), "roleValues": .array(.string()), "courseCreatorsProgrammeID": .string(format: "uuid"),
    ], required: ["id", "name", "issuer", "clientID", "secretEnv", "secretPresent", "scopes", "emailDomains", "passwordSignInOff",
                  "linkByEmail", "createAccounts", "enabled", "redirectURI", "endSession", "roleValues"])
    static let samples = [IdentityProviderDTO(
        id: Sample.id, name: "University login", issuer: "https://login.uni.example", clientID: "campuscloud",
        secretEnv: "CAMPUSCLOUD_SSO_UNI", secretPresent: true, scopes: "openid email profile", emailDomains: ["uni.example"],
        passwordSignInOff: true, linkByEmail: true, createAccounts: true, enabled: true,
        redirectURI: "https://campus.uni.example/signin/sso/\(Sample.id)/callback", endSession: true,
        roleClaim: "eduperson_affiliation", roleValues: ["staff", "faculty"], courseCreatorsProgrammeID: Sample.id)]
}

enum IdentityProviders {
    static let secretEnvPattern = #"^CAMPUSCLOUD_SSO_[A-Z0-9_]{1,80}$"#

    /// Only a CAMPUSCLOUD_SSO_ variable can ever be read as a client secret, whatever an admin types.
    static func allowedSecretEnv(_ name: String) -> Bool { name.range(of: secretEnvPattern, options: .regularExpression) != nil }

    static func secret(of provider: IdentityProvider) -> String? {
        guard allowedSecretEnv(provider.secretEnv) else { return nil }
        return ProcessInfo.processInfo.environment[provider.secretEnv].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// https anywhere; http only to this machine's loopback (a provider run beside the platform, as in the tests).
    static func acceptable(_ url: URL?) -> Bool {
        guard let url, let host = url.host?.lowercased(), !host.isEmpty, url.user == nil, url.password == nil else { return false }
        switch url.scheme?.lowercased() {
        case "https": return true
        case "http": return isLoopback(host)
        default: return false
        }
    }

    /// What a provider's discovery document may point to: for a provider on https, https addresses that are not this
    /// machine or a private network by IP (a provider cannot turn the platform's token request — with the client
    /// secret — toward a service inside); for one an admin runs on this machine's loopback, that loopback too.
    static func acceptable(endpoint: String, issuer: String) -> Bool {
        guard let url = URL(string: endpoint), acceptable(url), let host = url.host?.lowercased() else { return false }
        if let issuerHost = URL(string: issuer)?.host?.lowercased(), isLoopback(issuerHost), URL(string: issuer)?.scheme == "http" { return true }
        return url.scheme?.lowercased() == "https" && !isLoopback(host) && !isPrivateAddress(host)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// An IP literal in a private, link-local, unspecified or shared range (names are not resolved here).
    static func isPrivateAddress(_ host: String) -> Bool {
        let parts = host.split(separator: ".").compactMap { Int($0) }
        if parts.count == 4, parts.allSatisfy({ (0...255).contains($0) }) {
            switch (parts[0], parts[1]) {
            case (10, _), (0, _), (169, 254), (192, 168), (127, _): return true
            case (172, 16...31), (100, 64...127): return true
            default: return false
            }
        }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return bare.contains(":") && (bare.hasPrefix("fc") || bare.hasPrefix("fd") || bare.hasPrefix("fe80") || bare == "::" || bare.hasPrefix("::ffff:"))
    }

    static func list(on req: Request) async throws -> [IdentityProviderDTO] {
        try await IdentityProvider.query(on: req.db).sort(\.$name).all().map { try dto($0, config: req.application.platformConfig) }
    }

    static func dto(_ provider: IdentityProvider, config: AppConfig) throws -> IdentityProviderDTO {
        let id = try provider.requireID()
        return IdentityProviderDTO(
            id: id, name: provider.name, issuer: provider.issuer, clientID: provider.clientID, secretEnv: provider.secretEnv,
            secretPresent: secret(of: provider) != nil, scopes: provider.scopes, emailDomains: provider.domains,
            passwordSignInOff: provider.passwordSignInOff, linkByEmail: provider.linkByEmail, createAccounts: provider.createAccounts,
            enabled: provider.enabled, redirectURI: config.absolute(SitePath.ssoCallback(.id(id)).url),
            endSession: provider.endSessionEndpoint != nil, roleClaim: provider.roleClaim, roleValues: provider.roleValueList,
            courseCreatorsProgrammeID: provider.courseCreatorsProgramme)
    }

    /// Checks the input, discovers the provider, and stores it.
    static func add(_ input: IdentityProviderInput, app: Application, on db: any Database) async throws -> IdentityProvider {
        var checks = InputChecks()
        let name = checks.text(input.name, "name", max: 100)
        let issuer = checks.text(input.issuer, "issuer", max: 500)
        let clientID = checks.text(input.clientID, "clientID", max: 200)
        let secretEnv = checks.text(input.secretEnv, "secretEnv", max: 100)
        if let secretEnv, !allowedSecretEnv(secretEnv) {
            checks.add("secretEnv is the NAME of an environment variable that starts with CAMPUSCLOUD_SSO_ (A-Z, 0-9, _), e.g. "
                       + "CAMPUSCLOUD_SSO_UNIVERSITY — never the secret itself, and no other variable of the machine.")
        }
        if let issuer, !acceptable(URL(string: issuer)) {
            checks.add("issuer '\(issuer)' is not an https URL (plain http only on this machine's loopback).")
        }
        let scopes = checks.text(input.scopes, "scopes", max: 200, required: false).flatMap { $0.isEmpty ? nil : $0 } ?? "openid email profile"
        if !scopes.split(separator: " ").contains("openid") { checks.add("scopes must include openid.") }
        let domains = parseDomains(input.emailDomains ?? "", &checks)
        checkRules(domains: domains, passwordSignInOff: input.passwordSignInOff ?? false, linkByEmail: input.linkByEmail ?? false,
                   createAccounts: input.createAccounts ?? false, &checks)
        if app.platformConfig.publicURL == nil {
            checks.add("single sign-on needs the platform's public address (CAMPUSCLOUD_PUBLIC_URL) for the provider to send people back to.")
        }
        try checks.finish()
        if let name, try await IdentityProvider.query(on: db).filter(\.$name == name).first() != nil {
            throw InputRejection.conflict("a provider named '\(name)' exists.")
        }
        if try await IdentityProvider.query(on: db).filter(\.$issuer == issuer!).filter(\.$clientID == clientID!).first() != nil {
            throw InputRejection.conflict("this issuer and client id are registered already.")
        }
        // People are known by issuer and subject: an LMS registered with this issuer would speak for the same people.
        if try await LTIRegistration.query(on: db).filter(\.$issuer == issuer!).first() != nil {
            throw InputRejection.conflict("an LMS registered for LTI has this issuer; a provider needs an issuer of its own.")
        }
        // A secret is one provider's: another provider named with its variable would be sent it at its token endpoint.
        if try await IdentityProvider.query(on: db).filter(\.$secretEnv == secretEnv!).first() != nil {
            throw InputRejection.conflict("\(secretEnv!) holds another provider's secret; give this one a variable of its own.")
        }
        let found = try await discover(issuer: issuer!, app: app)
        let provider = IdentityProvider()
        (provider.name, provider.issuer, provider.clientID, provider.secretEnv, provider.scopes) = (name!, issuer!, clientID!, secretEnv!, scopes)
        provider.authorizationEndpoint = found.authorizationEndpoint
        provider.tokenEndpoint = found.tokenEndpoint
        provider.jwksURI = found.jwksURI
        provider.endSessionEndpoint = found.endSessionEndpoint
        provider.algorithms = found.algorithms.sorted().joined(separator: ",")
        provider.emailDomains = domains.joined(separator: ",")
        provider.passwordSignInOff = input.passwordSignInOff ?? false
        provider.linkByEmail = input.linkByEmail ?? false
        provider.createAccounts = input.createAccounts ?? false
        provider.enabled = true
        provider.discoveredAt = app.clock.now()
        try await app.writeTransaction(on: db) { db in
            try await provider.create(on: db)
            if provider.passwordSignInOff { try await Credentials.passwordsTurnedOff(for: provider.domains, on: db, now: app.clock.now()) }
        }
        if provider.passwordSignInOff { app.gatewayCache.forgetAll() }
        return provider
    }

    /// The rules that keep people from being locked out or taken over: linking and creating accounts only for named
    /// domains; passwords off only where the provider can reach the existing accounts (it links by email).
    static func checkRules(domains: [String], passwordSignInOff: Bool, linkByEmail: Bool, createAccounts: Bool, _ checks: inout InputChecks) {
        if domains.isEmpty, passwordSignInOff || linkByEmail || createAccounts {
            checks.add("name the provider's email domains (emailDomains): it links, creates or replaces passwords only for its own domains.")
        }
        if passwordSignInOff, !linkByEmail {
            checks.add("password sign-in can be turned off only when the provider links existing accounts by email (linkByEmail), or their people could not sign in at all.")
        }
    }

    /// Changes what is given; the rules are checked on the result.
    static func change(_ provider: IdentityProvider, _ input: IdentityProviderChange, app: Application, on db: any Database) async throws {
        var checks = InputChecks()
        let domains = input.emailDomains.map { parseDomains($0, &checks) } ?? provider.domains
        let passwordsOff = input.passwordSignInOff ?? provider.passwordSignInOff, link = input.linkByEmail ?? provider.linkByEmail
        let create = input.createAccounts ?? provider.createAccounts
        checkRules(domains: domains, passwordSignInOff: passwordsOff, linkByEmail: link, createAccounts: create, &checks)
        let rule = roleRule(input, provider, &checks)
        try checks.finish()
        if let programme = rule?.programme, try await Programme.find(programme, on: db) == nil {
            throw InputRejection.conflict("courseCreatorsProgrammeID names no programme.")
        }
        provider.emailDomains = domains.joined(separator: ",")
        (provider.passwordSignInOff, provider.linkByEmail, provider.createAccounts) = (passwordsOff, link, create)
        if let enabled = input.enabled { provider.enabled = enabled }
        let before = (provider.roleClaim, provider.roleValues, provider.courseCreatorsProgramme)
        (provider.roleClaim, provider.roleValues, provider.courseCreatorsProgramme) = (rule?.claim, rule?.values.joined(separator: ","), rule?.programme)
        // A rule changed in any way, or the provider switched off: the roles it gave are taken back at once (its next
        // sign-ins give them again to whoever still qualifies).
        let takeBack = before != (provider.roleClaim, provider.roleValues, provider.courseCreatorsProgramme) || !provider.enabled
        let revokePasswordKeys = provider.enabled && provider.passwordSignInOff
        try await app.writeTransaction(on: db) { db in
            try await provider.save(on: db)
            if takeBack { try await ProgrammeMember.query(on: db).filter(\.$grantedByProvider == (try provider.requireID())).delete() }
            // What a password made for the domains' people goes with their password sign-in.
            if revokePasswordKeys { try await Credentials.passwordsTurnedOff(for: provider.domains, on: db, now: app.clock.now()) }
        }
        if revokePasswordKeys { app.gatewayCache.forgetAll() }
    }

    /// The claim → role rule the change leaves (nil: none); what is not given stays as it was, empty fields clear it.
    static func roleRule(_ input: IdentityProviderChange, _ provider: IdentityProvider, _ checks: inout InputChecks)
        -> (claim: String, values: [String], programme: UUID)? {
        let claim = (input.roleClaim ?? provider.roleClaim ?? "").trimmingCharacters(in: .whitespaces)
        let values = input.roleValues.map { $0.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            ?? provider.roleValueList
        let programmeText = (input.courseCreatorsProgrammeID ?? provider.courseCreatorsProgramme?.uuidString ?? "").trimmingCharacters(in: .whitespaces)
        if claim.isEmpty, values.isEmpty, programmeText.isEmpty { return nil }
        let named = claim.range(of: #"^[A-Za-z0-9_:.\-]{1,100}$"#, options: .regularExpression) != nil && !TokenClaims.namedClaims.contains(claim)
        if !named { checks.add("roleClaim must name a claim of the provider's own (letters, digits, _ : . -), e.g. eduperson_affiliation or groups; not iss, sub, email and the like.") }
        if values.isEmpty || values.count > 20 || values.contains(where: { $0.count > 100 }) {
            checks.add("roleValues must list the claim's values that may create courses (1 to 20), e.g. staff, faculty.")
        }
        let programme = UUID(uuidString: programmeText)
        if programme == nil { checks.add("courseCreatorsProgrammeID must name the programme whose courses they may create.") }
        guard named, let programme, !values.isEmpty else { return nil }
        return (claim, values, programme)
    }

    /// A sign-in through `provider`: its claim → role rule gives `user` the course creator's role in the rule's
    /// programme when the claims hold one of its values, and takes back the role it gave when they no longer do.
    /// A role given by hand (manager, partner contact, or course creator) is never touched.
    static func applyRoleRule(_ provider: IdentityProvider, claims: TokenClaims, to user: User, on db: any Database) async throws {
        let providerID = try provider.requireID(), userID = try user.requireID()
        let granted = try await ProgrammeMember.query(on: db).filter(\.$user.$id == userID).filter(\.$grantedByProvider == providerID).all()
        guard let claim = provider.roleClaim, let programme = provider.courseCreatorsProgramme else {
            for row in granted { try await row.delete(on: db) }
            return
        }
        let held = Set((claims.attributes[claim] ?? []).map { $0.lowercased() })
        let qualifies = !held.isDisjoint(with: provider.roleValueList)
        for row in granted where !qualifies || row.$programme.id != programme { try await row.delete(on: db) }
        guard qualifies, try await ProgrammeMember.query(on: db).filter(\.$user.$id == userID).filter(\.$programme.$id == programme).first() == nil else { return }
        let row = ProgrammeMember(programmeID: programme, userID: userID, role: .courseCreator)
        row.grantedByProvider = providerID
        try await row.create(on: db)
    }

    static func parseDomains(_ text: String, _ checks: inout InputChecks) -> [String] {
        let domains = text.lowercased().split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        for domain in domains where !InputChecks.isPlausibleEmail("x@" + domain) { checks.add("'\(domain)' is not an email domain.") }
        return domains
    }

    struct Discovery {
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksURI: String
        var endSessionEndpoint: String?
        var algorithms: Set<String>
    }

    /// The provider's OpenID configuration, checked: the same issuer, acceptable endpoints, S256 PKCE when it says
    /// which methods it supports, and at least one signing algorithm this platform accepts.
    static func discover(issuer: String, app: Application) async throws -> Discovery {
        let address = (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
        let document: [String: Any]
        do {
            let body = try await SingleSignOnHTTP.get(address, app: app)
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw Abort(.badGateway) }
            document = object
        } catch {
            throw InputRejection("the provider's discovery document \(address) could not be read (\(SingleSignOnHTTP.describe(error))).")
        }
        var checks = InputChecks()
        if document["issuer"] as? String != issuer {
            checks.add("the discovery document names the issuer '\(document["issuer"] as? String ?? "")', not '\(issuer)' as entered.")
        }
        func endpoint(_ key: String, required: Bool = true) -> String? {
            guard let value = document[key] as? String else {
                if required { checks.add("the discovery document has no \(key).") }
                return nil
            }
            guard acceptable(endpoint: value, issuer: issuer) else {
                checks.add("the discovery document's \(key) '\(value.prefix(200))' is not an https address outside this machine and its private network.")
                return nil
            }
            return value
        }
        let authorization = endpoint("authorization_endpoint"), token = endpoint("token_endpoint"), keys = endpoint("jwks_uri")
        let endSession = endpoint("end_session_endpoint", required: false)
        let announced = (document["id_token_signing_alg_values_supported"] as? [String]).map(Set.init) ?? ["RS256"]
        let algorithms = announced.intersection(TokenExpectation.allowedAlgorithms)
        if algorithms.isEmpty {
            checks.add("the provider signs with \(announced.sorted().joined(separator: ", ")); this platform accepts \(TokenExpectation.allowedAlgorithms.sorted().joined(separator: ", ")).")
        }
        if let methods = document["code_challenge_methods_supported"] as? [String], !methods.contains("S256") {
            checks.add("the provider does not support PKCE with S256, which this platform requires.")
        }
        try checks.finish()
        return Discovery(authorizationEndpoint: authorization!, tokenEndpoint: token!, jwksURI: keys!, endSessionEndpoint: endSession, algorithms: algorithms)
    }
}

/// The few HTTP calls single sign-on makes (discovery, key sets, the token endpoint): through the platform's HTTP
/// client (redirects never followed), 10 s, at most 1 MB read.
enum SingleSignOnHTTP {
    static let timeout = TimeAmount.seconds(10)
    static let largest = 1 << 20

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    static func get(_ address: String, app: Application) async throws -> Data {
        let response = try await app.identityHTTP.send(HTTPClientRequest(url: address), timeout)
        guard response.status == .ok else { throw Failed(description: "it answered \(response.status.code)") }
        return Data(buffer: try await response.body.collect(upTo: largest))
    }

    /// GET with the Cache-Control header (for key sets).
    static func getWithCaching(_ url: URL, app: Application) async throws -> (body: Data, cacheControl: String?) {
        let response = try await app.identityHTTP.send(HTTPClientRequest(url: url.absoluteString), timeout)
        guard response.status == .ok else { throw Failed(description: "it answered \(response.status.code)") }
        return (Data(buffer: try await response.body.collect(upTo: largest)), response.headers.first(name: .cacheControl))
    }

    static func describe(_ error: any Error) -> String {
        if let failed = error as? Failed { return failed.description }
        if error is DecodingError || (error as NSError).domain == NSCocoaErrorDomain { return "it is not JSON" }
        return "it did not answer: \(String(describing: error).prefix(200))"
    }
}
