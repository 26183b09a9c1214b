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
    /// Off: no launches, no score or roster calls, until switched on again.
    @Field(key: "enabled") var enabled: Bool
    /// When it was last switched off: the sessions its launches began before then are over.
    @OptionalField(key: "switched_off_at") var switchedOffAt: Date?
    /// The hosts its services are on, comma-separated ("": not known yet, learnt from the next launch naming one).
    @Field(key: "service_hosts") var serviceHosts: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Children(for: \.$registration) var deployments: [LTIDeployment]

    init() { (enabled, serviceHosts) = (true, "") }

    var domains: [String] { emailDomains.split(separator: ",").map(String.init) }

    var serviceHostList: [String] { serviceHosts.split(separator: ",").map(String.init) }

    /// Whether the tool may call `url` with this LMS's access token: on one of its service hosts (none while they are
    /// not known yet: the next launch naming a service pins them).
    func serves(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        return serviceHostList.contains(host)
    }

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
    /// The LMS's storage frame the state was also put in (`lti_storage_target`), when the LMS offered one.
    @OptionalField(key: "storage_target") var storageTarget: String?

    init() {}
}

/// A launch continued in a window of its own (see CreateLTIWindowTicket).
final class LTIWindowTicket: Model, @unchecked Sendable {
    static let schema = "lti_window_tickets"

    @ID(key: .id) var id: UUID?
    @Field(key: "ticket_hash") var ticketHash: String
    @Parent(key: "user_id") var user: User
    @Field(key: "destination") var destination: String
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?
    /// The LMS whose launch it continues.
    @OptionalField(key: "registration_id") var registrationID: UUID?

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
    /// Its roster at the LMS (NRPS), from the latest launch that named one.
    @OptionalField(key: "memberships_url") var membershipsURL: String?
    @OptionalField(key: "roster_synced_at") var rosterSyncedAt: Date?
    /// Its line item container (AGS) and the scope granted on it, from the latest launch that named one.
    @OptionalField(key: "line_items_url") var lineItemsURL: String?
    @OptionalField(key: "line_items_scope") var lineItemsScope: String?

    init() {}

    init(registrationID: UUID, deploymentID: String, contextID: String, courseID: UUID) {
        $registration.id = registrationID
        $course.id = courseID
        (self.deploymentID, self.contextID) = (deploymentID, contextID)
    }
}

final class LTIToolKey: Model, @unchecked Sendable {
    static let schema = "lti_tool_keys"

    @ID(key: .id) var id: UUID?
    @Field(key: "generation") var generation: Int
    @Field(key: "kid") var kid: String
    /// The private key's PEM, sealed (AES-GCM) under a key derived from the platform secret.
    @Field(key: "sealed_key") var sealedKey: String
    /// The public half, as published (JSON).
    @Field(key: "public_jwk") var publicJWK: String
    @Field(key: "activates_at") var activatesAt: Date
    @Field(key: "created_at") var createdAt: Date

    init() {}
}

final class LTIDeepLinkRequest: Model, @unchecked Sendable {
    static let schema = "lti_deep_link_requests"

    @ID(key: .id) var id: UUID?
    @Parent(key: "registration_id") var registration: LTIRegistration
    @Field(key: "deployment_id") var deploymentID: String
    @Parent(key: "course_id") var course: Course
    @Parent(key: "user_id") var user: User
    @Field(key: "return_url") var returnURL: String
    @OptionalField(key: "data") var data: String?
    @Field(key: "accept_multiple") var acceptMultiple: Bool
    @Field(key: "accept_line_item") var acceptLineItem: Bool
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?

    init() {}
}

final class LTIResourceLink: Model, @unchecked Sendable {
    static let schema = "lti_resource_links"

    @ID(key: .id) var id: UUID?
    @Parent(key: "context_id") var context: LTIContext
    @Field(key: "resource_link_id") var resourceLinkID: String
    @OptionalParent(key: "assignment_id") var assignment: Assignment?
    @OptionalField(key: "line_item_url") var lineItemURL: String?
    @OptionalField(key: "title") var title: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

final class LTIScorePost: Model, @unchecked Sendable {
    static let schema = "lti_score_posts"

    /// withheld: the assignment's grades were withdrawn before it was sent.
    enum Status: String, Codable, Sendable { case pending, sent, failed, withheld }

    @ID(key: .id) var id: UUID?
    @Parent(key: "registration_id") var registration: LTIRegistration
    @Field(key: "line_item_url") var lineItemURL: String
    @Parent(key: "assignment_id") var assignment: Assignment
    @Parent(key: "user_id") var user: User
    /// The student's `sub` at the LMS (the score's userId).
    @Field(key: "subject") var subject: String
    @Field(key: "status") var status: Status
    /// When the grade last changed.
    @Field(key: "changed_at") var changedAt: Date
    /// Counts the changes: a post answers the version it read, and a later change keeps the row pending.
    @Field(key: "version") var version: Int
    @OptionalField(key: "sent_at") var sentAt: Date?
    @OptionalField(key: "score_sent") var scoreSent: Double?
    @OptionalField(key: "progress_sent") var progressSent: String?
    @OptionalField(key: "last_error") var lastError: String?
    /// Failed posts since the last change, and when the next may go (a passing failure backs off on its own row).
    @Field(key: "attempts") var attempts: Int
    @OptionalField(key: "retry_at") var retryAt: Date?

    init() {}
}

/// An assignment's grade column in an LMS course found (or made) through the course's line item container.
final class LTILineItem: Model, @unchecked Sendable {
    static let schema = "lti_line_items"

    @ID(key: .id) var id: UUID?
    @Parent(key: "context_id") var context: LTIContext
    @Parent(key: "assignment_id") var assignment: Assignment
    /// Empty until found.
    @OptionalField(key: "url") var url: String?
    /// When the last look found nothing; empty while a look is due.
    @OptionalField(key: "looked_up_at") var lookedUpAt: Date?
    /// Looks that failed for a passing reason since, and when the next may go.
    @Field(key: "attempts") var attempts: Int
    @OptionalField(key: "retry_at") var retryAt: Date?

    init() {}

    /// Whether the assignment has a grade column in some LMS: named by a link's launch, or found.
    static func known(for assignmentID: UUID, on db: any Database) async throws -> Bool {
        if try await LTIResourceLink.query(on: db).filter(\.$assignment.$id == assignmentID).filter(\.$lineItemURL != nil).count() > 0 { return true }
        return try await LTILineItem.query(on: db).filter(\.$assignment.$id == assignmentID).filter(\.$url != nil).count() > 0
    }
}

final class LTIRegistrationInvite: Model, @unchecked Sendable {
    static let schema = "lti_registration_invites"

    @ID(key: .id) var id: UUID?
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "name") var name: String
    /// The host the LMS's issuer must be on (what the administrator expects to register).
    @Field(key: "lms_host") var lmsHost: String
    @Parent(key: "programme_id") var programme: Programme
    @Field(key: "email_domains") var emailDomains: String
    @Field(key: "link_by_email") var linkByEmail: Bool
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?

    init() {}
}
