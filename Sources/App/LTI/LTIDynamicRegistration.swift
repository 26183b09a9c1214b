// LTI Dynamic Registration 1.0: an LMS's administrator registers CampusCloud in one step. A CampusCloud administrator
// makes a registration link (single-use, 7 days; it names the registration, the programme its courses go in and the
// email domains the LMS is trusted with) and gives it to the LMS's administrator, who pastes it in the LMS. The LMS
// opens it with its OpenID configuration's address and a registration token; CampusCloud reads the configuration
// (its issuer on the same host as the address; every endpoint https, not this machine or a private network), sends
// the tool's registration (login, launch and key set URLs, the messages and scopes it uses), and keeps what the LMS
// answers (client id, deployment) as a registration with the same checks as one an administrator enters. The link
// names the LMS's host (only an LMS there can use it) and is spent at its first use that names a configuration on that
// host. The page, shown in the LMS's dialog, carries nothing of a session and asks the LMS (postMessage) to close it.
import Fluent
import Foundation
import Identity
import NIOCore
import AsyncHTTPClient
import Vapor

struct LTIRegistrationInviteInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name, lmsHost, programmeID, emailDomains, linkByEmail }
    typealias Fields = CodingKeys
    var name: String?
    /// The LMS's host name (moodle.uni.example): only an LMS whose issuer is there can use the link.
    var lmsHost: String?
    var programmeID: String?
    var emailDomains: String?
    var linkByEmail: Bool?
}

enum LTIDynamicRegistration {
    static let lifetime: TimeInterval = 7 * 86_400

    /// A new registration link; its token is shown once and kept hashed.
    static func invite(_ input: LTIRegistrationInviteInput, by admin: User, app: Application, on db: any Database, now: Date) async throws -> String {
        var checks = InputChecks()
        let name = checks.text(input.name, "name", max: 100)
        let host = checks.text(input.lmsHost, "lmsHost", max: 253)?.lowercased()
        if let host, !HostNames.isPlain(host) || !host.contains(".") {
            checks.add("lmsHost is the LMS's host name, such as moodle.uni.example.")
        }
        let programmeID = input.programmeID.flatMap { UUID(uuidString: $0.trimmingCharacters(in: .whitespaces)) }
        if programmeID == nil { checks.add("programmeID is missing or not an id.") }
        let domains = IdentityProviders.parseDomains(input.emailDomains ?? "", &checks)
        if input.linkByEmail == true, domains.isEmpty { checks.add("name the email domains the LMS is trusted with (emailDomains) to link accounts by email.") }
        if app.platformConfig.publicURL == nil { checks.add("LTI needs the platform's public address (CAMPUSCLOUD_PUBLIC_URL).") }
        try checks.finish()
        guard let programmeID, try await Programme.find(programmeID, on: db) != nil else { throw InputRejection.conflict("programmeID names no programme.") }
        if try await LTIRegistration.query(on: db).filter(\.$name == name!).first() != nil {
            throw InputRejection.conflict("a registration named '\(name!)' exists.")
        }
        let token = PKCE.randomToken()
        let row = LTIRegistrationInvite()
        (row.tokenHash, row.name, row.emailDomains, row.linkByEmail) = (TokenCodec.hash(token), name!, domains.joined(separator: ","), input.linkByEmail ?? false)
        row.lmsHost = host!
        (row.$programme.id, row.createdBy, row.expiresAt) = (programmeID, try admin.requireID(), now.addingTimeInterval(lifetime))
        try await row.create(on: db)
        return app.platformConfig.absolute(SitePath.ltiRegister.url) + "?invite=" + token
    }

    struct Refused: Error { var reason: String }

