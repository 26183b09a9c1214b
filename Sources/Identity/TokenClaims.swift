// What an id_token says, as OpenID Connect and LTI 1.3 name it: the standard claims every sign-in reads, and the
// LTI claims a launch reads (absent from a plain OpenID Connect sign-in). Read only after the signature verified
// (TokenVerifier); the rules on them need the platform's clock, so `verify(using:)` checks nothing by itself.
import Foundation
import JWTKit

public struct TokenClaims: JWTPayload, Equatable {
    public var issuer: String?
    public var subject: String?
    public var audience: [String]?
    public var authorizedParty: String?
    public var expires: Double?
    public var issuedAt: Double?
    public var nonce: String?
    public var email: String?
    public var emailVerified: Bool?
    public var name: String?
    public var givenName: String?
    public var familyName: String?
    public var lti: LTIClaims
    /// The other top-level claims that are a string or a list (its strings kept, anything else in it skipped): a
    /// provider's affiliation or groups, for an administrator's claim → role rule. Values of up to 500 characters, 500
    /// of a list.
    public var attributes: [String: [String]] = [:]

    public init(issuer: String? = nil, subject: String? = nil, audience: [String]? = nil, authorizedParty: String? = nil,
                expires: Double? = nil, issuedAt: Double? = nil, nonce: String? = nil, email: String? = nil,
                emailVerified: Bool? = nil, name: String? = nil, givenName: String? = nil, familyName: String? = nil,
                lti: LTIClaims = LTIClaims()) {
        (self.issuer, self.subject, self.audience, self.authorizedParty) = (issuer, subject, audience, authorizedParty)
        (self.expires, self.issuedAt, self.nonce) = (expires, issuedAt, nonce)
        (self.email, self.emailVerified, self.name, self.givenName, self.familyName) = (email, emailVerified, name, givenName, familyName)
        self.lti = lti
    }

    /// The claims read by name (never an attribute).
    public static let namedClaims = Set(Keys.allCases.map(\.rawValue))

    enum Keys: String, CodingKey, CaseIterable {
        case issuer = "iss", subject = "sub", audience = "aud", authorizedParty = "azp", expires = "exp", issuedAt = "iat"
        case nonce, email, emailVerified = "email_verified", name, givenName = "given_name", familyName = "family_name"
    }

