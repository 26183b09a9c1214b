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
        #expect((claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"] as? [[String: Any]])?.first?["type"] as? String == "ltiResourceLink")
        // Another key with the same id does not verify it.
        var other = try ToolSigningKey.generate().publicJWK()
        other["kid"] = key.kid
        await #expect(throws: (any Error).self) { _ = try await verify(token, with: other) }
        #expect(throws: IdentityRefusal.self) { _ = try ToolSigningKey(kid: "x", pem: "not a key") }
    }

    @Test func customParametersAreReadAsTextWhateverTheLMSSends() throws {
        let json = #"{"https://purl.imsglobal.org/spec/lti/claim/custom": {"assignment_id": "a1", "week": 3, "weight": 0.5, "graded": true, "nested": {"x": 1}}}"#
        let claims = try JSONDecoder().decode(TokenClaims.self, from: Data(json.utf8))
        #expect(claims.lti.custom?.values == ["assignment_id": "a1", "week": "3", "weight": "0.5", "graded": "true"])
    }
}