    /// Registers with the LMS whose OpenID configuration is at `configuration`: the invite taken once, nothing kept
    /// unless the LMS accepted and the registration passes every check.
    static func register(token: String, configuration: String?, registrationToken: String?, app: Application, on db: any Database,
                         now: Date) async throws -> LTIRegistration {
        guard let configuration, !configuration.isEmpty, configuration.utf8.count <= 1000 else {
            throw Abort(.badRequest, reason: "The LMS opened this registration link without its OpenID configuration (openid_configuration); start the registration in the LMS.")
        }
        guard let invite = try await LTIRegistrationInvite.query(on: db).filter(\.$tokenHash == TokenCodec.hash(token)).first(),
              invite.usedAt == nil, invite.expiresAt > now else {
            throw Abort(.notFound, reason: "This registration link is not valid: it was used, it expired, or it was never made. Ask a CampusCloud administrator for a new one.")
        }
        // Only the LMS the administrator named, over https: never this machine or its private network (no exception for
        // loopback here — the link is in an outsider's hands), and the link is spent before anything is fetched.
        guard let configurationURL = URLComponents(string: configuration), configurationURL.scheme?.lowercased() == "https",
              let configurationHost = configurationURL.host?.lowercased(), configurationURL.user == nil, configurationURL.password == nil,
              !IdentityProviders.isLoopback(configurationHost), !IdentityProviders.isPrivateAddress(configurationHost),
              HostNames.isPlain(configurationHost) else {
            throw Abort(.badRequest, reason: "The LMS's configuration address must be an https address outside this machine and its private network.")
        }
        guard configurationHost == invite.lmsHost else {
            throw Abort(.badRequest, reason: "This registration link is for the LMS at \(invite.lmsHost), not \(configurationHost.prefix(200)).")
        }
        let taken = try await db.sqlDatabase().raw("""
            UPDATE lti_registration_invites SET used_at = \(bind: now) WHERE id = \(bind: invite.requireID()) AND used_at IS NULL AND expires_at > \(bind: now) RETURNING id
            """).all()
        guard !taken.isEmpty else { throw Abort(.notFound, reason: "This registration link was used already.") }
        let platform: PlatformConfiguration
        do {
            var request = HTTPClientRequest(url: configuration)
            if let registrationToken { request.headers.add(name: .authorization, value: "Bearer \(registrationToken)") }
            let response = try await app.identityHTTP.send(request, SingleSignOnHTTP.timeout)
            guard response.status == .ok else { throw SingleSignOnHTTP.Failed(description: "it answered \(response.status.code)") }
            platform = try JSONDecoder().decode(PlatformConfiguration.self, from: Data(buffer: try await response.body.collect(upTo: SingleSignOnHTTP.largest)))
        } catch {
            throw Abort(.badGateway, reason: "The LMS's OpenID configuration could not be read: \(SingleSignOnHTTP.describe(error)).")
        }
        // The issuer is the LMS's own: the configuration must come from the issuer's host.
        guard let issuer = URLComponents(string: platform.issuer), issuer.scheme?.lowercased() == "https", issuer.host?.lowercased() == configurationHost,
              issuer.port == configurationURL.port else {
            throw Abort(.badRequest, reason: "The LMS's configuration names the issuer \(platform.issuer.prefix(200)), which is not the host it was read from.")
        }
        guard IdentityProviders.acceptable(endpoint: platform.registrationEndpoint, issuer: platform.issuer) else {
            throw Abort(.badRequest, reason: "The LMS's registration endpoint is not an https address outside this machine and its private network.")
        }
        // Everything the registration will be checked against that the LMS's answer does not change, before the LMS
        // registers anything.
        for (label, endpoint) in [("authorization", platform.authorizationEndpoint), ("token", platform.tokenEndpoint), ("key set", platform.jwksURI)]
            where !IdentityProviders.acceptable(endpoint: endpoint, issuer: platform.issuer) {
            throw Abort(.badRequest, reason: "The LMS's \(label) endpoint is not an https address outside this machine and its private network.")
        }
        if try await IdentityProvider.query(on: db).filter(\.$issuer == platform.issuer).first() != nil {
            throw Abort(.conflict, reason: "A single sign-on provider has this LMS's issuer; an LMS needs an issuer of its own.")
        }
        let config = app.platformConfig
        let answer: ToolRegistrationAnswer
        do {
            var request = HTTPClientRequest(url: platform.registrationEndpoint)
            request.method = .POST
            request.headers.add(name: .contentType, value: "application/json")
            if let registrationToken { request.headers.add(name: .authorization, value: "Bearer \(registrationToken)") }
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: toolRegistration(config, platform: platform), options: [.sortedKeys])))
            let response = try await app.identityHTTP.send(request, SingleSignOnHTTP.timeout)
            let body = try await response.body.collect(upTo: SingleSignOnHTTP.largest)
            guard (200..<300).contains(response.status.code) else {
                throw SingleSignOnHTTP.Failed(description: "it answered \(response.status.code): \(String(buffer: body).prefix(200))")
            }
            answer = try JSONDecoder().decode(ToolRegistrationAnswer.self, from: Data(buffer: body))
        } catch {
            throw Abort(.badGateway, reason: "The LMS did not accept the registration: \(SingleSignOnHTTP.describe(error)). Ask a CampusCloud administrator for a new link.")
        }
        var input = LTIRegistrationInput()
        (input.name, input.issuer, input.clientID) = (invite.name, platform.issuer, answer.clientID)
        (input.authLoginURL, input.tokenURL, input.keySetURL) = (platform.authorizationEndpoint, platform.tokenEndpoint, platform.jwksURI)
        (input.programmeID, input.linkByEmail, input.emailDomains) = (invite.$programme.id.uuidString, invite.linkByEmail, invite.emailDomains)
        input.deploymentIDs = answer.tool?.deploymentID
        do {
            return try await LTIRegistrations.add(input, app: app, on: db)
        } catch let rejection as InputRejection {
            throw Abort(.conflict, reason: "The LMS answered, but its registration cannot be kept: \(rejection.reason)")
        }
    }

    /// What the tool asks the LMS to register (Dynamic Registration 1.0, section 3.5).
    static func toolRegistration(_ config: AppConfig, platform: PlatformConfiguration) -> [String: Any] {
        let launch = config.absolute(SitePath.ltiLaunch.url)
        let offered = Set(platform.scopesSupported ?? LTIConfiguration.scopes)
        return [
            "application_type": "web",
            "response_types": ["id_token"],
            "grant_types": ["implicit", "client_credentials"],
            "initiate_login_uri": config.absolute(SitePath.ltiLogin.url),
            "redirect_uris": [launch],
            "client_name": "CampusCloud",
            "jwks_uri": config.absolute(SitePath.ltiKeySet.url),
            "token_endpoint_auth_method": "private_key_jwt",
            "scope": LTIConfiguration.scopes.filter(offered.contains).joined(separator: " "),
            "https://purl.imsglobal.org/spec/lti-tool-configuration": [
                "domain": config.publicURL?.host ?? "",
                "target_link_uri": launch,
                "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
                "messages": [
                    ["type": "LtiDeepLinkingRequest", "target_link_uri": launch, "label": "CampusCloud"],
                    ["type": "LtiResourceLinkRequest", "target_link_uri": launch, "label": "CampusCloud"],
                ],
            ] as [String: Any],
        ]
    }

    /// The LMS's OpenID configuration, as far as registering reads it.
    struct PlatformConfiguration: Decodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksURI: String
        var registrationEndpoint: String
        var scopesSupported: [String]?
        enum CodingKeys: String, CodingKey {
            case issuer, authorizationEndpoint = "authorization_endpoint", tokenEndpoint = "token_endpoint", jwksURI = "jwks_uri"
            case registrationEndpoint = "registration_endpoint", scopesSupported = "scopes_supported"
        }
    }

    /// What the LMS answers: the client id it gave the tool, and the deployment it made.
    struct ToolRegistrationAnswer: Decodable {
        struct Tool: Decodable {
            var deploymentID: String?
            enum CodingKeys: String, CodingKey { case deploymentID = "deployment_id" }
        }
        var clientID: String
        var tool: Tool?
        enum CodingKeys: String, CodingKey { case clientID = "client_id", tool = "https://purl.imsglobal.org/spec/lti-tool-configuration" }
    }
}
