// The LMSs admins register as LTI 1.3 platforms: issuer and client id (unique together), the LMS's OIDC login, token
// and key set URLs (https; http only on this machine's loopback), the programme new courses go in, and their
// deployments in a table of their own (added one by one as the LMS makes them).
import Fluent
import Foundation
import Vapor

struct LTIRegistrationInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, issuer, clientID, authLoginURL, tokenURL, keySetURL, programmeID, linkByEmail, emailDomains, deploymentIDs
    }
    typealias Fields = CodingKeys
    var name: String?
    var issuer: String?
    var clientID: String?
    var authLoginURL: String?
    var tokenURL: String?
    var keySetURL: String?
    var programmeID: String?
    var linkByEmail: Bool?
    /// Comma- or space-separated.
    var emailDomains: String?
    /// Comma- or space-separated.
    var deploymentIDs: String?
}

extension LTIRegistrationInput: APIInput {
    static let schema = JSONSchema.object([
        "name": .text(max: 100), "issuer": .text(max: 500), "clientID": .text(max: 200),
        "authLoginURL": .string(maxLength: 500, pattern: "^ *https?://[^/?#\\s]+"), "tokenURL": .string(maxLength: 500, pattern: "^ *https?://[^/?#\\s]+"),
        "keySetURL": .string(maxLength: 500, pattern: "^ *https?://[^/?#\\s]+"), "programmeID": .string(format: "uuid"),
        "linkByEmail": .boolean, "emailDomains": .optionalText(max: 500), "deploymentIDs": .optionalText(max: 2000),
    ], required: ["name", "issuer", "clientID", "authLoginURL", "tokenURL", "keySetURL", "programmeID"])
}

struct LTIDeploymentInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case deploymentID }
    typealias Fields = CodingKeys
    var deploymentID: String?
}

extension LTIDeploymentInput: APIInput {
    static let schema = JSONSchema.object(["deploymentID": .text(max: 255)], required: ["deploymentID"])
}

/// What an admin changes of a registration: switched on or off, deployments removed (an installation retired).
struct LTIRegistrationChange: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, removeDeploymentIDs, serviceHosts }
    typealias Fields = CodingKeys
    var enabled: Bool?
    /// Comma- or space-separated.
    var removeDeploymentIDs: String?
    /// The hosts of the LMS's services, comma- or space-separated; empty: learnt again from the next launch.
    var serviceHosts: String?
}

extension LTIRegistrationChange: APIInput {
    static let schema = JSONSchema.object(["enabled": .boolean, "removeDeploymentIDs": .optionalText(max: 2000), "serviceHosts": .optionalText(max: 1000)],
                                          required: [])
}

struct LTIRegistrationDTO: Content {
    var id: UUID
    var name: String
    var issuer: String
    var clientID: String
    var authLoginURL: String
    var tokenURL: String
    var keySetURL: String
    var programmeID: UUID
    var linkByEmail: Bool
    var emailDomains: [String]
    var deploymentIDs: [String]
    var enabled: Bool
    /// The hosts its services are on (empty: learnt from its next launch naming one).
    var serviceHosts: [String]
    /// What the LMS's admin enters: the login initiation and launch (redirect) URLs.
    var loginURL: String
    var launchURL: String
}

extension LTIRegistrationDTO: APIBody {
    static let schemaName = "LTIRegistration"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "name": .string(), "issuer": .string(), "clientID": .string(), "authLoginURL": .string(),
        "tokenURL": .string(), "keySetURL": .string(), "programmeID": .string(format: "uuid"), "linkByEmail": .boolean,
        "emailDomains": .array(.string()), "deploymentIDs": .array(.string()), "enabled": .boolean, "serviceHosts": .array(.string()),
        "loginURL": .string(), "launchURL": .string(),
    ], required: ["id", "name", "issuer", "clientID", "authLoginURL", "tokenURL", "keySetURL", "programmeID", "linkByEmail",
                  "emailDomains", "deploymentIDs", "enabled", "serviceHosts", "loginURL", "launchURL"])
    static let samples = [LTIRegistrationDTO(
        id: Sample.id, name: "Canvas", issuer: "https://canvas.instructure.com", clientID: "10000000000042",
        authLoginURL: "https://sso.canvaslms.com/api/lti/authorize_redirect", tokenURL: "https://sso.canvaslms.com/login/oauth2/token",
        keySetURL: "https://sso.canvaslms.com/api/lti/security/jwks", programmeID: Sample.id, linkByEmail: false,
        emailDomains: ["uni.example"], deploymentIDs: ["1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"], enabled: true, serviceHosts: ["uni.instructure.com"], loginURL: "https://campus.example.edu/lti/login",
        launchURL: "https://campus.example.edu/lti/launch")]
}

