// Single sign-on by OpenID Connect (issue 21), against a provider stand-in run by the test (Tests/Integration/
// oidc_standin.py: discovery, PKCE-checked code flow, a key set, forgeries on request). The test is the browser: it
// presses the sign-in page's button, follows the platform's redirect to the stand-in and the stand-in's back. First
// sign-ins create or link accounts as the provider's rules say; every forged, replayed or misdirected sign-in is
// refused with a page and writes nothing; password sign-in is off for the provider's domains; signing out reaches the
// provider's end-session endpoint.
import AsyncHTTPClient
import Fluent
import Foundation
import Glibc
import NIOCore
import Testing
import Vapor
import VaporTesting
@testable import App

/// The stand-in provider in a process of its own.
final class OIDCStandIn: @unchecked Sendable {
    static let clientID = "campuscloud-test", secret = "s3cret with spaces&symbols"
    let process = Process()
    let port: Int
    var issuer: String { "http://127.0.0.1:\(port)" }
    private let http: HTTPClient

    init(http: HTTPClient) throws {
        self.http = http
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Integration/oidc_standin.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, Self.clientID, Self.secret]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw Abort(.internalServerError, reason: "the OIDC stand-in did not start") }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8), text.hasPrefix("PORT "),
              let port = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Abort(.internalServerError, reason: "the OIDC stand-in said something else than its port")
        }
        self.port = port
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Sets what the next sign-ins get (see the stand-in's /control).
    func control(_ settings: [String: Any]) async throws {
        var request = HTTPClientRequest(url: issuer + "/control")
        request.method = .POST
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: settings)))
        let response = try await http.execute(request, timeout: .seconds(10))
        #expect(response.status == .ok)
    }

    func log() async throws -> [String: Any] {
        let response = try await http.execute(HTTPClientRequest(url: issuer + "/control/log"), timeout: .seconds(10))
        return try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))) as? [String: Any] ?? [:]
    }

    /// What the browser does at the provider: GET the authorization URL; returns where the provider sends it back.
    func authorize(_ address: String) async throws -> String {
        let response = try await http.execute(HTTPClientRequest(url: address), timeout: .seconds(10))
        #expect(response.status == .found, "the stand-in answered \(response.status)")
        return try #require(response.headers.first(name: .location))
    }
}

@Suite(.serialized) struct SingleSignOnTests {
    static let secretEnv = "CAMPUSCLOUD_SSO_STANDIN"

    /// POST api/v1/identity-providers with these JSON fields, as `email`.
    func post(_ app: Application, _ fields: [String: Any], as email: String = "admin@demo.test") async throws -> TestingHTTPResponse {
        try await app.testing().sendRequest(.POST, "api/v1/identity-providers", headers: try await app.bearer(email)) { req in
            req.headers.contentType = .json
            req.body = ByteBuffer(data: try JSONSerialization.data(withJSONObject: fields))
        }
    }

    /// A platform (public address http://campus.test) with the demo data, the stand-in, and its secret in the
    /// environment.
    func withProvider(_ body: (Application, OIDCStandIn) async throws -> Void) async throws {
        setenv(Self.secretEnv, OIDCStandIn.secret, 1)
        try await withTestApp(adjust: { $0.publicURL = URL(string: "http://campus.test") }) { app in
            try await app.loadDemoData()
            let standIn = try OIDCStandIn(http: app.http.client.shared)
            do {
                try await body(app, standIn)
            } catch {
                standIn.stop()
                throw error
            }
            standIn.stop()
        }
    }

    /// Adds the stand-in as a provider through the API (as an admin would), with the given rules.
    @discardableResult
    func addProvider(_ app: Application, _ standIn: OIDCStandIn, name: String = "Uni Login", domains: String = "uni.test",
                     create: Bool = true, link: Bool = false, passwordsOff: Bool = false, clientID: String = OIDCStandIn.clientID,
                     secretEnv: String = secretEnv) async throws -> IdentityProviderDTO {
        let response = try await post(app, ["name": name, "issuer": standIn.issuer, "clientID": clientID, "secretEnv": secretEnv,
                                            "emailDomains": domains, "createAccounts": create, "linkByEmail": link, "passwordSignInOff": passwordsOff])
        #expect(response.status == .created, "\(response.body.string)")
        return try response.content.decode(IdentityProviderDTO.self)
    }

