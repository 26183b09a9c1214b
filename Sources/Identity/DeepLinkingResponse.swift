// What the tool sends back at the end of an LTI Deep Linking 2.0 flow (the LMS's "add external tool"): the links
// chosen — each a resource link whose launch carries the assignment's id as a custom parameter, with the line item
// the LMS creates for its grades — signed with the tool's key and posted by the browser to the LMS's return URL.
import Foundation
import JWTKit

public struct DeepLinkingResponse: JWTPayload, Equatable {
    /// One resource link (Deep Linking 2.0, content item type ltiResourceLink).
    public struct ResourceLink: Codable, Sendable, Equatable {
        public struct LineItem: Codable, Sendable, Equatable {
            public var scoreMaximum: Double
            public var label: String
            public var resourceId: String
            public init(scoreMaximum: Double, label: String, resourceId: String) {
                (self.scoreMaximum, self.label, self.resourceId) = (scoreMaximum, label, resourceId)
            }
        }
        public struct Window: Codable, Sendable, Equatable {
            public var endDateTime: String
            public init(endDateTime: String) { self.endDateTime = endDateTime }
        }
        public var type = "ltiResourceLink"
        public var title: String
        public var url: String
        public var custom: [String: String]
        public var lineItem: LineItem?
        /// When hand-ins close (the assignment's due time), so the LMS shows the same due date.
        public var submission: Window?

        public init(title: String, url: String, custom: [String: String], lineItem: LineItem?, submission: Window?) {
            (self.title, self.url, self.custom, self.lineItem, self.submission) = (title, url, custom, lineItem, submission)
        }
    }

    public var issuer: String
    public var audience: String
    public var issuedAt: Double
    public var expires: Double
    public var nonce: String
    public var deploymentID: String
    public var messageType = "LtiDeepLinkingResponse"
    public var version = "1.3.0"
    public var data: String?
    public var message: String?
    public var contentItems: [ResourceLink]

    /// The response of the tool whose client id at the LMS is `clientID`, to a request from `issuer`'s `deploymentID`
    /// that carried `data`; valid for five minutes from `now`.
    public init(clientID: String, issuer: String, deploymentID: String, data: String?, items: [ResourceLink], message: String?, now: Date) {
        (self.issuer, audience, self.deploymentID, self.data, contentItems, self.message) = (clientID, issuer, deploymentID, data, items, message)
        issuedAt = now.timeIntervalSince1970.rounded(.down)
        expires = issuedAt + 300
        nonce = PKCE.randomToken(bytes: 16)
    }

    enum CodingKeys: String, CodingKey {
        case issuer = "iss", audience = "aud", issuedAt = "iat", expires = "exp", nonce
        case deploymentID = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
        case messageType = "https://purl.imsglobal.org/spec/lti/claim/message_type"
        case version = "https://purl.imsglobal.org/spec/lti/claim/version"
        case data = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
        case message = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
        case contentItems = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    }

    /// The LMS checks it; the tool only makes it.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