enum LTIRegistrations {
    static func list(on req: Request) async throws -> [LTIRegistrationDTO] {
        try await LTIRegistration.query(on: req.db).with(\.$deployments).sort(\.$name).all().map { try dto($0, config: req.application.platformConfig) }
    }

    static func dto(_ registration: LTIRegistration, config: AppConfig) throws -> LTIRegistrationDTO {
        LTIRegistrationDTO(
            id: try registration.requireID(), name: registration.name, issuer: registration.issuer, clientID: registration.clientID,
            authLoginURL: registration.authLoginURL, tokenURL: registration.tokenURL, keySetURL: registration.keySetURL,
            programmeID: registration.$programme.id, linkByEmail: registration.linkByEmail, emailDomains: registration.domains,
            deploymentIDs: (registration.$deployments.value ?? []).map(\.deploymentID).sorted(), enabled: registration.enabled,
            serviceHosts: registration.serviceHostList,
            loginURL: config.absolute(SitePath.ltiLogin.url), launchURL: config.absolute(SitePath.ltiLaunch.url))
    }

    static func add(_ input: LTIRegistrationInput, app: Application, on db: any Database) async throws -> LTIRegistration {
        var checks = InputChecks()
        let name = checks.text(input.name, "name", max: 100)
        let issuer = checks.text(input.issuer, "issuer", max: 500)
        let clientID = checks.text(input.clientID, "clientID", max: 200)
        var urls: [String: String] = [:]
        for (label, value) in [("authLoginURL", input.authLoginURL), ("tokenURL", input.tokenURL), ("keySetURL", input.keySetURL)] {
            guard let text = checks.text(value, label, max: 500) else { continue }
            if let issuer, IdentityProviders.acceptable(endpoint: text, issuer: issuer) { urls[label] = text } else if issuer != nil {
                checks.add("\(label) '\(text)' is not an https address outside this machine and its private network.")
            }
        }
        let programmeID = input.programmeID.flatMap { UUID(uuidString: $0.trimmingCharacters(in: .whitespaces)) }
        if programmeID == nil { checks.add("programmeID is missing or not an id.") }
        let deployments = deploymentList(input.deploymentIDs, &checks)
        let domains = IdentityProviders.parseDomains(input.emailDomains ?? "", &checks)
        if input.linkByEmail == true, domains.isEmpty {
            checks.add("name the email domains the LMS is trusted with (emailDomains) to link accounts by email.")
        }
        if app.platformConfig.publicURL == nil {
            checks.add("LTI needs the platform's public address (CAMPUSCLOUD_PUBLIC_URL) for the LMS to send launches to.")
        }
        try checks.finish()
        guard let programmeID, try await Programme.find(programmeID, on: db) != nil else {
            throw InputRejection.conflict("programmeID names no programme.")
        }
        if try await LTIRegistration.query(on: db).filter(\.$name == name!).first() != nil {
            throw InputRejection.conflict("a registration named '\(name!)' exists.")
        }
        if try await LTIRegistration.query(on: db).filter(\.$issuer == issuer!).filter(\.$clientID == clientID!).first() != nil {
            throw InputRejection.conflict("this issuer and client id are registered already.")
        }
        // People are known by issuer and subject: one issuer, one signer. Another registration of the same issuer
        // (Canvas Cloud's tenants) must use its key set, and a single sign-on provider may not share the issuer.
        if let sibling = try await LTIRegistration.query(on: db).filter(\.$issuer == issuer!).first(), sibling.keySetURL != urls["keySetURL"] {
            throw InputRejection.conflict("\(sibling.name) has this issuer with the key set \(sibling.keySetURL); another registration of it must use the same.")
        }
        if try await IdentityProvider.query(on: db).filter(\.$issuer == issuer!).first() != nil {
            throw InputRejection.conflict("a single sign-on provider has this issuer; an LMS needs an issuer of its own.")
        }
        let (login, token, keys) = (urls["authLoginURL"]!, urls["tokenURL"]!, urls["keySetURL"]!)
        let domainList = domains
        return try await app.writeTransaction(on: db) { db in
            let registration = LTIRegistration()
            (registration.name, registration.issuer, registration.clientID) = (name!, issuer!, clientID!)
            (registration.authLoginURL, registration.tokenURL, registration.keySetURL) = (login, token, keys)
            registration.$programme.id = programmeID
            registration.linkByEmail = input.linkByEmail ?? false
            registration.emailDomains = domainList.joined(separator: ",")
            try await registration.create(on: db)
            for deployment in deployments { try await LTIDeployment(registrationID: registration.requireID(), deploymentID: deployment).create(on: db) }
            try await registration.$deployments.load(on: db)
            return registration
        }
    }

