// The tool's signing key: kept as PEM and read back, published without a private part, and what it signs verifies
// against what it publishes (as an LMS checks a Deep Linking response) — and against no other key.
import Foundation
import Identity
import JWTKit
import Testing

@Suite struct ToolSigningKeyTests {
    func verify(_ token: String, with jwk: [String: String]) async throws -> DeepLinkingResponse {
        let keys = JWTKeyCollection()
        try await keys.add(jwks: try JSONDecoder().decode(JWKS.self, from: try JSONSerialization.data(withJSONObject: ["keys": [jwk]])))
        return try await keys.verify(token, as: DeepLinkingResponse.self)
    }

    @Test func whatItSignsVerifiesWithItsPublishedHalfOnly() async throws {
        let key = try ToolSigningKey.generate()
        let kept = try ToolSigningKey(kid: key.kid, pem: key.pem)
        let jwk = try kept.publicJWK()
        #expect(jwk == (try key.publicJWK()) && Set(jwk.keys) == ["kty", "kid", "alg", "use", "n", "e"])
        let item = DeepLinkingResponse.ResourceLink(title: "Lab 1", url: "https://campus.example/lti/launch", custom: ["assignment_id": "a1"],
                                                    lineItem: .init(scoreMaximum: 10, label: "Lab 1", resourceId: "a1"), submission: nil)
        let response = DeepLinkingResponse(clientID: "tool-1", issuer: "https://lms.example", deploymentID: "d1", data: "x", items: [item],
                                           message: nil, now: Date(timeIntervalSince1970: 1_800_000_000.7))
        let token = try await kept.sign(response)
        #expect(try await verify(token, with: jwk) == response)
        #expect(response.issuedAt == 1_800_000_000 && response.expires == 1_800_000_300)
        // The claims carry LTI's names, so an LMS finds them.
        let payload = try #require(Data(base64Encoded: String(token.split(separator: ".")[1]).padding(toLength: ((token.split(separator: ".")[1].count + 3) / 4) * 4, withPad: "=", startingAt: 0)
            .replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")))
        let claims = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
        #expect(claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] as? String == "LtiDeepLinkingResponse")
        #expect(claims["aud"] as? String == "https://lms.example" && claims["iss"] as? String == "tool-1")
        #expect(claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] as? String == "d1")
        #expect(claims["https://purl.imsglobal.org/spec/lti/claim/version"] as? String == "1.3.0")
        #expect(claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] as? String == "x")
        #expect(claims["nonce"] as? String != nil && claims["iat"] as? Double == 1_800_000_000 && claims["exp"] as? Double == 1_800_000_300)
        let items = try #require(claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"] as? [[String: Any]])
        #expect(items.first?["type"] as? String == "ltiResourceLink" && items.first?["url"] as? String == "https://campus.example/lti/launch")
        #expect((items.first?["custom"] as? [String: String]) == ["assignment_id": "a1"])
        let lineItem = try #require(items.first?["lineItem"] as? [String: Any])
        #expect(lineItem["scoreMaximum"] as? Double == 10 && lineItem["label"] as? String == "Lab 1" && lineItem["resourceId"] as? String == "a1")
        // Another key with the same id does not verify it.
        var other = try ToolSigningKey.generate().publicJWK()
        other["kid"] = key.kid
        await #expect(throws: (any Error).self) { _ = try await verify(token, with: other) }
        #expect(throws: IdentityRefusal.self) { _ = try ToolSigningKey(kid: "x", pem: "not a key") }
    }

    @Test func aScoreIsFullyGradedOnlyWhenFinalAndNamesItsFieldsAsAGSDoes() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func json(_ score: ScorePost) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(score)) as? [String: Any])
        }
        let final = try json(ScorePost(userID: "u1", score: 7.5, maximum: 10, handedIn: true, final: true, submittedAt: now.addingTimeInterval(-60), now: now))
        #expect(final["userId"] as? String == "u1" && final["scoreGiven"] as? Double == 7.5 && final["scoreMaximum"] as? Double == 10)
        #expect(final["activityProgress"] as? String == "Completed" && final["gradingProgress"] as? String == "FullyGraded")
        #expect(final["timestamp"] as? String == "2027-01-15T08:00:00.000Z")
        #expect((final["submission"] as? [String: String])?["submittedAt"] == "2027-01-15T07:59:00.000Z")
        #expect((final["https://canvas.instructure.com/lti/submission"] as? [String: String])?["submitted_at"] == "2027-01-15T07:59:00.000Z")
        let grading = try json(ScorePost(userID: "u1", score: 7.5, maximum: 10, handedIn: true, final: false, submittedAt: now, now: now))
        #expect(grading["gradingProgress"] as? String == "Pending" && grading["activityProgress"] as? String == "Submitted" && grading["scoreGiven"] == nil)
        let nothing = try json(ScorePost(userID: "u1", score: nil, maximum: 10, handedIn: false, final: true, submittedAt: nil, now: now))
        #expect(nothing["gradingProgress"] as? String == "NotReady" && nothing["activityProgress"] as? String == "Initialized" && nothing["scoreGiven"] == nil)
        // Out of nothing (no points, no autograder maximum): not FullyGraded, whatever the score.
        let unknown = try json(ScorePost(userID: "u1", score: 3, maximum: nil, handedIn: true, final: true, submittedAt: now, now: now))
        #expect(unknown["gradingProgress"] as? String == "Pending" && unknown["scoreGiven"] == nil)
        // A negative total (penalties) is sent as 0.
        #expect(try json(ScorePost(userID: "u1", score: -2, maximum: 10, handedIn: true, final: true, submittedAt: now, now: now))["scoreGiven"] as? Double == 0)
    }

    @Test func customParametersAreReadAsTextWhateverTheLMSSends() throws {
        let json = #"{"https://purl.imsglobal.org/spec/lti/claim/custom": {"assignment_id": "a1", "week": 3, "weight": 0.5, "graded": true, "nested": {"x": 1}}}"#
        let claims = try JSONDecoder().decode(TokenClaims.self, from: Data(json.utf8))
        #expect(claims.lti.custom?.values == ["assignment_id": "a1", "week": "3", "weight": "0.5", "graded": "true"])
        // A custom claim that is not an object is no custom parameters, not an unreadable token.
        let odd = try JSONDecoder().decode(TokenClaims.self, from: Data(#"{"sub": "s", "https://purl.imsglobal.org/spec/lti/claim/custom": ["x"]}"#.utf8))
        #expect(odd.subject == "s" && odd.lti.custom?.values == [:])
    }
}
