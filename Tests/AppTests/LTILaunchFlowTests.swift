// LTI 1.3 launches (issue 21) from an LMS stand-in inside the test: its own RSA key, its key set served through the
// platform's identity HTTP, id_tokens signed as each test says. The test plays the browser: the LMS's login initiation,
// the platform's redirect to the LMS (state and nonce read from it, the state's cookie kept), the LMS's form post of
// the id_token. An instructor's first launch creates the course; students and TAs land in it with their LMS roles;
// every certification-style bad launch is refused with a page and writes nothing.
import AsyncHTTPClient
import CryptoExtras
import Fluent
import Foundation
import Identity
import JWTKit
import NIOCore
import Testing
import Vapor
import VaporTesting
@testable import App

/// The LMS: issuer, the tool's client id there, a deployment, its signing key and the key set it publishes.
final class LMSStandIn: @unchecked Sendable {
    let issuer = "https://lms.test"
    let clientID = "tool-123"
    let deployment = "1:deploy"
    let keySetURL = "https://lms.test/jwks"
    let key: JWTKit.Insecure.RSA.PrivateKey
    let stray: JWTKit.Insecure.RSA.PrivateKey
    static let membership = "http://purl.imsglobal.org/vocab/lis/v2/membership"

    init() throws {
        key = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        stray = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Serves its key set (kid lms-1) at keySetURL through the platform's identity HTTP.
    func install(on app: Application) throws {
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        let set = ["keys": [["kty": "RSA", "kid": "lms-1", "alg": "RS256", "use": "sig", "n": Self.base64URL(modulus), "e": Self.base64URL(exponent)]]]
        let body = try JSONSerialization.data(withJSONObject: set)
        let url = keySetURL
        app.identityHTTP = UpstreamClient { request, _ in
            guard request.url == url else { return HTTPClientResponse(status: .notFound) }
            return HTTPClientResponse(status: .ok, headers: ["content-type": "application/json", "cache-control": "max-age=300"], body: .bytes(ByteBuffer(data: body)))
        }
    }

    /// A resource link launch's claims for `subject` with `roles`, in LMS course `context`.
    func claims(nonce: String, subject: String, roles: [String], context: String = "ctx-1", email: String? = nil, name: String? = nil) -> TokenClaims {
        let now = Date().timeIntervalSince1970
        return TokenClaims(issuer: issuer, subject: subject, audience: [clientID], expires: now + 300, issuedAt: now, nonce: nonce, email: email,
                           name: name, lti: LTIClaims(messageType: "LtiResourceLinkRequest", version: "1.3.0", deploymentID: deployment,
                                                      targetLinkURI: "http://campus.test/lti/launch", resourceLink: .init(id: "rl-1", title: "Lab 1"),
                                                      roles: roles, context: .init(id: context, label: "BIO101", title: "Biology in the cloud")))
    }

    /// Signs with its key under kid lms-1 (or `kid`, or none), or with a key it does not publish.
    func sign(_ claims: TokenClaims, kid: String? = "lms-1", stray: Bool = false) async throws -> String {
        let keys = JWTKeyCollection()
        let identifier = kid.map { JWKIdentifier(string: $0) }
        await keys.add(rsa: stray ? self.stray : key, digestAlgorithm: .sha256, kid: identifier)
        return try await keys.sign(claims, kid: identifier)
    }
}

@Suite(.serialized) struct LTILaunchFlowTests {
    static let instructor = [LMSStandIn.membership + "#Instructor"]
    static let learner = [LMSStandIn.membership + "#Learner"]
    static let assistant = [LMSStandIn.membership + "#Instructor", LMSStandIn.membership + "/Instructor#TeachingAssistant"]

    /// A platform at http://campus.test with the demo data and the LMS registered (through the API, as an admin).
    func withLMS(publicURL: String = "http://campus.test", statements: StatementCounter? = nil,
                 _ body: (Application, LMSStandIn) async throws -> Void) async throws {
        try await withTestApp(adjust: { $0.publicURL = URL(string: publicURL) }, statements: statements) { app in
            try await app.loadDemoData()
            let lms = try LMSStandIn()
            try lms.install(on: app)
            let programme = try #require(try await Programme.query(on: app.db).first()).requireID()
            let response = try await register(app, ["name": "Canvas", "issuer": lms.issuer, "clientID": lms.clientID,
                                                     "authLoginURL": "https://lms.test/auth", "tokenURL": "https://lms.test/token",
                                                     "keySetURL": lms.keySetURL, "programmeID": programme.uuidString, "deploymentIDs": lms.deployment,
                                                     "emailDomains": "uni.test"])
            #expect(response.status == .created, "\(response.body.string)")
            try await body(app, lms)
        }
    }