    /// Any JSON value, read past.
    struct Skipped: Decodable { init(from decoder: any Decoder) {} }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        issuer = try container.decodeIfPresent(String.self, forKey: .issuer)
        subject = try container.decodeIfPresent(String.self, forKey: .subject)
        audience = try container.decodeIfPresent(AudienceClaim.self, forKey: .audience)?.value
        authorizedParty = try container.decodeIfPresent(String.self, forKey: .authorizedParty)
        expires = try container.decodeIfPresent(Double.self, forKey: .expires)
        issuedAt = try container.decodeIfPresent(Double.self, forKey: .issuedAt)
        nonce = try container.decodeIfPresent(String.self, forKey: .nonce)
        email = try? container.decodeIfPresent(String.self, forKey: .email)
        // Some providers send "true" as a string; anything else that is not a yes is a no.
        emailVerified = (try? container.decodeIfPresent(BoolClaim.self, forKey: .emailVerified))?.value
        name = try? container.decodeIfPresent(String.self, forKey: .name)
        givenName = try? container.decodeIfPresent(String.self, forKey: .givenName)
        familyName = try? container.decodeIfPresent(String.self, forKey: .familyName)
        lti = try LTIClaims(from: decoder)
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys where Keys(rawValue: key.stringValue) == nil && !key.stringValue.hasPrefix("https://purl.imsglobal.org/") {
            if let one = try? all.decode(String.self, forKey: key) {
                attributes[key.stringValue] = [String(one.prefix(500))]
            } else if var list = try? all.nestedUnkeyedContainer(forKey: key) {
                var values: [String] = []
                while !list.isAtEnd, values.count < 500 {
                    if let text = try? list.decode(String.self) { values.append(String(text.prefix(500))) } else if (try? list.decode(Skipped.self)) == nil { break }
                }
                attributes[key.stringValue] = values
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encodeIfPresent(issuer, forKey: .issuer)
        try container.encodeIfPresent(subject, forKey: .subject)
        try container.encodeIfPresent(audience, forKey: .audience)
        try container.encodeIfPresent(authorizedParty, forKey: .authorizedParty)
        try container.encodeIfPresent(expires, forKey: .expires)
        try container.encodeIfPresent(issuedAt, forKey: .issuedAt)
        try container.encodeIfPresent(nonce, forKey: .nonce)
        try container.encodeIfPresent(email, forKey: .email)
        try container.encodeIfPresent(emailVerified, forKey: .emailVerified)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(givenName, forKey: .givenName)
        try container.encodeIfPresent(familyName, forKey: .familyName)
        try lti.encode(to: encoder)
        var others = encoder.container(keyedBy: AnyKey.self)
        for (name, values) in attributes where Keys(rawValue: name) == nil { try others.encode(values, forKey: AnyKey(stringValue: name)) }
    }

    /// Nothing here: TokenVerifier applies the rules with the platform's clock and the sign-in's expectations.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The claims of an LTI 1.3 message (Core 1.3, Deep Linking 2.0, AGS 2.0, NRPS 2.0), all optional here: LTILaunch
/// says which a launch must carry.
public struct LTIClaims: Codable, Sendable, Equatable {
    public struct ResourceLink: Codable, Sendable, Equatable {
        public var id: String
        public var title: String?
        public init(id: String, title: String? = nil) { (self.id, self.title) = (id, title) }
    }
    public struct Context: Codable, Sendable, Equatable {
        public var id: String
        public var label: String?
        public var title: String?
        public init(id: String, label: String? = nil, title: String? = nil) { (self.id, self.label, self.title) = (id, label, title) }
    }
    public struct DeepLinkingSettings: Codable, Sendable, Equatable {
        public var returnURL: String
        public var acceptTypes: [String]?
        public var acceptMultiple: Bool?
        /// Whether the LMS makes a line item from a link's `lineItem` (absent: not said, so one is sent).
        public var acceptLineItem: Bool?
        public var data: String?
        enum CodingKeys: String, CodingKey {
            case returnURL = "deep_link_return_url", acceptTypes = "accept_types", acceptMultiple = "accept_multiple"
            case acceptLineItem = "accept_lineitem", data
        }
        public init(returnURL: String, acceptTypes: [String]? = ["ltiResourceLink"], acceptMultiple: Bool? = nil, acceptLineItem: Bool? = nil,
                    data: String? = nil) {
            (self.returnURL, self.acceptTypes, self.acceptMultiple, self.acceptLineItem, self.data) = (returnURL, acceptTypes, acceptMultiple, acceptLineItem, data)
        }
    }
    /// Assignment and Grade Services: where this context's line items are, and what the tool may do with them.
    public struct GradeService: Codable, Sendable, Equatable {
        public var scope: [String]
        public var lineItems: String?
        public var lineItem: String?
        enum CodingKeys: String, CodingKey { case scope, lineItems = "lineitems", lineItem = "lineitem" }
        public init(scope: [String], lineItems: String? = nil, lineItem: String? = nil) {
            (self.scope, self.lineItems, self.lineItem) = (scope, lineItems, lineItem)
        }
    }
    /// Names and Role Provisioning Services: where this context's roster is.
    public struct RosterService: Codable, Sendable, Equatable {
        public var membershipsURL: String
        public var serviceVersions: [String]?
        enum CodingKeys: String, CodingKey { case membershipsURL = "context_memberships_url", serviceVersions = "service_versions" }
        public init(membershipsURL: String, serviceVersions: [String]? = ["2.0"]) {
            (self.membershipsURL, self.serviceVersions) = (membershipsURL, serviceVersions)
        }
    }

    /// Custom parameters (string values; a number or a yes/no some LMSs send is read as its text).
    public struct Custom: Codable, Sendable, Equatable {
        public var values: [String: String]
        public init(_ values: [String: String]) { self.values = values }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        /// Not an object (a malformed claim): no custom parameters, and the launch is read without them.
        public init(from decoder: any Decoder) throws {
            var values: [String: String] = [:]
            guard let container = try? decoder.container(keyedBy: Key.self) else {
                self.values = values
                return
            }
            for key in container.allKeys {
                if let text = try? container.decode(String.self, forKey: key) { values[key.stringValue] = text }
                else if let number = try? container.decode(Double.self, forKey: key) {
                    values[key.stringValue] = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
                } else if let flag = try? container.decode(Bool.self, forKey: key) { values[key.stringValue] = String(flag) }
            }
            self.values = values
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in values { try container.encode(value, forKey: Key(stringValue: key)) }
        }
    }

    public var messageType: String?
    public var version: String?
    public var deploymentID: String?
    public var targetLinkURI: String?
    public var resourceLink: ResourceLink?
    public var roles: [String]?
    public var context: Context?
    public var deepLinking: DeepLinkingSettings?
    public var gradeService: GradeService?
    public var rosterService: RosterService?
    public var custom: Custom?
    /// How the LMS shows the tool, and its page to return to (its web origin frames the tool).
    public var launchPresentation: LaunchPresentation?

    public struct LaunchPresentation: Codable, Sendable, Equatable {
        public var documentTarget: String?
        public var returnURL: String?
        enum CodingKeys: String, CodingKey { case documentTarget = "document_target", returnURL = "return_url" }
        public init(documentTarget: String? = nil, returnURL: String? = nil) { (self.documentTarget, self.returnURL) = (documentTarget, returnURL) }
    }

    public init(messageType: String? = nil, version: String? = nil, deploymentID: String? = nil, targetLinkURI: String? = nil,
                resourceLink: ResourceLink? = nil, roles: [String]? = nil, context: Context? = nil,
                deepLinking: DeepLinkingSettings? = nil, gradeService: GradeService? = nil, rosterService: RosterService? = nil,
                custom: [String: String]? = nil) {
        (self.messageType, self.version, self.deploymentID, self.targetLinkURI) = (messageType, version, deploymentID, targetLinkURI)
        (self.resourceLink, self.roles, self.context) = (resourceLink, roles, context)
        (self.deepLinking, self.gradeService, self.rosterService) = (deepLinking, gradeService, rosterService)
        self.custom = custom.map(Custom.init)
    }

    enum CodingKeys: String, CodingKey {
        case messageType = "https://purl.imsglobal.org/spec/lti/claim/message_type"
        case version = "https://purl.imsglobal.org/spec/lti/claim/version"
        case deploymentID = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
        case targetLinkURI = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"
        case resourceLink = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
        case roles = "https://purl.imsglobal.org/spec/lti/claim/roles"
        case context = "https://purl.imsglobal.org/spec/lti/claim/context"
        case deepLinking = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
        case gradeService = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
        case rosterService = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
        case custom = "https://purl.imsglobal.org/spec/lti/claim/custom"
        case launchPresentation = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
    }
}
