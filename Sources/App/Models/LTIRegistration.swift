// LTI 1.3 (issue 21): the LMSs registered as platforms, their deployments, logins under way, and which course each
// LMS course is.
import Fluent
import Foundation

final class LTIRegistration: Model, @unchecked Sendable {
    static let schema = "lti_registrations"

    @ID(key: .id) var id: UUID?
    @Field(key: "name") var name: String
    @Field(key: "issuer") var issuer: String
    @Field(key: "client_id") var clientID: String
    /// The LMS's OIDC authorization endpoint (where a login is sent on).
    @Field(key: "auth_login_url") var authLoginURL: String
    @Field(key: "token_url") var tokenURL: String
    @Field(key: "key_set_url") var keySetURL: String
    /// The programme an instructor's first launch from a new LMS course creates its course in.
    @Parent(key: "programme_id") var programme: Programme
    /// A first launch whose email (in emailDomains) is an existing account's signs in to that account.
    @Field(key: "link_by_email") var linkByEmail: Bool
    /// The domains whose addresses this LMS is trusted with, comma-separated ("" for none): an account is created
    /// or linked under an LMS's email only in them; otherwise it gets an address of its own that no mail reaches.
    @Field(key: "email_domains") var emailDomains: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Children(for: \.$registration) var deployments: [LTIDeployment]

    init() {}

    var domains: [String] { emailDomains.split(separator: ",").map(String.init) }

    /// Whether the LMS is trusted with this (normalised) address.
    func vouches(for email: String) -> Bool {
        guard let at = email.lastIndex(of: "@") else { return false }
        return domains.contains(String(email[email.index(after: at)...]))
    }
}

final class LTIDeployment: Model, @unchecked Sendable {
    static let schema = "lti_deployments"

    @ID(key: .id) var id: UUID?
    @Parent(key: "registration_id") var registration: LTIRegistration
    @Field(key: "deployment_id") var deploymentID: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(registrationID: UUID, deploymentID: String) {
        $registration.id = registrationID
        self.deploymentID = deploymentID
    }
}

final class LTILaunchState: Model, @unchecked Sendable {
    static let schema = "lti_launch_states"

    @ID(key: .id) var id: UUID?
    @Parent(key: "registration_id") var registration: LTIRegistration
    @Field(key: "state_hash") var stateHash: String
    @Field(key: "nonce") var nonce: String
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?

    init() {}
}

final class LTIContext: Model, @unchecked Sendable {
    static let schema = "lti_contexts"

    @ID(key: .id) var id: UUID?
    @Parent(key: "registration_id") var registration: LTIRegistration
    @Field(key: "deployment_id") var deploymentID: String
    @Field(key: "context_id") var contextID: String
    @Parent(key: "course_id") var course: Course
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(registrationID: UUID, deploymentID: String, contextID: String, courseID: UUID) {
        $registration.id = registrationID
        $course.id = courseID
        (self.deploymentID, self.contextID) = (deploymentID, contextID)
    }
}
