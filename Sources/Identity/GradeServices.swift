// LTI Advantage's services as the tool calls them: the client assertion that gets an access token (OAuth 2.0 client
// credentials with a JWT signed by the tool's key, LTI Security Framework 4.1), the token answer, and a score for
// Assignment and Grade Services 2.0 — with honest progress: FullyGraded only for a final score.
import Foundation
import JWTKit

/// The JWT a tool authenticates itself with at the LMS's token endpoint.
public struct ClientAssertion: JWTPayload, Equatable {
    public var issuer: String
    public var subject: String
    public var audience: String
    public var issuedAt: Double
    public var expires: Double
    public var id: String

    public init(clientID: String, tokenURL: String, now: Date) {
        (issuer, subject, audience) = (clientID, clientID, tokenURL)
        issuedAt = now.timeIntervalSince1970.rounded(.down)
        expires = issuedAt + 300
        id = PKCE.randomToken(bytes: 16)
    }

    enum CodingKeys: String, CodingKey { case issuer = "iss", subject = "sub", audience = "aud", issuedAt = "iat", expires = "exp", id = "jti" }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The token endpoint's answer.
public struct ServiceToken: Codable, Sendable, Equatable {
    public var accessToken: String
    public var expiresIn: Double?
    public var scope: String?
    enum CodingKeys: String, CodingKey { case accessToken = "access_token", expiresIn = "expires_in", scope }
    public init(accessToken: String, expiresIn: Double?, scope: String?) { (self.accessToken, self.expiresIn, self.scope) = (accessToken, expiresIn, scope) }
}

/// A score for one student on one line item (AGS 2.0, application/vnd.ims.lis.v1.score+json).
public struct ScorePost: Codable, Sendable, Equatable {
    public struct Submission: Codable, Sendable, Equatable {
        public var submittedAt: String
    }
    public struct CanvasSubmission: Codable, Sendable, Equatable {
        public var submittedAt: String
        enum CodingKeys: String, CodingKey { case submittedAt = "submitted_at" }
    }

    public var userId: String
    public var scoreGiven: Double?
    public var scoreMaximum: Double?
    public var activityProgress: String
    public var gradingProgress: String
    public var timestamp: String
    public var submission: Submission?
    /// Canvas reads the hand-in time from its own extension (so work is not marked late by the time of the post).
    public var canvasSubmission: CanvasSubmission?

    enum CodingKeys: String, CodingKey {
        case userId, scoreGiven, scoreMaximum, activityProgress, gradingProgress, timestamp, submission
        case canvasSubmission = "https://canvas.instructure.com/lti/submission"
    }

    /// The score of `userID`: `score` out of `maximum` when grading is final (and there is a score out of something);
    /// Pending, with no score, while an attempt is still being graded; not handed in, no score and nothing graded.
    public init(userID: String, score: Double?, maximum: Double?, handedIn: Bool, final: Bool, submittedAt: Date?, now: Date) {
        userId = userID
        timestamp = Self.time(now)
        submission = submittedAt.map { Submission(submittedAt: Self.time($0)) }
        canvasSubmission = submittedAt.map { CanvasSubmission(submittedAt: Self.time($0)) }
        switch (handedIn, final) {
        case (false, _):
            (activityProgress, gradingProgress) = ("Initialized", "NotReady")
        case (true, false):
            (activityProgress, gradingProgress) = ("Submitted", "Pending")
        case (true, true):
            if let score, let maximum, maximum > 0 {
                (activityProgress, gradingProgress, scoreGiven, scoreMaximum) = ("Completed", "FullyGraded", max(0, score), maximum)
            } else {
                (activityProgress, gradingProgress) = ("Completed", "Pending")
            }
        }
    }

    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// A line item (AGS 2.0, application/vnd.ims.lis.v2.lineitem+json): a grade column in an LMS course. `id` is its
/// address, given by the LMS; `resourceId` is the tool's own name for what it grades (here an assignment's id).
public struct LineItem: Codable, Sendable, Equatable {
    public var id: String?
    public var scoreMaximum: Double?
    public var label: String?
    public var resourceId: String?
    public var resourceLinkId: String?

    public init(id: String? = nil, scoreMaximum: Double?, label: String?, resourceId: String?, resourceLinkId: String?) {
        (self.id, self.scoreMaximum, self.label, self.resourceId, self.resourceLinkId) = (id, scoreMaximum, label, resourceId, resourceLinkId)
    }

    /// The line item of a container's answer that names `resourceID` (an LMS may ignore the `resource_id` filter and
    /// list them all); items that are not objects of the expected shape are skipped, not fatal.
    public static func named(_ resourceID: String, in container: Data) -> LineItem? {
        guard let items = try? JSONDecoder().decode([Tolerant].self, from: container) else { return nil }
        return items.compactMap(\.item).first { $0.id?.isEmpty == false && $0.resourceId?.lowercased() == resourceID.lowercased() }
    }

    private struct Tolerant: Decodable {
        var item: LineItem?
        init(from decoder: any Decoder) throws { item = try? LineItem(from: decoder) }
    }
}
