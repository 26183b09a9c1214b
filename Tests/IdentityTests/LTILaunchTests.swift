// LTI 1.3 launch rules on verified claims: each certification-style bad launch (missing message type, wrong version,
// missing or unknown deployment, missing roles, subject or resource link, deep linking without its return URL, a
// message type this tool does not handle) refused with its reason; roles mapped with the least privilege.
import Foundation
import Testing
@testable import Identity

@Suite struct LTILaunchTests {
    static let membership = "http://purl.imsglobal.org/vocab/lis/v2/membership"

    func claims(_ change: (inout TokenClaims) -> Void = { _ in }) -> TokenClaims {
        var claims = TokenClaims(issuer: "https://canvas.instructure.com", subject: "lms-user-7", audience: ["10000000000001"],
                                 expires: 1_800_000_300, issuedAt: 1_800_000_000, nonce: "n", email: "ada@uni.example",
                                 emailVerified: nil, givenName: "Ada", familyName: "Lovelace",
                                 lti: LTIClaims(messageType: "LtiResourceLinkRequest", version: "1.3.0", deploymentID: "1:abc",
                                                targetLinkURI: "https://campus.example/lti/launch",
                                                resourceLink: .init(id: "rl-1", title: "Lab 1"),
                                                roles: ["\(Self.membership)#Learner"],
                                                context: .init(id: "ctx-9", label: "CS101", title: "Intro to Programming"),
                                                gradeService: .init(scope: ["https://purl.imsglobal.org/spec/lti-ags/scope/score"], lineItems: "https://canvas/lineitems"),
                                                rosterService: .init(membershipsURL: "https://canvas/names_and_roles")))
        change(&claims)
        return claims
    }

    func refusal(_ claims: TokenClaims, deployments: Set<String> = ["1:abc"]) -> IdentityRefusal? {
        do { _ = try LTILaunch(claims, deployments: deployments); return nil } catch { return error }
    }

    @Test func aStudentsResourceLinkLaunchIsRead() throws {
        let launch = try LTILaunch(claims(), deployments: ["1:abc", "2:def"])
        #expect(launch.kind == .resourceLink && launch.role == .student && launch.subject == "lms-user-7")
        #expect(launch.context?.label == "CS101" && launch.resourceLink?.id == "rl-1" && launch.deploymentID == "1:abc")
        #expect(launch.name == "Ada Lovelace" && launch.emailVerified == false)
        #expect(launch.gradeService?.lineItems == "https://canvas/lineitems" && launch.rosterService?.membershipsURL == "https://canvas/names_and_roles")
    }

    @Test func everyBadLaunchIsRefusedWithItsReason() {
        let lti = "https://purl.imsglobal.org/spec/lti/claim/"
        #expect(refusal(claims { $0.lti.messageType = nil }) == .missingClaim(lti + "message_type"))
        #expect(refusal(claims { $0.lti.messageType = "LtiSubmissionReviewRequest" }) == .unsupportedMessageType("LtiSubmissionReviewRequest"))
        #expect(refusal(claims { $0.lti.version = "1.1" }) == .wrongVersion("1.1"))
        #expect(refusal(claims { $0.lti.version = nil }) == .wrongVersion(""))
        #expect(refusal(claims { $0.lti.deploymentID = nil }) == .missingClaim(lti + "deployment_id"))
        #expect(refusal(claims(), deployments: ["2:def"]) == .unknownDeployment("1:abc"))
        #expect(refusal(claims { $0.lti.roles = nil }) == .missingClaim(lti + "roles"))
        #expect(refusal(claims { $0.subject = nil }) == .missingClaim("sub"))
        #expect(refusal(claims { $0.lti.resourceLink = nil }) == .missingClaim(lti + "resource_link"))
        #expect(refusal(claims { $0.lti.resourceLink = .init(id: "") }) == .missingClaim(lti + "resource_link"))
        #expect(refusal(claims { $0.lti.targetLinkURI = nil }) == .missingClaim(lti + "target_link_uri"))
        #expect(refusal(claims { $0.lti.messageType = "LtiDeepLinkingRequest" })
                == .missingClaim("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"))
        #expect(refusal(claims {
            $0.lti.messageType = "LtiDeepLinkingRequest"
            $0.lti.resourceLink = nil
            $0.lti.deepLinking = .init(returnURL: "https://canvas/deep_links")
        }) == nil)
    }

    @Test func rolesMapWithTheLeastPrivilege() {
        let m = Self.membership
        #expect(LTIRoles.courseRole(["\(m)#Instructor"]) == .instructor)
        // Canvas sends a TA Instructor and the TeachingAssistant sub-role: a TA, not an instructor.
        #expect(LTIRoles.courseRole(["\(m)#Instructor", "\(m)/Instructor#TeachingAssistant"]) == .ta)
        #expect(LTIRoles.courseRole(["\(m)#Learner"]) == .student)
        #expect(LTIRoles.courseRole([]) == .student)
        // An LMS administrator (an institution role) or an unknown role grants nothing in a course.
        #expect(LTIRoles.courseRole(["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"]) == .student)
        #expect(LTIRoles.courseRole(["\(m)#ContentDeveloper", "urn:lti:role:custom#Wizard"]) == .student)
    }

    @Test func theLTIClaimsRoundTripThroughJSONUnderTheirNames() throws {
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(claims())) as? [String: Any]
        #expect(json?["https://purl.imsglobal.org/spec/lti/claim/message_type"] as? String == "LtiResourceLinkRequest")
        #expect((json?["https://purl.imsglobal.org/spec/lti/claim/context"] as? [String: Any])?["label"] as? String == "CS101")
        #expect(try JSONDecoder().decode(TokenClaims.self, from: JSONEncoder().encode(claims())) == claims())
        // email_verified as the string "true" (some providers) is a yes; a string aud is one audience.
        let loose = Data(#"{"iss":"i","aud":"one","email_verified":"true"}"#.utf8)
        let decoded = try JSONDecoder().decode(TokenClaims.self, from: loose)
        #expect(decoded.emailVerified == true && decoded.audience == ["one"])
    }
}