    func register(_ app: Application, _ fields: [String: Any], path: String = "api/v1/lti/registrations", as email: String = "admin@demo.test",
                  method: HTTPMethod = .POST) async throws -> TestingHTTPResponse {
        try await app.testing().sendRequest(method, path, headers: try await app.bearer(email)) { req in
            req.headers.contentType = .json
            req.body = ByteBuffer(data: try JSONSerialization.data(withJSONObject: fields))
        }
    }

    /// The LMS's login initiation; returns the state, the nonce and the redirect.
    func login(_ app: Application, _ lms: LMSStandIn, post: Bool = false) async throws -> (state: String, nonce: String, location: URLComponents, setCookie: String) {
        let fields = ["iss": lms.issuer, "login_hint": "hint-1", "target_link_uri": "http://campus.test/lti/launch", "client_id": lms.clientID,
                      "lti_message_hint": "msg-1"]
        let encoded = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
        let response = post
            ? try await app.testing().sendRequest(.POST, "/lti/login", headers: ["content-type": "application/x-www-form-urlencoded"], body: ByteBuffer(string: encoded))
            : try await app.testing().sendRequest(.GET, "/lti/login?" + encoded)
        #expect(response.status == .seeOther, "\(response.body.string)")
        let redirect = try #require(response.headers.first(name: .location))
        let location = try #require(URLComponents(string: redirect))
        let items = Dictionary(uniqueKeysWithValues: (location.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        let setCookie = try #require(response.headers[.setCookie].first { $0.hasPrefix("lti_state_") || $0.hasPrefix("__Host-lti_state_") })
        return (try #require(items["state"]), try #require(items["nonce"]), location, setCookie)
    }

    /// The LMS's form post of `token` with `state`, the browser holding the cookie of the login whose state is `cookie`.
    func post(_ app: Application, token: String, state: String, cookie: String?) async throws -> TestingHTTPResponse {
        var headers: HTTPHeaders = ["content-type": "application/x-www-form-urlencoded"]
        if let cookie { headers.add(name: .cookie, value: "\(LTILaunches.stateCookie(for: cookie, https: app.platformConfig.servesHTTPS))=\(cookie)") }
        let body = "id_token=\(token)&state=\(state.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        return try await app.testing().sendRequest(.POST, "/lti/launch", headers: headers, body: ByteBuffer(string: body))
    }

    /// A whole launch as `subject` with `roles`; `change` alters the claims, `sign` how they are signed.
    func launch(_ app: Application, _ lms: LMSStandIn, subject: String, roles: [String], context: String = "ctx-1", email: String? = nil,
                name: String? = nil, change: (inout TokenClaims) -> Void = { _ in }, kid: String? = "lms-1", stray: Bool = false) async throws -> TestingHTTPResponse {
        let (state, nonce, _, _) = try await login(app, lms)
        var claims = lms.claims(nonce: nonce, subject: subject, roles: roles, context: context, email: email, name: name)
        change(&claims)
        return try await post(app, token: try await lms.sign(claims, kid: kid, stray: stray), state: state, cookie: state)
    }

    /// The platform's session cookie a response set.
    func session(_ response: TestingHTTPResponse) -> String? {
        response.headers[.setCookie].first { $0.hasPrefix("campuscloud_session=") || $0.hasPrefix("__Host-campuscloud_session=") }
            .map { String($0.split(separator: ";")[0]) }
    }

    struct Counts: Equatable {
        var users = 0, identities = 0, members = 0, courses = 0, contexts = 0
    }

    func counts(_ app: Application) async throws -> Counts {
        Counts(users: try await User.query(on: app.db).count(), identities: try await ExternalIdentity.query(on: app.db).count(),
               members: try await CourseMember.query(on: app.db).count(), courses: try await Course.query(on: app.db).count(),
               contexts: try await LTIContext.query(on: app.db).count())
    }

    @Test func anInstructorsFirstLaunchCreatesTheCourseAndStudentsAndTAsLandInIt() async throws {
        try await withLMS { app, lms in
            // The login sends the browser on to the LMS with everything LTI's OIDC login asks for.
            let (_, _, location, setCookie) = try await login(app, lms)
            let items = Dictionary(uniqueKeysWithValues: (location.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            #expect(location.host == "lms.test" && location.path == "/auth")
            #expect(items["scope"] == "openid" && items["response_type"] == "id_token" && items["response_mode"] == "form_post" && items["prompt"] == "none")
            #expect(items["client_id"] == lms.clientID && items["redirect_uri"] == "http://campus.test/lti/launch" && items["login_hint"] == "hint-1"
                    && items["lti_message_hint"] == "msg-1")
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("Path=/;") && setCookie.contains("SameSite=Lax") && setCookie.contains("Max-Age=600"))
            #expect(try await login(app, lms, post: true).state.count > 20)  // the login by POST too

            let before = try await counts(app)
            let teacher = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test", name: "Tess Teacher")
            #expect(teacher.status == .seeOther, "\(teacher.body.string)")
            let context = try #require(try await LTIContext.query(on: app.db).with(\.$course).first())
            let course = context.course
            #expect(teacher.headers.first(name: .location) == "/courses/\(try course.requireID())")
            #expect(course.code == "BIO101" && course.title == "Biology in the cloud" && context.contextID == "ctx-1")
            let tess = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
            #expect(tess.displayName == "Tess Teacher" && tess.passwordHash == nil)
            #expect(try await CourseMember.query(on: app.db).filter(\.$user.$id == tess.requireID()).first()?.role == .instructor)
            // Signed in: the course page answers with the session the launch began.
            let page = try await app.testing().sendRequest(.GET, "/courses/\(try course.requireID())", headers: ["cookie": try #require(session(teacher))])
            #expect(page.status == .ok && page.body.string.contains("Biology in the cloud"))

            let student = try await launch(app, lms, subject: "lms-student-1", roles: Self.learner, email: "sam@uni.test", name: "Sam Student")
            let courseID = try course.requireID()
            #expect(student.status == .seeOther && student.headers.first(name: .location) == "/courses/\(courseID)")
            let sam = try #require(try await User.query(on: app.db).filter(\.$email == "sam@uni.test").first())
            #expect(try await CourseMember.query(on: app.db).filter(\.$user.$id == sam.requireID()).first()?.role == .student)
            let ta = try await launch(app, lms, subject: "lms-ta", roles: Self.assistant, email: "tara@uni.test")
            #expect(ta.status == .seeOther)
            let tara = try #require(try await User.query(on: app.db).filter(\.$email == "tara@uni.test").first())
            #expect(try await CourseMember.query(on: app.db).filter(\.$user.$id == tara.requireID()).first()?.role == .ta)
            // Without an email (the LMS's privacy settings), an account of its own.
            #expect(try await launch(app, lms, subject: "lms-anon", roles: Self.learner).status == .seeOther)
            #expect(try await counts(app) == Counts(users: before.users + 4, identities: before.identities + 4, members: before.members + 4,
                                                    courses: before.courses + 1, contexts: before.contexts + 1))
            // The same people again: found by the LMS's issuer and subject, nothing new.
            let again = try await counts(app)
            #expect(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner, email: "changed@uni.test").status == .seeOther)
            #expect(try await counts(app) == again)
            // The LMS raises a role (the student made a TA there is a TA here), never lowers one (a teacher viewing
            // the course as a student stays its instructor).
            #expect(try await launch(app, lms, subject: "lms-student-1", roles: Self.assistant).status == .seeOther)
            #expect(try await CourseMember.query(on: app.db).filter(\.$user.$id == sam.requireID()).first()?.role == .ta)
            #expect(try await launch(app, lms, subject: "lms-teacher", roles: Self.learner).status == .seeOther)
            #expect(try await CourseMember.query(on: app.db).filter(\.$user.$id == tess.requireID()).first()?.role == .instructor)
        }
    }

    @Test func everyBadLaunchIsRefusedWithAPageAndWritesNothing() async throws {
        try await withLMS { app, lms in
            #expect(try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test").status == .seeOther)
            let before = try await counts(app)
            let claim = "https://purl.imsglobal.org/spec/lti/claim/"
            let now = Date().timeIntervalSince1970
            let cases: [(String, (inout TokenClaims) -> Void, String?, Bool, String)] = [
                ("an unknown kid", { _ in }, "lms-9", false, "does not publish"),
                ("no kid", { _ in }, nil, false, "does not name its signing key"),
                ("a wrong signature", { _ in }, "lms-1", true, "signature does not verify"),
                ("an expired token", { $0.expires = now - 120 }, "lms-1", false, "expired"),
                ("iat in the future", { $0.issuedAt = now + 300 }, "lms-1", false, "issued in the future"),
                ("another audience", { $0.audience = ["another-tool"] }, "lms-1", false, "not meant for this platform"),
                ("another nonce", { $0.nonce = "reused" }, "lms-1", false, "nonce differs"),
                ("no deployment_id", { $0.lti.deploymentID = nil }, "lms-1", false, "deployment_id"),
                ("an unknown deployment", { $0.lti.deploymentID = "9:other" }, "lms-1", false, "not registered here"),
                ("no message_type", { $0.lti.messageType = nil }, "lms-1", false, "message_type"),
                ("no roles", { $0.lti.roles = nil }, "lms-1", false, claim + "roles"),
                ("no sub", { $0.subject = nil }, "lms-1", false, "lacks “sub”"),
                ("no resource link", { $0.lti.resourceLink = nil }, "lms-1", false, "resource_link"),
                ("version 1.1", { $0.lti.version = "1.1" }, "lms-1", false, "LTI 1.1 message"),
            ]
            for (what, change, kid, stray, reason) in cases {
                let answer = try await launch(app, lms, subject: "lms-student-9", roles: Self.learner, email: "eve@uni.test", change: change, kid: kid, stray: stray)
                #expect(answer.status == .badRequest && answer.body.string.contains(reason), "\(what): \(answer.status) \(answer.body.string.prefix(300))")
                #expect(session(answer) == nil, "\(what) began a session")
            }
            // The same login's launch posted twice; without the state's cookie; with another login's state.
            let (state, nonce, _, _) = try await login(app, lms)
            let token = try await lms.sign(lms.claims(nonce: nonce, subject: "lms-student-9", roles: Self.learner, email: "eve@uni.test"))
            let noCookie = try await post(app, token: token, state: state, cookie: nil)
            #expect(noCookie.status == .badRequest && noCookie.body.string.contains("without the state this browser was given"))
            let otherState = try await login(app, lms).state
            let crossed = try await post(app, token: token, state: state, cookie: otherState)
            #expect(crossed.status == .badRequest && crossed.body.string.contains("without the state this browser was given"))
            #expect(try await post(app, token: token, state: state, cookie: state).status == .seeOther)  // the one real use
            let replayed = try await post(app, token: token, state: state, cookie: state)
            #expect(replayed.status == .badRequest && replayed.body.string.contains("expired or was used already"))
            let afterEve = try await counts(app)
            #expect(afterEve == Counts(users: before.users + 1, identities: before.identities + 1, members: before.members + 1,
                                       courses: before.courses, contexts: before.contexts))
            // A launch posted after its login's ten minutes.
            let (lateState, lateNonce, _, _) = try await login(app, lms)
            let lateToken = try await lms.sign(lms.claims(nonce: lateNonce, subject: "lms-student-9", roles: Self.learner))
            app.clock = PlatformClock { Date().addingTimeInterval(601) }
            let late = try await post(app, token: lateToken, state: lateState, cookie: lateState)
            app.clock = .system
            #expect(late.status == .badRequest && late.body.string.contains("expired or was used already"))
            // A student's launch from an LMS course not set up here yet.
            let early = try await launch(app, lms, subject: "lms-student-10", roles: Self.learner, context: "ctx-2", email: "early@uni.test")
            #expect(early.status == .forbidden && early.body.string.contains("not set up in CampusCloud yet"))
            // An LMS not registered; a login without its parameters.
            let stranger = try await app.testing().sendRequest(.GET, "/lti/login?iss=https%3A%2F%2Fevil.test&login_hint=x&target_link_uri=x")
            #expect(stranger.status == .badRequest && stranger.body.string.contains("not registered here"))
            #expect(try await app.testing().sendRequest(.GET, "/lti/login").status == .badRequest)
            #expect(try await counts(app) == afterEve)
        }
    }

    @Test func emailsAreTrustedOnlyInTheRegistrationsDomainsAndAdministratorsNeverLaunch() async throws {
        try await withLMS { app, lms in
            #expect(try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test").status == .seeOther)
            // An address outside the domains the LMS is trusted with: not student1's account, one of its own.
            let before = try await counts(app)
            #expect(try await launch(app, lms, subject: "lms-s1", roles: Self.learner, email: "student1@demo.test").status == .seeOther)
            let identity = try #require(try await ExternalIdentity.query(on: app.db).filter(\.$subject == "lms-s1").with(\.$user).first())
            #expect(identity.user.email.hasPrefix("lti-") && identity.user.email.hasSuffix("@lti.invalid"))
            #expect(try await counts(app).users == before.users + 1)
            // Trusted with demo.test and linking: student1's own account, once.
            let registration = try #require(try await LTIRegistration.query(on: app.db).first())
            (registration.emailDomains, registration.linkByEmail) = ("uni.test,demo.test", true)
            try await registration.save(on: app.db)
            #expect(try await launch(app, lms, subject: "lms-s2", roles: Self.learner, email: "student2@demo.test").status == .seeOther)
            let student2 = try #require(try await User.query(on: app.db).filter(\.$email == "student2@demo.test").first())
            #expect(try await ExternalIdentity.query(on: app.db).filter(\.$user.$id == student2.requireID()).first()?.subject == "lms-s2")
            // The address handed to someone else in the LMS: the account stays its first owner's.
            let newcomer = try await launch(app, lms, subject: "lms-s2-new", roles: Self.learner, email: "student2@demo.test")
            #expect(newcomer.status == .forbidden)
            // An administrator's account is never linked, and never signs in through the LMS even when linked.
            #expect(try await launch(app, lms, subject: "lms-root", roles: Self.instructor, email: "admin@demo.test").status == .forbidden)
            let admin = try #require(try await User.query(on: app.db).filter(\.$email == "admin@demo.test").first())
            try await ExternalIdentity(userID: admin.requireID(), issuer: lms.issuer, subject: "lms-root", at: Date()).create(on: app.db)
            let refused = try await launch(app, lms, subject: "lms-root", roles: Self.instructor)
            #expect(refused.status == .forbidden && session(refused) == nil)
        }
    }

    @Test func onlyTheLaunchRoutesAreExemptFromTheFormsCSRFField() async throws {
        try await withLMS { app, _ in
            // No _csrf and no session: the launch is read (and refused for its own reasons), not stopped by CSRF.
            let launch = try await app.testing().sendRequest(.POST, "/lti/launch", headers: ["content-type": "application/x-www-form-urlencoded"],
                                                             body: ByteBuffer(string: "id_token=x&state=y"))
            #expect(launch.status == .badRequest && launch.body.string.contains("does not answer a login"))
            // Every other form still needs it: each page route that changes something answers 403 without the field
            // (the relay to a lab's own program, `**`, checks the request's Origin instead and sends strangers to sign in).
            var exempt: [String] = []
            for route in app.routes.all where ![.GET, .HEAD].contains(route.method) {
                let parts = route.path.map(\.description)
                guard parts.first != "api", parts.first != "v1" else { continue }
                let path = "/" + parts.map { $0.hasPrefix(":") ? UUID().uuidString : ($0 == "**" ? "x" : $0) }.joined(separator: "/")
                let answer = try await app.testing().sendRequest(route.method, path, headers: ["content-type": "application/x-www-form-urlencoded"],
                                                                 body: ByteBuffer(string: "email=admin%40demo.test&password=campuscloud-demo"))
                if answer.status != .forbidden { exempt.append("\(route.method) \(parts.joined(separator: "/")) → \(answer.status.code)") }
            }
            #expect(exempt.filter { !$0.contains("**") }.sorted() == ["POST lti/launch → 400", "POST lti/login → 400"], "\(exempt)")
        }
    }

    @Test func anAdministratorSwitchesAnLMSOffAndRetiresItsDeployments() async throws {
        try await withLMS { app, lms in
            #expect(try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test").status == .seeOther)
            let registration = try #require(try await LTIRegistration.query(on: app.db).first()).requireID()
            func change(_ fields: [String: Any], as email: String = "admin@demo.test") async throws -> TestingHTTPResponse {
                try await register(app, fields, path: "api/v1/lti/registrations/\(registration)", as: email, method: .PATCH)
            }
            #expect(try await change(["enabled": false], as: "instructor@demo.test").status == .notFound)
            // A login under way when it is switched off: its launch is refused, and nothing is written.
            let (state, nonce, _, _) = try await login(app, lms)
            let off = try await change(["enabled": false])
            let switched = try off.content.decode(LTIRegistrationDTO.self)
            #expect(off.status == .ok && !switched.enabled)
            let before = try await counts(app)
            let token = try await lms.sign(lms.claims(nonce: nonce, subject: "lms-student-7", roles: Self.learner, email: "sam@uni.test"))
            let refused = try await post(app, token: token, state: state, cookie: state)
            #expect(refused.status == .forbidden && refused.body.string.contains("switched it off") && session(refused) == nil)
            let again = try await app.testing().sendRequest(.GET, "/lti/login?iss=\(lms.issuer.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&login_hint=x&target_link_uri=x")
            #expect(again.status == .forbidden)
            #expect(try await counts(app) == before)

            // On again (from the page), then its deployment retired: that deployment's launches are refused.
            let admin = try Browser(app)
            try await admin.signIn("admin@demo.test")
            #expect(try await admin.post("/admin/lti/registrations/\(registration)", ["enabled": "true"]).status == .seeOther)
            #expect(try await LTIRegistration.find(registration, on: app.db)?.enabled == true)
            #expect(try await launch(app, lms, subject: "lms-student-7", roles: Self.learner, email: "sam@uni.test").status == .seeOther)
            let unknown = try await change(["removeDeploymentIDs": "9:nothing"])
            #expect(unknown.status == .unprocessableEntity && unknown.body.string.contains("not a deployment of"))
            #expect(try await admin.post("/admin/lti/registrations/\(registration)", pairs: [("enabled", "true"), ("remove[]", lms.deployment)]).status == .seeOther)
            #expect(try await LTIDeployment.query(on: app.db).count() == 0)
            let retired = try await launch(app, lms, subject: "lms-student-7", roles: Self.learner, email: "sam@uni.test")
            #expect(retired.status == .badRequest && retired.body.string.contains("not registered here"))
            // The course the LMS course made stays, with its people.
            #expect(try await LTIContext.query(on: app.db).count() == 1)
        }
    }

    @Test func switchingAnLMSOffEndsTheSessionsItsLaunchesBeganAndTheWindowsNotYetOpened() async throws {
        try await withLMS { app, lms in
            let teacher = try #require(session(try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test")))
            let student = try #require(session(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner, email: "sam@uni.test")))
            let courseID = try #require(try await LTIContext.query(on: app.db).first()).$course.id
            let registrationID = try #require(try await LTIRegistration.query(on: app.db).first()).requireID()
            func status(_ cookie: String) async throws -> HTTPStatus {
                try await app.testing().sendRequest(.GET, "/courses/\(courseID)", headers: ["cookie": cookie]).status
            }
            #expect(try await status(teacher) == .ok)
            #expect(try await status(student) == .ok)
            // A session shown in the LMS from before the LMS was kept with the session (made so here) is over: it
            // could not be ended with its LMS.
            let legacy = try #require(session(try await launch(app, lms, subject: "lms-student-9", roles: Self.learner, email: "old@uni.test")))
            let key = String(legacy.split(separator: "=", maxSplits: 1)[1])
            let record = try #require(try await SessionRecord.query(on: app.db).filter(\.$key == SessionID(string: key)).first())
            #expect(record.data[Credentials.launchedByKey] != nil && record.data[EmbeddedSession.framedByKey] != nil)
            record.data[Credentials.launchedByKey] = nil
            try await record.save(on: app.db)
            #expect(try await status(legacy) != .ok)
            // Someone signed in with a password (the same course) is not the LMS's.
            let instructor = try Browser(app)
            try await instructor.signIn("instructor@demo.test")
            // A launch continued in a new window whose window is not open yet (a ticket, as a frame without cookies gets).
            let tess = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
            let course = try #require(try await Course.find(courseID, on: app.db))
            let landed = LTILaunches.Landed(user: tess, course: course, registration: registrationID, destination: "/courses/\(courseID)")
            let ticket = try await LTIWindowTickets.issue(for: landed, on: app.db, now: app.clock.now())
            // Keys made while signed in through the LMS: a personal API key on the profile page, and with that key an
            // AI key through the API; and one the instructor made with a password, which is not the LMS's.
            let profile = try Browser(app)
            profile.cookie = teacher
            try await profile.get("/profile")
            let made = try await profile.post("/profile/keys", ["name": "laptop"])
            let apiToken = try #require(made.body.string.firstMatch(of: /<code class="token">([^<]+)<\/code>/).map { String($0.output.1) })
            var bearer: HTTPHeaders = ["Authorization": "Bearer \(apiToken)"]
            bearer.contentType = .json
            let aiKey = try await app.testing().sendRequest(.POST, "api/v1/courses/\(courseID)/ai/keys", headers: bearer, body: ByteBuffer(string: #"{"name": "agent"}"#))
            #expect(aiKey.status == .created, "\(aiKey.body.string)")
            let ownKey = try await app.bearer("instructor@demo.test")
            #expect(try await APIKey.query(on: app.db).filter(\.$ltiRegistrationID == registrationID).filter(\.$madeWith == "lms").count() == 1)
            #expect(try await AIKey.query(on: app.db).filter(\.$ltiRegistrationID == registrationID).count() == 1)

            // The LMS's key leaked: an administrator switches it off.
            let off = try await register(app, ["enabled": false], path: "api/v1/lti/registrations/\(registrationID)", method: .PATCH)
            #expect(off.status == .ok)
            #expect(try await status(teacher) != .ok, "a launched session ends at its next request")
            var headers: HTTPHeaders = ["content-type": "application/x-www-form-urlencoded", "Origin": "http://campus.test", "Sec-Fetch-Site": "same-origin"]
            let window = try await app.testing().sendRequest(.POST, "/lti/window", headers: headers, body: ByteBuffer(string: "ticket=\(ticket)"))
            #expect(window.status == .badRequest && session(window) == nil, "its windows not yet opened never open")
            #expect(try await LTIWindowTicket.query(on: app.db).count() == 0)
            #expect(try await instructor.get("/dashboard").status == .ok, "a password session goes on")
            // The keys made through its launches are revoked; a password's are not.
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: bearer).status == .unauthorized)
            #expect(try await AIKey.query(on: app.db).filter(\.$ltiRegistrationID == registrationID).filter(\.$revokedAt == nil).count() == 0)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: ownKey).status == .ok)

            // Switched on again (its key replaced): the sessions begun before stay ended; new launches sign in.
            #expect(try await register(app, ["enabled": true], path: "api/v1/lti/registrations/\(registrationID)", method: .PATCH).status == .ok)
            #expect(try await status(student) != .ok)
            let fresh = try #require(session(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner)))
            #expect(try await status(fresh) == .ok)
            let again = try await LTIWindowTickets.issue(for: landed, on: app.db, now: app.clock.now())
            headers.replaceOrAdd(name: "content-type", value: "application/x-www-form-urlencoded")
            let opened = try await app.testing().sendRequest(.POST, "/lti/window", headers: headers, body: ByteBuffer(string: "ticket=\(again)"))
            #expect(opened.status == .seeOther)
            let windowSession = try #require(session(opened))
            #expect(try await status(windowSession) == .ok)
        }
    }

    @Test func adminsRegisterLMSsAndTheirDeployments() async throws {
        try await withLMS { app, lms in
            let programme = try #require(try await Programme.query(on: app.db).first()).requireID()
            let fields: [String: Any] = ["name": "Moodle", "issuer": "https://moodle.test", "clientID": "m-1", "authLoginURL": "https://moodle.test/auth",
                                         "tokenURL": "https://moodle.test/token", "keySetURL": "https://moodle.test/keys", "programmeID": programme.uuidString]
            #expect(try await register(app, fields, as: "instructor@demo.test").status == .notFound)
            var plain = fields
            plain["keySetURL"] = "http://moodle.test/keys"
            #expect(try await register(app, plain).status == .unprocessableEntity)
            var nowhere = fields
            nowhere["programmeID"] = UUID().uuidString
            #expect(try await register(app, nowhere).status == .conflict)
            var sameClient = fields
            (sameClient["issuer"], sameClient["clientID"]) = (lms.issuer, lms.clientID)
            #expect(try await register(app, sameClient).status == .conflict)
            // One issuer, one signer: the same issuer with another key set, or a single sign-on provider's issuer.
            var otherKeys = fields
            (otherKeys["issuer"], otherKeys["clientID"], otherKeys["keySetURL"]) = (lms.issuer, "another-client", "https://evil.test/jwks")
            #expect(try await register(app, otherKeys).status == .conflict)
            let provider = IdentityProvider()
            (provider.name, provider.issuer, provider.clientID, provider.secretEnv, provider.scopes) = ("Uni SSO", "https://sso.uni.test", "cc", "CAMPUSCLOUD_SSO_UNI", "openid")
            (provider.authorizationEndpoint, provider.tokenEndpoint, provider.jwksURI) = ("https://sso.uni.test/a", "https://sso.uni.test/t", "https://sso.uni.test/k")
            (provider.algorithms, provider.emailDomains, provider.passwordSignInOff, provider.linkByEmail) = ("RS256", "", false, false)
            (provider.createAccounts, provider.enabled, provider.discoveredAt) = (false, true, Date())
            try await provider.create(on: app.db)
            var ssoIssuer = fields
            (ssoIssuer["name"], ssoIssuer["issuer"], ssoIssuer["keySetURL"]) = ("Clash", "https://sso.uni.test", "https://sso.uni.test/k")
            #expect(try await register(app, ssoIssuer).status == .conflict)
            var linkEverywhere = fields
            linkEverywhere["linkByEmail"] = true
            #expect(try await register(app, linkEverywhere).status == .unprocessableEntity)
            var inward = fields
            inward["keySetURL"] = "https://169.254.169.254/keys"
            #expect(try await register(app, inward).status == .unprocessableEntity)
            let added = try await register(app, fields)
            #expect(added.status == .created)
            // Canvas Cloud: one issuer, many client ids — a second registration of the same issuer is another client.
            var secondClient = fields
            (secondClient["name"], secondClient["clientID"]) = ("Moodle 2", "m-2")
            #expect(try await register(app, secondClient).status == .created)
            let both = try await app.testing().sendRequest(.GET, "/lti/login?iss=https%3A%2F%2Fmoodle.test&login_hint=x&target_link_uri=x")
            #expect(both.status == .badRequest && both.body.string.contains("several registrations"))

            // A launch from a deployment added later is accepted once it is registered.
            let canvas = try #require(try await LTIRegistration.query(on: app.db).filter(\.$name == "Canvas").first()).requireID()
            let fresh = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, change: { $0.lti.deploymentID = "2:copy" })
            #expect(fresh.status == .badRequest)
            let deployment = try await register(app, ["deploymentID": "2:copy"], path: "api/v1/lti/registrations/\(canvas)/deployments")
            #expect(deployment.status == .created && deployment.body.string.contains("2:copy"))
            #expect(try await register(app, ["deploymentID": "2:copy"], path: "api/v1/lti/registrations/\(canvas)/deployments").status == .conflict)
            #expect(try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, change: { $0.lti.deploymentID = "2:copy" }).status == .seeOther)
            // The admin page shows the URLs to enter in the LMS.
            let admin = try Browser(app)
            try await admin.signIn("admin@demo.test")
            let page = try await admin.get("/admin/lti")
            #expect(page.status == .ok && page.body.string.contains("http://campus.test/lti/login") && page.body.string.contains("2:copy"))
            let list = try await app.testing().sendRequest(.GET, "api/v1/lti/registrations", headers: try await app.bearer("admin@demo.test"))
            #expect(try list.content.decode([LTIRegistrationDTO].self).count == 3)
        }
    }
}
