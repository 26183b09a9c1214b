// An LTI 1.3 launch, read from an id_token that TokenVerifier accepted: the message rules of LTI Core 1.3 (message
// type, version 1.3.0, a registered deployment, roles, a resource link for a resource link launch, the return URL for
// deep linking) and the person's course role from the LMS's roles — the least privilege when none is known.
import Foundation

public struct LTILaunch: Sendable, Equatable {
    public enum Kind: String, Sendable { case resourceLink = "LtiResourceLinkRequest", deepLinking = "LtiDeepLinkingRequest" }

    public var kind: Kind
    public var deploymentID: String
    public var subject: String
    public var role: LTIRoles.CourseRole
    public var roles: [String]
    public var context: LTIClaims.Context?
    public var resourceLink: LTIClaims.ResourceLink?
    public var targetLinkURI: String?
    public var deepLinking: LTIClaims.DeepLinkingSettings?
    public var gradeService: LTIClaims.GradeService?
    public var rosterService: LTIClaims.RosterService?
    /// The launch's custom parameters (for a link this tool made by deep linking, `assignment_id`).
    public var custom: [String: String]
    /// The LMS page the launch says it returns to.
    public var returnURL: String?
    public var email: String?
    public var emailVerified: Bool
    public var name: String?

    /// The launch `claims` make, for a registration whose deployments are `deployments`.
    public init(_ claims: TokenClaims, deployments: Set<String>) throws(IdentityRefusal) {
        let lti = claims.lti
        guard let type = lti.messageType else { throw .missingClaim("https://purl.imsglobal.org/spec/lti/claim/message_type") }
        guard let kind = Kind(rawValue: type) else { throw .unsupportedMessageType(type) }
        guard lti.version == "1.3.0" else { throw .wrongVersion(lti.version ?? "") }
        guard let deployment = lti.deploymentID, !deployment.isEmpty else { throw .missingClaim("https://purl.imsglobal.org/spec/lti/claim/deployment_id") }
        guard deployments.contains(deployment) else { throw .unknownDeployment(deployment) }
        guard let roles = lti.roles else { throw .missingClaim("https://purl.imsglobal.org/spec/lti/claim/roles") }
        guard let subject = claims.subject, !subject.isEmpty else { throw .missingClaim("sub") }
        switch kind {
        case .resourceLink:
            guard let link = lti.resourceLink, !link.id.isEmpty else { throw .missingClaim("https://purl.imsglobal.org/spec/lti/claim/resource_link") }
            guard lti.targetLinkURI?.isEmpty == false else { throw .missingClaim("https://purl.imsglobal.org/spec/lti/claim/target_link_uri") }
        case .deepLinking:
            guard let settings = lti.deepLinking, !settings.returnURL.isEmpty else {
                throw .missingClaim("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings")
            }
        }
        self.kind = kind
        deploymentID = deployment
        self.subject = subject
        self.roles = roles
        role = LTIRoles.courseRole(roles)
        context = lti.context
        resourceLink = lti.resourceLink
        targetLinkURI = lti.targetLinkURI
        deepLinking = lti.deepLinking
        gradeService = lti.gradeService
        rosterService = lti.rosterService
        custom = lti.custom?.values ?? [:]
        returnURL = lti.launchPresentation?.returnURL
        email = claims.email
        emailVerified = claims.emailVerified ?? false
        name = claims.name ?? [claims.givenName, claims.familyName].compactMap { $0 }.joined(separator: " ").nilIfEmpty
    }
}

/// LMS roles (LIS vocabulary, LTI Core 1.3 Appendix A) to a course's roles.
public enum LTIRoles {
    public enum CourseRole: String, Sendable { case student, ta, instructor }

    static let membership = "http://purl.imsglobal.org/vocab/lis/v2/membership"

    /// The course role the context roles grant. A teaching assistant's sub-role narrows Instructor (Canvas sends a TA
    /// both), so it decides first. Institution and system roles (an LMS administrator) grant nothing in a course; a
    /// role this platform does not know, or none, is a student's.
    public static func courseRole(_ roles: [String]) -> CourseRole {
        let assistant: Set = ["\(membership)/Instructor#TeachingAssistant", "\(membership)/Instructor#Grader",
                              "\(membership)#TeachingAssistant", "TeachingAssistant"]
        let instructor: Set = ["\(membership)#Instructor", "Instructor"]
        if roles.contains(where: assistant.contains) { return .ta }
        if roles.contains(where: instructor.contains) { return .instructor }
        return .student
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