    /// The whole round trip in `browser`: the sign-in page's button, the provider, back. Returns the callback's answer.
    func signIn(_ browser: Browser, _ provider: IdentityProviderDTO, _ standIn: OIDCStandIn, next: String = "/profile") async throws -> TestingHTTPResponse {
        let page = try await browser.get("/signin")
        #expect(page.body.string.contains("Sign in with \(provider.name)"))
        let start = try await browser.post("/signin/sso/\(provider.id)", ["next": next])
        #expect(start.status == .seeOther)
        let authorize = try #require(start.headers.first(name: .location))
        #expect(authorize.hasPrefix(standIn.issuer + "/authorize?"))
        let back = try await standIn.authorize(authorize)
        #expect(back.hasPrefix("http://campus.test/signin/sso/\(provider.id)/callback?"))
        return try await browser.get(String(back.dropFirst("http://campus.test".count)))
    }

    struct Counts: Equatable {
        var users: Int
        var identities: Int
    }

    func counts(_ app: Application) async throws -> Counts {
        Counts(users: try await User.query(on: app.db).count(), identities: try await ExternalIdentity.query(on: app.db).count())
    }

    @Test func aFirstSignInCreatesTheAccountLaterOnesFindItAndSigningOutReachesTheProvider() async throws {
        try await withProvider { app, standIn in
            let provider = try await addProvider(app, standIn)
            #expect(provider.redirectURI == "http://campus.test/signin/sso/\(provider.id)/callback" && provider.secretPresent && provider.endSession)
            let before = try await counts(app)
            try await standIn.control(["claims": ["sub": "uni-0001", "email": "Grace.Hopper@uni.test", "name": "Grace Hopper"]])
            let browser = try Browser(app)
            let answer = try await signIn(browser, provider, standIn)
            #expect(answer.status == .seeOther && answer.headers.first(name: .location) == "/profile", "\(answer.body.string)")
            let profile = try await browser.get("/profile")
            #expect(profile.status == .ok && profile.body.string.contains("Grace Hopper"))
            let user = try #require(try await User.query(on: app.db).filter(\.$email == "grace.hopper@uni.test").first())
            #expect(user.passwordHash == nil && !user.isAdmin)
            let identity = try #require(try await ExternalIdentity.query(on: app.db).filter(\.$subject == "uni-0001").first())
            #expect(identity.issuer == standIn.issuer && identity.$user.id == user.id)
            #expect(try await counts(app) == Counts(users: before.users + 1, identities: before.identities + 1))
            #expect(try await standIn.log()["pkce"] as? [Bool] == [true])

            // Again, in another browser, with a changed email at the provider: the same account (by issuer and subject).
            try await standIn.control(["claims": ["sub": "uni-0001", "email": "g.hopper@uni.test", "name": "Grace Hopper"]])
            let again = try Browser(app)
            #expect(try await signIn(again, provider, standIn).status == .seeOther)
            #expect(try await counts(app) == Counts(users: before.users + 1, identities: before.identities + 1))
            #expect(try await again.get("/profile").body.string.contains("Grace Hopper"))

            // A new session id at sign-in (no fixation), and `next` only ever a path here.
            let fixed = try Browser(app)
            try await fixed.get("/signin")
            let cookieBefore = fixed.cookie
            let tabbed = try await signIn(fixed, provider, standIn, next: "/\t/evil.example")
            #expect(tabbed.headers.first(name: .location) == "/dashboard" && fixed.cookie != cookieBefore)
            #expect(try await signIn(try Browser(app), provider, standIn, next: "https://evil.example/").headers.first(name: .location) == "/dashboard")

            // Signing out ends the platform's session and sends the browser to the provider's end-session endpoint.
            let out = try await again.post("/signout", [:])
            let location = try #require(out.headers.first(name: .location))
            #expect(location.hasPrefix(standIn.issuer + "/end_session?") && location.contains("id_token_hint=") && location.contains("post_logout_redirect_uri="))
            #expect(try await again.get("/profile").status == .seeOther)  // signed out here
            // Switched off: its button is gone and a sign-in cannot start.
            let off = try await app.testing().sendRequest(.PATCH, "api/v1/identity-providers/\(provider.id)", headers: try await app.bearer("admin@demo.test")) { req in
                try req.content.encode(["enabled": false], as: .json)
            }
            let switchedOff = try off.content.decode(IdentityProviderDTO.self)
            #expect(off.status == .ok && !switchedOff.enabled)
            let offBrowser = try Browser(app)
            #expect(!(try await offBrowser.get("/signin")).body.string.contains("Sign in with \(provider.name)"))
            #expect(try await offBrowser.post("/signin/sso/\(provider.id)", [:]).status == .notFound)
            // A password sign-in's sign-out goes home as before.
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            #expect(try await student.post("/signout", [:]).headers.first(name: .location) == "/")
        }
    }

