// LTI Dynamic Registration (issue 21): an administrator's single-use link, opened by an LMS stand-in with its OpenID
// configuration and registration token; the tool's registration as the LMS receives it; what is kept; and every
// refusal (no configuration, an issuer from another host, a private address, a reused link, an LMS that says no)
// writing no registration.
import AsyncHTTPClient
import Fluent
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct LTIDynamicRegistrationTests {
    /// The LMS: its configuration (only with the registration token) and its registration endpoint.
    final class Moodle: @unchecked Sendable {
        struct State {
            var issuer = "https://moodle.test"
            var registrations: [(body: [String: Any], authorization: String?)] = []
            var refuse = false
        }
        let state = NIOLockedValueBox(State())

        func install(on app: Application) {
            app.identityHTTP = UpstreamClient { [self] request, _ in
                let authorization = request.headers.first(name: .authorization)
                if request.url == "https://moodle.test/.well-known/openid-configuration" {
                    guard authorization == "Bearer reg-token-1" else { return HTTPClientResponse(status: .unauthorized) }
                    let issuer = state.withLockedValue { $0.issuer }
                    let document: [String: Any] = [
                        "issuer": issuer, "authorization_endpoint": "https://moodle.test/mod/lti/auth.php",
                        "token_endpoint": "https://moodle.test/mod/lti/token.php", "jwks_uri": "https://moodle.test/mod/lti/certs.php",
                        "registration_endpoint": "https://moodle.test/mod/lti/openid-registration.php",
                        "scopes_supported": ["openid", "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                                             "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"],
                    ]
                    return HTTPClientResponse(status: .ok, headers: ["content-type": "application/json"],
                                              body: .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: document))))
                }
                if request.url == "https://moodle.test/mod/lti/openid-registration.php", request.method == .POST {
                    var body = ByteBuffer()
                    if let given = request.body { body = try await given.collect(upTo: 1 << 20) }
                    let sent = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
                    let refuse = state.withLockedValue { state in
                        state.registrations.append((sent, authorization))
                        return state.refuse
                    }
                    if refuse { return HTTPClientResponse(status: .badRequest, body: .bytes(ByteBuffer(string: #"{"error": "invalid_redirect_uri"}"#))) }
                    let answer = #"{"client_id": "moodle-client-7", "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "dep-3"}}"#
                    return HTTPClientResponse(status: .ok, headers: ["content-type": "application/json"], body: .bytes(ByteBuffer(string: answer)))
                }
                return HTTPClientResponse(status: .notFound)
            }
        }
    }

    /// A registration link made by the admin on the LTI page; returns its path and query.
    func invite(_ admin: Browser, _ app: Application, name: String) async throws -> String {
        let programme = try #require(try await Programme.query(on: app.db).first()).requireID()
        try await admin.get("/admin/lti")
        let made = try await admin.post("/admin/lti/invites", ["name": name, "lmsHost": "moodle.test", "programmeID": programme.uuidString,
                                                               "emailDomains": "moodle-uni.test"])
        #expect(made.status == .seeOther, "\(made.body.string)")
        let page = try await admin.get("/admin/lti").body.string
        let start = try #require(page.range(of: "http://campus.test/lti/register?invite="))
        return String(page[start.lowerBound...].prefix { !$0.isWhitespace && $0 != "<" }).replacingOccurrences(of: "http://campus.test", with: "")
    }

    func open(_ app: Application, _ link: String, configuration: String? = "https://moodle.test/.well-known/openid-configuration") async throws -> TestingHTTPResponse {
        var path = link
        if let configuration { path += "&openid_configuration=\(configuration.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&registration_token=reg-token-1" }
        return try await app.testing().sendRequest(.GET, path)
    }

    @Test func anLMSRegistersWithASingleUseLinkAndTheChecksOfAHandEnteredRegistration() async throws {
        try await withTestApp(adjust: { $0.publicURL = URL(string: "http://campus.test") }) { app in
            try await app.loadDemoData()
            let moodle = Moodle()
            moodle.install(on: app)
            let admin = try Browser(app)
            try await admin.signIn("admin@demo.test")
            let link = try await invite(admin, app, name: "Moodle")
            #expect(try await LTIRegistrationInvite.query(on: app.db).first()?.tokenHash.contains(String(link.split(separator: "=").last!)) == false, "kept hashed")

            // Opened without the LMS's configuration, for another host than the link names, on this machine or a
            // private address: refused before anything is fetched, in a page the LMS's dialog may show (with nothing of
            // a session in it); the link stays usable.
            let bare = try await open(app, link, configuration: nil)
            #expect(bare.status == .badRequest && bare.body.string.contains("openid_configuration"))
            #expect(bare.headers.first(name: "Content-Security-Policy") == "frame-ancestors *" && bare.headers.first(name: "X-Frame-Options") == nil)
            #expect(!bare.body.string.contains("_csrf") && !bare.body.string.contains("Sign out"))
            #expect(try await open(app, link, configuration: "https://other.test/.well-known/openid-configuration").status == .badRequest)
            #expect(try await open(app, link, configuration: "https://10.1.2.3/.well-known/openid-configuration").status == .badRequest)
            #expect(try await open(app, link, configuration: "http://127.0.0.1:5432/").status == .badRequest)
            #expect(try await open(app, link, configuration: "https://localhost/x").status == .badRequest)
            #expect(try await LTIRegistration.query(on: app.db).count() == 0)
            #expect(moodle.state.withLockedValue { $0.registrations.isEmpty })
            #expect(try await LTIRegistrationInvite.query(on: app.db).filter(\.$usedAt == nil).count() == 1)

            let done = try await open(app, link)
            #expect(done.status == .ok, "\(done.body.string)")
            #expect(done.body.string.contains("org.imsglobal.lti.close") && done.headers.first(name: "Content-Security-Policy") == "frame-ancestors *")
            let registration = try #require(try await LTIRegistration.query(on: app.db).with(\.$deployments).first())
            #expect(registration.name == "Moodle" && registration.issuer == "https://moodle.test" && registration.clientID == "moodle-client-7")
            #expect(registration.authLoginURL == "https://moodle.test/mod/lti/auth.php" && registration.tokenURL == "https://moodle.test/mod/lti/token.php"
                    && registration.keySetURL == "https://moodle.test/mod/lti/certs.php" && registration.emailDomains == "moodle-uni.test")
            #expect(registration.deployments.map(\.deploymentID) == ["dep-3"])
            // What the LMS was sent: the tool's addresses, its key set, private_key_jwt, only scopes the LMS offers.
            let (sent, authorization) = try #require(moodle.state.withLockedValue { $0.registrations.last })
            #expect(authorization == "Bearer reg-token-1")
            #expect(sent["initiate_login_uri"] as? String == "http://campus.test/lti/login" && sent["redirect_uris"] as? [String] == ["http://campus.test/lti/launch"])
            #expect(sent["jwks_uri"] as? String == "http://campus.test/.well-known/jwks.json" && sent["token_endpoint_auth_method"] as? String == "private_key_jwt")
            #expect(sent["scope"] as? String == "https://purl.imsglobal.org/spec/lti-ags/scope/score https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly")
            let tool = try #require(sent["https://purl.imsglobal.org/spec/lti-tool-configuration"] as? [String: Any])
            #expect((tool["messages"] as? [[String: Any]])?.contains { $0["type"] as? String == "LtiDeepLinkingRequest" } == true && tool["domain"] as? String == "campus.test")

            // Once only.
            let again = try await open(app, link)
            #expect(again.status == .notFound)
            #expect(try await LTIRegistration.query(on: app.db).count() == 1)

            // A configuration naming another host as its issuer: refused, nothing registered, the link spent.
            moodle.state.withLockedValue { $0.issuer = "https://evil.test" }
            let third = try await invite(admin, app, name: "Moodle 3")
            #expect(try await open(app, third).status == .badRequest)
            #expect(try await LTIRegistration.query(on: app.db).count() == 1)
            #expect(try await open(app, third).status == .notFound)
            moodle.state.withLockedValue { $0.issuer = "https://moodle.test" }

            // An LMS that refuses: nothing kept, and that link is spent.
            moodle.state.withLockedValue { $0.refuse = true }
            let second = try await invite(admin, app, name: "Moodle 2")
            let refused = try await open(app, second)
            #expect(refused.status == .badGateway && refused.body.string.contains("invalid_redirect_uri"))
            #expect(try await LTIRegistration.query(on: app.db).count() == 1)
            #expect(try await open(app, second).status == .notFound)
        }
    }
}