    static func addDeployment(_ input: LTIDeploymentInput, to registrationID: UUID, on db: any Database) async throws -> LTIRegistration {
        guard let registration = try await LTIRegistration.find(registrationID, on: db) else { throw Abort(.notFound) }
        var checks = InputChecks()
        let deployment = checks.text(input.deploymentID, "deploymentID", max: 255)
        try checks.finish()
        if try await LTIDeployment.query(on: db).filter(\.$registration.$id == registrationID).filter(\.$deploymentID == deployment!).first() != nil {
            throw InputRejection.conflict("deployment '\(deployment!)' is registered already.")
        }
        try await LTIDeployment(registrationID: registrationID, deploymentID: deployment!).create(on: db)
        try await registration.$deployments.load(on: db)
        return registration
    }

    /// Switches the registration on or off and removes deployments (each must be one of its own), in one transaction.
    /// The LMS courses linked through a removed deployment keep their CampusCloud courses; their launches are refused.
    static func change(_ input: LTIRegistrationChange, of registrationID: UUID, app: Application, on db: any Database) async throws -> LTIRegistration {
        guard let registration = try await LTIRegistration.query(on: db).filter(\.$id == registrationID).with(\.$deployments).first() else {
            throw Abort(.notFound)
        }
        var checks = InputChecks()
        let removed = deploymentList(input.removeDeploymentIDs, &checks)
        let known = Set(registration.deployments.map(\.deploymentID))
        for id in removed where !known.contains(id) { checks.add("'\(id.prefix(255))' is not a deployment of \(registration.name).") }
        let hosts = input.serviceHosts.map { $0.lowercased().split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init) }
        if let hosts, hosts.count > 10 || hosts.contains(where: { !HostNames.isPlain($0) || $0.count > 253 }) {
            checks.add("serviceHosts must list up to 10 host names (such as uni.instructure.com), separated by commas.")
        }
        try checks.finish()
        try await app.writeTransaction(on: db) { db in
            if let hosts, hosts.joined(separator: ",") != registration.serviceHosts {
                registration.serviceHosts = hosts.joined(separator: ",")
                try await registration.save(on: db)
            }
            if let enabled = input.enabled, enabled != registration.enabled {
                registration.enabled = enabled
                // Off (a leaked key, a retired LMS): the sessions its launches began end at their next request, and
                // its windows not yet opened never open.
                if !enabled {
                    let now = app.clock.now()
                    registration.switchedOffAt = now
                    try await LTIWindowTicket.query(on: db).filter(\.$registrationID == registrationID).filter(\.$usedAt == nil).delete()
                    // And the keys made with them (API keys, AI keys), which would outlive the sessions.
                    try await APIKey.query(on: db).filter(\.$ltiRegistrationID == registrationID).filter(\.$revokedAt == nil).set(\.$revokedAt, to: now).update()
                    try await AIKey.query(on: db).filter(\.$ltiRegistrationID == registrationID).filter(\.$revokedAt == nil).set(\.$revokedAt, to: now).update()
                }
                try await registration.save(on: db)
            }
            if !removed.isEmpty {
                try await LTIDeployment.query(on: db).filter(\.$registration.$id == registrationID).filter(\.$deploymentID ~~ removed).delete()
                try await LTIGradeSync.retire(deployments: removed, of: registrationID, on: db)
            }
        }
        // The gateway's cached callers of the keys just revoked go too.
        if input.enabled == false { app.gatewayCache.forgetAll() }
        try await registration.$deployments.load(on: db)
        return registration
    }

    private static func deploymentList(_ text: String?, _ checks: inout InputChecks) -> [String] {
        let list = (text ?? "").split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
        for id in list where id.count > 255 { checks.add("a deployment id is longer than 255 characters.") }
        if Set(list).count != list.count { checks.add("a deployment id is listed twice.") }
        return list
    }
}