    @Test func aClaimRuleLetsStaffCreateCoursesAndTakesTheRoleBackWhenTheClaimGoes() async throws {
        try await withProvider { app, standIn in
            let provider = try await addProvider(app, standIn)
            let programme = try #require(try await Programme.query(on: app.db).first())
            let programmeID = try programme.requireID()
            func change(_ fields: [String: String], as email: String = "admin@demo.test") async throws -> TestingHTTPResponse {
                try await app.testing().sendRequest(.PATCH, "api/v1/identity-providers/\(provider.id)", headers: try await app.bearer(email)) { req in
                    try req.content.encode(fields, as: .json)
                }
            }
            // A rule is all three fields or none; a programme that does not exist is refused; not by a non-admin.
            let partial = try await change(["roleClaim": "eduperson_affiliation"])
            #expect(partial.status == .unprocessableEntity && partial.body.string.contains("roleValues"))
            #expect(try await change(["roleClaim": "eduperson_affiliation", "roleValues": "staff", "courseCreatorsProgrammeID": UUID().uuidString]).status == .conflict)
            #expect(try await change(["roleClaim": "x", "roleValues": "staff", "courseCreatorsProgrammeID": programmeID.uuidString], as: "instructor@demo.test").status == .notFound)
            let set = try await change(["roleClaim": "eduperson_affiliation", "roleValues": "Staff, faculty", "courseCreatorsProgrammeID": programmeID.uuidString])
            let rule = try set.content.decode(IdentityProviderDTO.self)
            #expect(set.status == .ok && rule.roleClaim == "eduperson_affiliation" && rule.roleValues == ["staff", "faculty"] && rule.courseCreatorsProgrammeID == programmeID)

            // Staff (the claim as a list, any case) may create courses there, and teach the ones they create.
            try await standIn.control(["claims": ["sub": "uni-staff-1", "email": "ada@uni.test", "name": "Ada Staff", "eduperson_affiliation": ["member", "STAFF"]]])
            let staff = try Browser(app)
            #expect(try await signIn(staff, provider, standIn).status == .seeOther)
            let ada = try #require(try await User.query(on: app.db).filter(\.$email == "ada@uni.test").first())
            let role = try await ProgrammeMember.query(on: app.db).filter(\.$user.$id == ada.requireID()).first()
            #expect(role?.role == .courseCreator && role?.grantedByProvider == provider.id)
            let programmePage = try await staff.get("/programmes/\(programmeID)")
            #expect(programmePage.status == .ok && programmePage.body.string.contains("New course") && !programmePage.body.string.contains("Manage the programme"))
            let created = try await staff.post("/programmes/\(programmeID)/courses", ["code": "CS299", "title": "Staff-made course", "term": "Spring 2027",
                                                                                    "startsOn": "2027-01-10", "endsOn": "2027-05-30"])
            #expect(created.status == .seeOther, "\(created.body.string.prefix(300))")
            let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS299").first())
            #expect(try await CourseMember.query(on: app.db).filter(\.$course.$id == course.requireID()).filter(\.$user.$id == ada.requireID()).first()?.role == .instructor)
            // A creator sees no credits of the programme, nor its report, nor its people, and cannot manage it.
            for path in ["credits", "report", "report.csv"] {
                #expect(try await staff.get("/programmes/\(programmeID)/\(path)").status == .notFound, "\(path)")
            }
            #expect(!programmePage.body.string.contains("People of the programme") && !programmePage.body.string.contains("/report"))
            #expect(try await ProgrammeController.visibleMembers(programme, ada, .courseCreator, on: app.db).isEmpty)
            // A partner contact does not see the staff the rule made course creators; a manager does.
            let partnerList = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/members", headers: try await app.bearer("mentor@partner.test"))
            #expect(partnerList.status == .ok && !partnerList.body.string.contains("ada@uni.test") && partnerList.body.string.contains("partner_contact"))
            let managerList = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/members", headers: try await app.bearer("admin@demo.test"))
            #expect(managerList.status == .ok && managerList.body.string.contains("ada@uni.test"))

            // A student (another affiliation) gets nothing.
            try await standIn.control(["claims": ["sub": "uni-student-1", "email": "sam@uni.test", "name": "Sam", "eduperson_affiliation": "student"]])
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            let sam = try #require(try await User.query(on: app.db).filter(\.$email == "sam@uni.test").first())
            #expect(try await ProgrammeMember.query(on: app.db).filter(\.$user.$id == sam.requireID()).count() == 0)

            // The claim gone at the next sign-in: the role it gave is taken back (the course stays hers to teach).
            try await standIn.control(["claims": ["sub": "uni-staff-1", "email": "ada@uni.test", "name": "Ada Staff", "eduperson_affiliation": ["alum"]]])
            let later = try Browser(app)
            #expect(try await signIn(later, provider, standIn).status == .seeOther)
            #expect(try await ProgrammeMember.query(on: app.db).filter(\.$user.$id == ada.requireID()).count() == 0)
            #expect(try await later.post("/programmes/\(programmeID)/courses", ["code": "CS300", "title": "x", "term": "t", "startsOn": "2027-01-10",
                                                                               "endsOn": "2027-05-30"]).status == .notFound)

            // A role given by hand is the rule's to leave alone: a manager signing in without the claim stays manager.
            let manager = try #require(try await ProgrammeMember.query(on: app.db).filter(\.$programme.$id == programmeID).filter(\.$role == .manager).with(\.$user).first())
            try await ExternalIdentity(userID: manager.user.requireID(), issuer: standIn.issuer, subject: "uni-manager", at: Date()).create(on: app.db)
            try await standIn.control(["claims": ["sub": "uni-manager", "email": manager.user.email, "name": "M", "eduperson_affiliation": ["staff"]]])
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            try await standIn.control(["claims": ["sub": "uni-manager", "email": manager.user.email, "name": "M"]])
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            #expect(try await ProgrammeMember.query(on: app.db).filter(\.$user.$id == manager.user.requireID()).first()?.role == .manager)

            // A rule-given role a manager sets by hand is theirs: the rule never takes it back.
            try await standIn.control(["claims": ["sub": "uni-staff-2", "email": "bo@uni.test", "name": "Bo Staff", "eduperson_affiliation": ["staff"]]])
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            let promoted = try await app.testing().sendRequest(.PUT, "api/v1/programmes/\(programmeID)/members", headers: try await app.bearer("admin@demo.test")) { req in
                try req.content.encode(["email": "bo@uni.test", "role": "manager"], as: .json)
            }
            #expect(promoted.status == .ok, "\(promoted.body.string)")

            // The rule cleared: roles it gave are taken back at once.
            try await standIn.control(["claims": ["sub": "uni-staff-1", "email": "ada@uni.test", "name": "Ada Staff", "eduperson_affiliation": ["staff"]]])
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            #expect(try await ProgrammeMember.query(on: app.db).filter(\.$grantedByProvider == provider.id).count() == 1)
            let cleared = try await change(["roleClaim": "", "roleValues": "", "courseCreatorsProgrammeID": ""])
            let noRule = try cleared.content.decode(IdentityProviderDTO.self)
            #expect(cleared.status == .ok && noRule.roleClaim == nil)
            #expect(try await ProgrammeMember.query(on: app.db).filter(\.$grantedByProvider == provider.id).count() == 0)
            let bo = try #require(try await User.query(on: app.db).filter(\.$email == "bo@uni.test").first())
            #expect(try await ProgrammeMember.query(on: app.db).filter(\.$user.$id == bo.requireID()).first()?.role == .manager)
            // A rule naming a claim the sign-in reads itself is refused.
            #expect(try await change(["roleClaim": "email", "roleValues": "x", "courseCreatorsProgrammeID": programmeID.uuidString]).status == .unprocessableEntity)
        }
    }

    @Test func existingAccountsAreLinkedOnlyByAVerifiedEmailWhenTheProviderAllowsIt() async throws {
        try await withProvider { app, standIn in
            let strict = try await addProvider(app, standIn, name: "Strict", domains: "demo.test", create: false, link: false)
            try await standIn.control(["claims": ["sub": "demo-1", "email": "student1@demo.test"]])
            let before = try await counts(app)
            let refused = try await signIn(try Browser(app), strict, standIn)
            #expect(refused.status == .forbidden && refused.body.string.contains("not set to sign in to existing accounts"))
            // No account for the email and no creation: refused too.
            try await standIn.control(["claims": ["sub": "demo-2", "email": "nobody@demo.test"]])
            let nobody = try await signIn(try Browser(app), strict, standIn)
            #expect(nobody.status == .forbidden && nobody.body.string.contains("not set to create accounts"))
            #expect(try await counts(app) == before)

            // A provider that links, in another registration (another client id is not possible with one stand-in:
            // the same provider's rules are changed instead).
            let linking = try #require(try await IdentityProvider.find(strict.id, on: app.db))
            linking.linkByEmail = true
            try await linking.save(on: app.db)
            // An unverified email links nothing.
            try await standIn.control(["claims": ["sub": "demo-1", "email": "student1@demo.test", "email_verified": false]])
            let unverified = try await signIn(try Browser(app), strict, standIn)
            #expect(unverified.status == .forbidden && unverified.body.string.contains("did not vouch for an email address"))
            // An email outside the provider's domains neither.
            try await standIn.control(["claims": ["sub": "demo-9", "email": "someone@elsewhere.test"]])
            #expect(try await signIn(try Browser(app), strict, standIn).status == .forbidden)
            // An administrator's account is never linked by email.
            try await standIn.control(["claims": ["sub": "demo-0", "email": "admin@demo.test"]])
            let admin = try await signIn(try Browser(app), strict, standIn)
            #expect(admin.status == .forbidden && admin.body.string.contains("administrator"))
            #expect(try await counts(app) == before)
            // Verified, in its domain, linking on: the student's own account.
            try await standIn.control(["claims": ["sub": "demo-1", "email": "student1@demo.test", "email_verified": true]])
            let browser = try Browser(app)
            #expect(try await signIn(browser, strict, standIn).status == .seeOther)
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
            #expect(try await ExternalIdentity.query(on: app.db).filter(\.$user.$id == student.requireID()).count() == 1)
            #expect(try await counts(app) == Counts(users: before.users, identities: before.identities + 1))
            #expect(try await browser.get("/profile").body.string.contains(student.displayName))
            // The address given to someone else at the provider (a new subject): the account stays its first owner's.
            try await standIn.control(["claims": ["sub": "demo-7", "email": "student1@demo.test", "email_verified": true]])
            let newcomer = try await signIn(try Browser(app), strict, standIn)
            #expect(newcomer.status == .forbidden && newcomer.body.string.contains("belongs to another"))
            try await standIn.control(["claims": ["sub": "demo-1", "email": "student1@demo.test", "email_verified": true]])
            // A switched-off account is refused even through its link.
            student.isActive = false
            try await student.save(on: app.db)
            let off = try await signIn(try Browser(app), strict, standIn)
            #expect(off.status == .forbidden && off.body.string.contains("switched off"))
        }
    }

    @Test func forgedReplayedAndMisdirectedSignInsAreRefusedAndWriteNothing() async throws {
        try await withProvider { app, standIn in
            let provider = try await addProvider(app, standIn)
            try await standIn.control(["claims": ["sub": "uni-7", "email": "ada@uni.test"]])
            let before = try await counts(app)
            let forgeries: [(String, [String: Any], String)] = [
                ("another audience", ["aud": "another-tool"], "not meant for this platform"),
                ("an extra audience", ["aud": [OIDCStandIn.clientID, "another-tool"]], "not meant for this platform"),
                ("another issuer", ["iss": "https://evil.example"], "issued by “https://evil.example”"),
                ("another nonce", ["nonce": "replayed-nonce"], "nonce differs"),
                ("a key it does not publish", ["stray": true], "signature does not verify"),
                ("no kid", ["kid": NSNull()], "does not name its signing key"),
                ("an unknown kid", ["kid": "k99"], "does not publish"),
                ("an expired token", ["exp": -400], "expired"),
                ("a token from the future", ["iat": 600], "issued in the future"),
                ("another party", ["azp": "another-tool"], "issued to another party"),
            ]
            for (what, forge, reason) in forgeries {
                try await standIn.control(["forge": forge])
                let browser = try Browser(app)
                let answer = try await signIn(browser, provider, standIn)
                #expect(answer.status == .badRequest && answer.body.string.contains(reason), "\(what): \(answer.status) \(answer.body.string.prefix(400))")
                #expect(try await browser.get("/profile").status == .seeOther, "\(what) signed someone in")
            }
            // ES256 from the provider's published EC key is fine.
            try await standIn.control(["forge": ["alg": "ES256"]])
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            try await standIn.control(["forge": [String: Any]()])  // (Ada again from here: no new rows)
            let afterES = try await counts(app)
            #expect(afterES == Counts(users: before.users + 1, identities: before.identities + 1))

            // The provider refuses at its token endpoint, or sends an error back.
            try await standIn.control(["token_error": "invalid_grant"])
            let tokenError = try await signIn(try Browser(app), provider, standIn)
            #expect(tokenError.status == .badRequest && tokenError.body.string.contains("did not accept this sign-in"))
            try await standIn.control(["token_error": NSNull(), "deny": true])
            let denied = try await signIn(try Browser(app), provider, standIn)
            #expect(denied.status == .badRequest && denied.body.string.contains("access_denied"))
            try await standIn.control(["deny": false])

            // The way back replayed, taken to another browser, without its state, or after ten minutes.
            let browser = try Browser(app)
            try await browser.get("/signin")
            let start = try await browser.post("/signin/sso/\(provider.id)", [:])
            let back = String(try await standIn.authorize(try #require(start.headers.first(name: .location))).dropFirst("http://campus.test".count))
            let elsewhere = try await Browser(app).get(back)
            #expect(elsewhere.status == .badRequest && elsewhere.body.string.contains("another browser"))
            let noState = try await browser.get(back.replacingOccurrences(of: "state=", with: "x="))
            #expect(noState.status == .badRequest && noState.body.string.contains("without its state"))
            #expect(try await browser.get(back).status == .seeOther)  // the one real use
            let replayed = try await browser.get(back)
            #expect(replayed.status == .badRequest && replayed.body.string.contains("expired or was used already"))
            let late = try Browser(app)
            try await late.get("/signin")
            let lateStart = try await late.post("/signin/sso/\(provider.id)", [:])
            let lateBack = String(try await standIn.authorize(try #require(lateStart.headers.first(name: .location))).dropFirst("http://campus.test".count))
            app.clock = PlatformClock { Date().addingTimeInterval(601) }
            let expired = try await late.get(lateBack)
            #expect(expired.status == .badRequest && expired.body.string.contains("expired or was used already"))
            app.clock = .system
            // Another provider's callback with this one's state.
            let other = try await addProvider(app, standIn, name: "Other", domains: "other.test", clientID: "another-client",
                                              secretEnv: "CAMPUSCLOUD_SSO_OTHER")
            let crossed = try Browser(app)
            try await crossed.get("/signin")
            let crossedStart = try await crossed.post("/signin/sso/\(provider.id)", [:])
            let crossedBack = try await standIn.authorize(try #require(crossedStart.headers.first(name: .location)))
                .replacingOccurrences(of: "/signin/sso/\(provider.id)/", with: "/signin/sso/\(other.id)/")
            let mixedUp = try await crossed.get(String(crossedBack.dropFirst("http://campus.test".count)))
            #expect(mixedUp.status == .badRequest && mixedUp.body.string.contains("not one this platform started"))
            #expect(try await counts(app) == afterES)
            let pkce = try await standIn.log()["pkce"] as? [Bool] ?? []
            #expect(!pkce.isEmpty && pkce.allSatisfy { $0 })  // every code came with its verifier
        }
    }

    @Test func aRotatedKeyIsFetchedOnceAndForgedKidsDoNotFloodTheProvider() async throws {
        try await withProvider { app, standIn in
            let provider = try await addProvider(app, standIn)
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            #expect(try await standIn.log()["jwks_fetches"] as? Int == 1)
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            #expect(try await standIn.log()["jwks_fetches"] as? Int == 1)  // cached (max-age=300)
            // The provider rotates its key; a minute on, the first token under the new kid fetches the set once.
            try await standIn.control(["rotate": true])
            app.clock = PlatformClock { Date().addingTimeInterval(61) }
            #expect(try await signIn(try Browser(app), provider, standIn).status == .seeOther)
            #expect(try await standIn.log()["jwks_fetches"] as? Int == 2)
            // Forged kids right after: refused, and the set is not fetched again for each.
            for kid in ["f1", "f2", "f3"] {
                try await standIn.control(["forge": ["kid": kid]])
                #expect(try await signIn(try Browser(app), provider, standIn).status == .badRequest)
            }
            #expect(try await standIn.log()["jwks_fetches"] as? Int == 2)
            app.clock = .system
        }
    }

    @Test func passwordsAreRefusedForTheProvidersDomainsOnly() async throws {
        try await withProvider { app, standIn in
            let hash = try Bcrypt.hash("correct horse battery", cost: 4)
            try await User(email: "ada@uni.test", displayName: "Ada", passwordHash: hash).create(on: app.db)
            let browser = try Browser(app)
            #expect(try await browser.signIn("ada@uni.test", "correct horse battery").status == .seeOther)
            let issued = try await app.testing().sendRequest(.POST, "api/v1/auth/token") { req in
                try req.content.encode(["email": "ada@uni.test", "password": "correct horse battery"], as: .json)
            }
            let adaToken: HTTPHeaders = ["Authorization": "Bearer \(try issued.content.decode(AuthController.TokenDTO.self).token)"]
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: adaToken).status == .ok)
            #expect(try await browser.get("/profile").status == .ok)
            // A personal key made in that password session (what someone who guessed the password would make first).
            let made = try await browser.post("/profile/keys", ["name": "laptop"])
            let personal = try #require(made.body.string.firstMatch(of: /<code class="token">([^<]+)<\/code>/).map { String($0.output.1) })
            let personalKey: HTTPHeaders = ["Authorization": "Bearer \(personal)"]
            #expect(try await APIKey.query(on: app.db).filter(\.$kind == .personal).filter(\.$madeWith == "password").count() == 1)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: personalKey).status == .ok)
            // And one from before keys recorded how their maker signed in: it counts as a password's.
            let older = try await browser.post("/profile/keys", ["name": "old laptop"])
            let legacy = try #require(older.body.string.firstMatch(of: /<code class="token">([^<]+)<\/code>/).map { String($0.output.1) })
            try await APIKey.query(on: app.db).filter(\.$name == "old laptop").set(\.$madeWith, to: nil).update()
            let legacyKey: HTTPHeaders = ["Authorization": "Bearer \(legacy)"]
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: legacyKey).status == .ok)
            // Passwords off only with linking on (or the domain's existing accounts could not get in at all).
            let locking = try await post(app, ["name": "Locking", "issuer": standIn.issuer, "clientID": "locking", "secretEnv": Self.secretEnv,
                                               "emailDomains": "uni.test", "passwordSignInOff": true])
            #expect(locking.status == .unprocessableEntity && locking.body.string.contains("linkByEmail"))
            let provider = try await addProvider(app, standIn, domains: "uni.test", link: true, passwordsOff: true)
            // What her password gave her ends now, not when it would expire: the session and the 30-day token.
            #expect(try await browser.get("/profile").status != .ok)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: adaToken).status == .unauthorized)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: personalKey).status == .unauthorized, "and the keys it made")
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: legacyKey).status == .unauthorized)
            // Signed in through the provider instead (linked by her verified email), her session goes on.
            try await standIn.control(["claims": ["sub": "uni-ada", "email": "ada@uni.test", "email_verified": true, "name": "Ada"]])
            let viaProvider = try Browser(app)
            #expect(try await signIn(viaProvider, provider, standIn).status == .seeOther)
            #expect(try await viaProvider.get("/profile").status == .ok)
            // A key she makes now is the provider's, and lives on.
            let again = try await viaProvider.post("/profile/keys", ["name": "desktop"])
            let providerKey = try #require(again.body.string.firstMatch(of: /<code class="token">([^<]+)<\/code>/).map { String($0.output.1) })
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: ["Authorization": "Bearer \(providerKey)"]).status == .ok)
            #expect(try await APIKey.query(on: app.db).filter(\.$madeWith == "provider").count() == 1)
            let refused = try await Browser(app).signIn("ada@uni.test", "correct horse battery")
            #expect(refused.status == .forbidden && refused.body.string.contains("signs in with Uni Login"))
            let token = try await app.testing().sendRequest(.POST, "api/v1/auth/token") { req in
                try req.content.encode(["email": "ada@uni.test", "password": "correct horse battery"], as: .json)
            }
            #expect(token.status == .forbidden)
            // A reset link for such a person sets no password.
            let ada = try #require(try await User.query(on: app.db).filter(\.$email == "ada@uni.test").first())
            let link = try await PasswordLinks.issue(for: ada, purpose: .reset, on: app.db)
            let secret = String(link.split(separator: "=").last!)
            do {
                _ = try await PasswordLinks.use(secret, password: "another good one", confirmation: "another good one",
                                                hasher: app.password.async, on: app.writes)
                Issue.record("a reset link set a password in a domain whose passwords are off")
            } catch let error as Abort {
                #expect(error.status == .forbidden)
            }
            // Administrators keep their passwords (single sign-on never links their accounts by email).
            try await User(email: "root@uni.test", displayName: "Root", passwordHash: hash, isAdmin: true).create(on: app.db)
            let root = try Browser(app)
            #expect(try await root.signIn("root@uni.test", "correct horse battery").status == .seeOther)
            #expect(try await root.get("/profile").status == .ok)
            // Other domains sign in with passwords as before.
            #expect(try await Browser(app).signIn("student1@demo.test").status == .seeOther)
            // Turning password sign-in off names the domains it applies to.
            let missing = try await post(app, ["name": "No domains", "issuer": standIn.issuer + "/x", "clientID": "x",
                                               "secretEnv": Self.secretEnv, "passwordSignInOff": true])
            #expect(missing.status == .unprocessableEntity && missing.body.string.contains("emailDomains"))
        }
    }

    @Test func aProvidersEndpointsStayOutsideThisMachineAndItsNetwork() {
        let issuer = "https://login.uni.example"
        #expect(IdentityProviders.acceptable(endpoint: "https://login.uni.example/token", issuer: issuer))
        #expect(IdentityProviders.acceptable(endpoint: "https://oauth2.googleapis.com/token", issuer: issuer))
        for inward in ["https://127.0.0.1/token", "https://localhost:8443/t", "https://10.1.2.3/t", "https://169.254.169.254/latest", "https://192.168.1.1/t",
                       "https://172.20.0.5/t", "https://[::1]/t", "https://[fd00::1]/t", "http://login.uni.example/token", "ftp://login.uni.example/t"] {
            #expect(!IdentityProviders.acceptable(endpoint: inward, issuer: issuer), "\(inward)")
        }
        // A provider an admin runs on this machine's loopback (a development setup, the tests' stand-in).
        #expect(IdentityProviders.acceptable(endpoint: "http://127.0.0.1:5000/token", issuer: "http://127.0.0.1:5000"))
        #expect(!IdentityProviders.acceptable(endpoint: "http://10.0.0.1/token", issuer: "http://127.0.0.1:5000"))
    }

    @Test func adminsAddProvidersOnlyAfterTheirDiscoveryChecksOut() async throws {
        try await withProvider { app, standIn in
            func add(_ fields: [String: Any], as email: String = "admin@demo.test") async throws -> TestingHTTPResponse {
                try await post(app, fields, as: email)
            }
            let good: [String: Any] = ["name": "Uni", "issuer": standIn.issuer, "clientID": OIDCStandIn.clientID, "secretEnv": Self.secretEnv]
            #expect(try await add(good, as: "instructor@demo.test").status == .notFound)
            var secretItself = good
            secretItself["secretEnv"] = "s3cret"
            #expect(try await add(secretItself).status == .unprocessableEntity)
            var otherVariable = good
            otherVariable["secretEnv"] = "DATABASE_URL"
            #expect(try await add(otherVariable).status == .unprocessableEntity)
            var plainHTTP = good
            plainHTTP["issuer"] = "http://login.uni.example"
            let http = try await add(plainHTTP)
            #expect(http.status == .unprocessableEntity && http.body.string.contains("not an https URL"))
            var nowhere = good
            nowhere["issuer"] = standIn.issuer + "/nothing-here"
            let notFound = try await add(nowhere)
            #expect(notFound.status == .unprocessableEntity && notFound.body.string.contains("could not be read"))
            try await standIn.control(["discovery_issuer": "https://evil.example"])
            let mismatch = try await add(good)
            #expect(mismatch.status == .unprocessableEntity && mismatch.body.string.contains("names the issuer"))
            try await standIn.control(["reset": true])
            #expect(try await IdentityProvider.query(on: app.db).count() == 0)
            // Linking or creating accounts only for named domains.
            var everywhere = good
            everywhere["linkByEmail"] = true
            let noDomains = try await add(everywhere)
            #expect(noDomains.status == .unprocessableEntity && noDomains.body.string.contains("emailDomains"))
            // A discovery document pointing the token request (with the secret) at plain http elsewhere.
            try await standIn.control(["discovery": ["token_endpoint": "http://10.0.0.1/token"]])
            let inward = try await add(good)
            #expect(inward.status == .unprocessableEntity && inward.body.string.contains("token_endpoint"))
            try await standIn.control(["reset": true])
            #expect(try await add(good).status == .created)
            #expect(try await add(good).status == .conflict)
            // Another provider named with this one's secret variable would be sent its secret.
            var thief = good
            (thief["name"], thief["clientID"]) = ("Thief", "thief")
            let stolen = try await add(thief)
            #expect(stolen.status == .conflict && stolen.body.string.contains("another provider's secret"))
            // The admin page lists it with what the provider's admin must enter.
            let admin = try Browser(app)
            try await admin.signIn("admin@demo.test")
            let page = try await admin.get("/admin/sso")
            #expect(page.status == .ok && page.body.string.contains("/signin/sso/") && page.body.string.contains(Self.secretEnv))
            let list = try await app.testing().sendRequest(.GET, "api/v1/identity-providers", headers: try await app.bearer("admin@demo.test"))
            let providers = try list.content.decode([IdentityProviderDTO].self)
            #expect(providers.count == 1 && providers[0].issuer == standIn.issuer && providers[0].secretEnv == Self.secretEnv)
            #expect(!list.body.string.contains(OIDCStandIn.secret))
            // From the page's form too.
            let added = try await admin.post("/admin/sso/providers", ["name": "Second", "issuer": standIn.issuer, "clientID": "second-client",
                                                                     "secretEnv": "CAMPUSCLOUD_SSO_SECOND", "createAccounts": "true", "emailDomains": "uni.test"])
            #expect(added.status == .seeOther)
            #expect(try await IdentityProvider.query(on: app.db).filter(\.$clientID == "second-client").first()?.createAccounts == true)
        }
    }
}
