// LTI Deep Linking 2.0 and the tool's own keys (issue 21), with the LMS stand-in of LTILaunchFlowTests: the key set
// the tool publishes (and how it rotates), an instructor's choice of assignments answered with a response the LMS
// verifies against that key set, the links it makes landing on their assignment, and everything a student or another
// person cannot do with a choice.
import Fluent
import Foundation
import Identity
import JWTKit
import NIOConcurrencyHelpers
import Testing
import Vapor
import VaporTesting
@testable import App

extension LTILaunchFlowTests {
    static let returnURL = "https://lms.test/deep_link_return?course=7"

    /// A deep linking launch ("add external tool") as `subject` with `roles`.
    func deepLinkLaunch(_ app: Application, _ lms: LMSStandIn, subject: String, roles: [String], email: String? = nil,
                        settings: LTIClaims.DeepLinkingSettings = .init(returnURL: returnURL, acceptMultiple: true, data: "lms-opaque-7")) async throws -> TestingHTTPResponse {
        try await launch(app, lms, subject: subject, roles: roles, email: email) { claims in
            claims.lti.messageType = "LtiDeepLinkingRequest"
            (claims.lti.resourceLink, claims.lti.targetLinkURI, claims.lti.deepLinking) = (nil, nil, settings)
        }
    }

    /// The tool's published key set, as an LMS reads it.
    func toolKeySet(_ app: Application) async throws -> (keys: [[String: String]], cacheControl: String?) {
        let response = try await app.testing().sendRequest(.GET, "/.well-known/jwks.json")
        #expect(response.status == .ok)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: [[String: String]]])
        return (try #require(object["keys"]), response.headers.first(name: .cacheControl))
    }

    /// The signed response on the page the browser posts to the LMS, verified as the LMS does: with the tool's key set.
    func verifiedResponse(_ app: Application, _ page: TestingHTTPResponse) async throws -> DeepLinkingResponse {
        let html = page.body.string
        #expect(html.contains(#"action="\#(Self.returnURL)""#), "\(html)")
        let start = try #require(html.range(of: #"name="JWT" value=""#))
        let token = String(html[start.upperBound...].prefix { $0 != "\"" })
        let body = try await app.testing().sendRequest(.GET, "/.well-known/jwks.json").body
        let keys = JWTKeyCollection()
        try await keys.add(jwks: try JSONDecoder().decode(JWKS.self, from: Data(body.readableBytesView)))
        return try await keys.verify(token, as: DeepLinkingResponse.self)
    }

    @Test func theToolPublishesItsKeysAndRotatesThemADayAhead() async throws {
        try await withLMS { app, _ in
            let clock = MovableClock(app)
            let secret = app.platformSecret
            func signingKid() async throws -> String {
                try await LTIToolKeys.signing(secret: secret, on: app.db, now: app.clock.now(), logger: app.logger).kid
            }

            #expect(try await toolKeySet(app).keys.isEmpty, "no key until the tool first signs")
            let made = try await signingKid()
            let (first, cache) = try await toolKeySet(app)
            #expect(first.count == 1 && first.first?["kid"] == made && cache?.contains("max-age=") == true)
            let key = try #require(first.first)
            #expect(key["kty"] == "RSA" && key["alg"] == "RS256" && key["use"] == "sig" && key["n"]?.count ?? 0 > 300 && key["e"] == "AQAB")
            #expect(Set(key.keys) == ["kty", "kid", "alg", "use", "n", "e"], "no private part is published")
            #expect(try await signingKid() == key["kid"])
            // At rest the private key is sealed: no PEM in the row, and another platform secret opens nothing.
            let row = try #require(try await LTIToolKey.query(on: app.db).first())
            #expect(!row.sealedKey.contains("PRIVATE") && LTIToolKeys.open(row, secret: secret) != nil && LTIToolKeys.open(row, secret: secret + "x") == nil)
            let moved = LTIToolKey()
            (moved.kid, moved.sealedKey) = ("another-kid", row.sealedKey)
            #expect(LTIToolKeys.open(moved, secret: secret) == nil, "a sealed key opens only under its own key id")

            // A rotation publishes the next key at once; it signs only a day later, and the old one is published a day more.
            let rotated = try await LTIToolKeys.rotate(secret: secret, on: app.db, now: app.clock.now())
            #expect(rotated.map(\.state) == ["next", "signing"])
            #expect(try await LTIToolKeys.rotate(secret: secret, on: app.db, now: app.clock.now()).count == 2, "a second rotation the same day adds none")
            let next = try #require(rotated.first?.kid)
            #expect(try await toolKeySet(app).keys.map { $0["kid"] } == [next, key["kid"]])
            #expect(try await signingKid() == key["kid"])
            clock.advance(86_401)
            #expect(try await signingKid() == next)
            #expect(try await toolKeySet(app).keys.map { $0["kid"] } == [next, key["kid"]])
            clock.advance(86_400)
            #expect(try await toolKeySet(app).keys.map { $0["kid"] } == [next])
            // After 90 days a key publishes its successor by itself, and goes on signing until it is due.
            clock.advance(91 * 86_400)
            #expect(try await signingKid() == next)
            let published = try await LTIToolKeys.published(on: app.db, now: app.clock.now())
            #expect(published.map(\.state) == ["next", "signing"])
            #expect(try await LTIToolKey.query(on: app.db).count() == 2, "a key no LMS can meet any more is deleted")

            // Rotating is for administrators (the page's form; the key set itself is public).
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            try await student.get("/dashboard")
            #expect(try await student.post("/admin/lti/keys", [:]).status == .notFound)
            let admin = try Browser(app)
            try await admin.signIn("admin@demo.test")
            #expect(try await admin.get("/admin/lti").body.string.contains(next))
            clock.advance(1.5 * 86_400)  // the successor signs; the key before it is published half a day more
            let rotate = try await admin.post("/admin/lti/keys", [:])
            #expect(rotate.status == .seeOther, "\(rotate.body.string)")
            #expect(try await LTIToolKeys.published(on: app.db, now: app.clock.now()).map(\.state) == ["next", "signing", "previous"])

            // Another platform secret cannot open the key: a new one signs at once, and the key set has both (every
            // process publishes the same set, whatever it can open).
            let unreadable = try await signingKid()
            let replaced = try await LTIToolKeys.signing(secret: secret + "-changed", on: app.db, now: app.clock.now(), logger: app.logger).kid
            let both = Set(try await toolKeySet(app).keys.compactMap { $0["kid"] })
            #expect(replaced != unreadable && both.isSuperset(of: [replaced, unreadable]))
            // A key that must not sign any more is withdrawn at once.
            let fresh = try #require(try await LTIToolKeys.rotate(secret: secret, immediately: true, on: app.db, now: app.clock.now()).first)
            let withdrawn = try await toolKeySet(app).keys.map { $0["kid"] }
            #expect(fresh.state == "signing" && withdrawn == [fresh.kid])
            #expect(try await signingKid() == fresh.kid)
        }
    }

    @Test func anInstructorLinksAssignmentsByDeepLinkingAndTheLinksLandOnThem() async throws {
        try await withLMS { app, lms in
            let teacher = try await deepLinkLaunch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test")
            #expect(teacher.status == .seeOther, "\(teacher.body.string)")
            let request = try #require(try await LTIDeepLinkRequest.query(on: app.db).with(\.$course).first())
            let choice = "/lti/deep-links/\(try request.requireID())"
            #expect(teacher.headers.first(name: .location) == choice && request.data == "lms-opaque-7" && request.acceptMultiple)
            let course = request.course
            let tess = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
            var input = AssignmentInput()
            (input.title, input.kind, input.pointsPossible, input.dueAt) = ("Sequences", "gradescope", 10, "2027-01-15T17:00")
            let graded = try await Assignments.create(in: course, input, by: tess, on: app.db)
            (input.title, input.pointsPossible, input.dueAt) = ("Warm-up", nil, nil)
            let ungraded = try await Assignments.create(in: course, input, by: tess, on: app.db)
            let other = try #require(try await Course.query(on: app.db).filter(\.$id != course.requireID()).first())
            (input.title, input.pointsPossible) = ("Another course's lab", 5)
            let elsewhere = try await Assignments.create(in: other, input, by: tess, on: app.db)

            let browser = try Browser(app)
            browser.cookie = session(teacher)
            #expect(browser.cookie != nil)
            let page = try await browser.get(choice)
            #expect(page.status == .ok && page.body.string.contains("Sequences") && page.body.string.contains("Warm-up")
                    && !page.body.string.contains(elsewhere.title))
            // Another course's assignment is not this choice's to link.
            let foreign = try await browser.post(choice, ["action": "link", "assignmentIDs[]": try elsewhere.requireID().uuidString])
            #expect(foreign.status == .unprocessableEntity && foreign.body.string.contains("Pick assignments of this course"))
            #expect(try await LTIDeepLinkRequest.find(request.requireID(), on: app.db)?.usedAt == nil, "a refused answer leaves the choice open")

            let answer = try await browser.post(choice, ["action": "link"])
            #expect(answer.status == .unprocessableEntity && answer.body.string.contains("Pick an assignment"))
            let csrf = browser.csrf
            let both = [("action", "link"), ("assignmentIDs[]", try graded.requireID().uuidString), ("assignmentIDs[]", try ungraded.requireID().uuidString)]
            let linked = try await browser.post(choice, pairs: both)
            #expect(linked.status == .ok, "\(linked.body.string)")
            let response = try await verifiedResponse(app, linked)
            #expect(response.issuer == lms.clientID && response.audience == lms.issuer && response.deploymentID == lms.deployment)
            #expect(response.messageType == "LtiDeepLinkingResponse" && response.version == "1.3.0" && response.data == "lms-opaque-7")
            #expect(response.expires - response.issuedAt == 300 && response.nonce.count >= 16)
            let gradedID = try graded.requireID().uuidString.lowercased()
            #expect(response.contentItems.map(\.title) == ["Sequences", "Warm-up"])
            let first = try #require(response.contentItems.first)
            #expect(first.type == "ltiResourceLink" && first.url == "http://campus.test/lti/launch" && first.custom == ["assignment_id": gradedID])
            #expect(first.lineItem == .init(scoreMaximum: 10, label: "Sequences", resourceId: gradedID))
            #expect(first.submission?.endDateTime.hasPrefix("2027-01-15T17:00:00") == true)
            #expect(response.contentItems.last?.lineItem == nil, "no points, no grade column")
            // Answered once.
            #expect(try await browser.post(choice, pairs: both, csrf: csrf).status == .notFound)

            // The link the LMS made launches with the assignment's id: everyone lands on it, and the link keeps it.
            func open(_ subject: String, _ roles: [String], link: String, custom: [String: String]?) async throws -> TestingHTTPResponse {
                try await launch(app, lms, subject: subject, roles: roles) { claims in
                    claims.lti.resourceLink = .init(id: link, title: "Sequences")
                    claims.lti.custom = custom.map(LTIClaims.Custom.init)
                    claims.lti.gradeService = .init(scope: ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                                                    lineItems: "https://lms.test/ctx-1/lineitems", lineItem: "https://lms.test/ctx-1/lineitems/9")
                }
            }
            let assignmentPage = "/assignments/\(try graded.requireID())"
            #expect(try await open("lms-teacher", Self.instructor, link: "rl-seq", custom: ["assignment_id": gradedID]).headers.first(name: .location) == assignmentPage)
            #expect(try await open("lms-student-1", Self.learner, link: "rl-seq", custom: nil).headers.first(name: .location) == assignmentPage)
            let stored = try #require(try await LTIResourceLink.query(on: app.db).filter(\.$resourceLinkID == "rl-seq").first())
            #expect(stored.$assignment.id == graded.id && stored.lineItemURL == "https://lms.test/ctx-1/lineitems/9")
            // A link naming another course's assignment opens this course, and links nothing.
            let stray = try await open("lms-student-1", Self.learner, link: "rl-stray", custom: ["assignment_id": try elsewhere.requireID().uuidString])
            #expect(stray.headers.first(name: .location) == "/courses/\(try course.requireID())")
            #expect(try await LTIResourceLink.query(on: app.db).filter(\.$resourceLinkID == "rl-stray").first()?.$assignment.id == nil)
            // A student lands on an assignment only once it is released.
            graded.releaseAt = Date().addingTimeInterval(86_400)
            try await graded.save(on: app.db)
            #expect(try await open("lms-student-1", Self.learner, link: "rl-seq", custom: nil).headers.first(name: .location) == "/courses/\(try course.requireID())")
            #expect(try await open("lms-teacher", Self.instructor, link: "rl-seq", custom: nil).headers.first(name: .location) == assignmentPage)
        }
    }

    @Test func aChoiceIsTheInstructorsAloneAndStudentsCannotOpenOne() async throws {
        try await withLMS { app, lms in
            #expect(try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test").status == .seeOther)
            #expect(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner, email: "sam@uni.test").status == .seeOther)
            let before = try await counts(app)
            // A student's deep linking launch is refused, and writes nothing (not even a choice).
            let student = try await deepLinkLaunch(app, lms, subject: "lms-student-1", roles: Self.learner)
            #expect(student.status == .forbidden && student.body.string.contains("instructors and teaching assistants"))
            // A return address that is not a web address (a script in the form's action) is refused.
            let script = try await deepLinkLaunch(app, lms, subject: "lms-teacher", roles: Self.instructor,
                                                  settings: .init(returnURL: "javascript:alert(1)"))
            #expect(script.status == .badRequest && script.body.string.contains("not an https address"))
            // Nor plain http from an LMS on https (the signed answer would travel in clear).
            let plain = try await deepLinkLaunch(app, lms, subject: "lms-teacher", roles: Self.instructor,
                                                 settings: .init(returnURL: "http://lms.test/deep_link_return"))
            #expect(plain.status == .badRequest)
            #expect(try await counts(app) == before)
            #expect(try await LTIDeepLinkRequest.query(on: app.db).count() == 0)

            // One assignment only, when the LMS takes one; a new one made on the spot; or nothing.
            let teacher = try await deepLinkLaunch(app, lms, subject: "lms-teacher", roles: Self.instructor,
                                                   settings: .init(returnURL: Self.returnURL, acceptMultiple: false))
            let choice = try #require(teacher.headers.first(name: .location))
            // Someone else — the course's student, signed in with their own session — cannot see or answer it.
            let sam = try Browser(app)
            sam.cookie = session(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner))
            #expect(sam.cookie != nil)
            #expect(try await sam.get(choice).status == .notFound)
            try await sam.get("/dashboard")
            #expect(try await sam.post(choice, ["action": "cancel"]).status == .notFound)
            let tess = try Browser(app)
            tess.cookie = session(teacher)
            #expect(tess.cookie != nil)
            let course = try #require(try await LTIDeepLinkRequest.query(on: app.db).with(\.$course).first()).course
            let owner = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
            var input = AssignmentInput()
            (input.title, input.kind) = ("Loops", "gradescope")
            let loops = try await Assignments.create(in: course, input, by: owner, on: app.db)
            (input.title, input.kind) = ("Lists", "gradescope")
            let lists = try await Assignments.create(in: course, input, by: owner, on: app.db)
            #expect(try await tess.get(choice).body.string.contains(#"type="radio""#))
            let two = try await tess.post(choice, pairs: [("action", "link"), ("assignmentIDs[]", try loops.requireID().uuidString),
                                                          ("assignmentIDs[]", try lists.requireID().uuidString)])
            #expect(two.status == .unprocessableEntity && two.body.string.contains("takes one assignment"), "\(two.status) \(two.body.string)")
            let made = try await tess.post(choice, ["action": "create", "title": "Recursion", "pointsPossible": "50"])
            #expect(made.status == .ok, "\(made.body.string)")
            let item = try #require(try await verifiedResponse(app, made).contentItems.first)
            let recursion = try #require(try await Assignment.query(on: app.db).filter(\.$title == "Recursion").first())
            #expect(item.lineItem?.scoreMaximum == 50 && item.custom["assignment_id"] == recursion.id?.uuidString.lowercased())

            // A TA links assignments but does not create one.
            let assistant = try await deepLinkLaunch(app, lms, subject: "lms-ta", roles: Self.assistant, email: "tara@uni.test")
            #expect(assistant.status == .seeOther, "\(assistant.body.string)")
            let tara = try Browser(app)
            tara.cookie = session(assistant)
            let taChoice = try #require(assistant.headers.first(name: .location))
            let taPage = try await tara.get(taChoice)
            #expect(taPage.status == .ok && !taPage.body.string.contains("create a new assignment"))
            #expect(try await tara.post(taChoice, ["action": "create", "title": "TA's own", "pointsPossible": "5"]).status == .notFound)
            #expect(try await Assignment.query(on: app.db).filter(\.$title == "TA's own").count() == 0)
            #expect(try await LTIDeepLinkRequest.find(try #require(UUID(uuidString: String(taChoice.split(separator: "/").last!))), on: app.db)?.usedAt == nil,
                    "a refused answer leaves the choice open")

            let again = try await deepLinkLaunch(app, lms, subject: "lms-teacher", roles: Self.instructor)
            tess.cookie = session(again)
            #expect(tess.cookie != nil)
            let cancelled = try await tess.post(try #require(again.headers.first(name: .location)), ["action": "cancel"], csrf: nil)
            #expect(cancelled.status == .forbidden, "a form without its CSRF field changes nothing")
            try await tess.get(try #require(again.headers.first(name: .location)))
            let nothing = try await verifiedResponse(app, try await tess.post(try #require(again.headers.first(name: .location)), ["action": "cancel"]))
            #expect(nothing.contentItems.isEmpty)
        }
    }

    @Test func theConfigurationGivesAnLMSEveryAddressInOneStep() async throws {
        try await withLMS { app, _ in
            let response = try await app.testing().sendRequest(.GET, "/lti/config.json")
            #expect(response.status == .ok)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect(document["oidc_initiation_url"] as? String == "http://campus.test/lti/login")
            #expect(document["target_link_uri"] as? String == "http://campus.test/lti/launch")
            #expect(document["public_jwk_url"] as? String == "http://campus.test/.well-known/jwks.json")
            #expect((document["scopes"] as? [String])?.contains("https://purl.imsglobal.org/spec/lti-ags/scope/score") == true)
            let placements = ((document["extensions"] as? [[String: Any]])?.first?["settings"] as? [String: Any])?["placements"] as? [[String: String]]
            #expect(placements?.contains { $0["placement"] == "link_selection" && $0["message_type"] == "LtiDeepLinkingRequest" } == true)
        }
        try await withTestApp { app in
            let response = try await app.testing().sendRequest(.GET, "/lti/config.json")
            #expect(response.status == .serviceUnavailable)
        }
    }

    @Test func aLaunchedSessionIsFramedByItsLMSAndNoOneElse() async throws {
        try await withLMS { app, lms in
            let teacher = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor) { claims in
                claims.lti.launchPresentation = .init(documentTarget: "iframe", returnURL: "https://school.lms.test/courses/7/external_content/success")
            }
            let rule = "frame-ancestors 'self' https://lms.test https://school.lms.test"
            #expect(teacher.headers.first(name: "Content-Security-Policy") == rule && teacher.headers.first(name: "X-Frame-Options") == nil)
            let course = try await app.testing().sendRequest(.GET, try #require(teacher.headers.first(name: .location)), headers: ["cookie": try #require(session(teacher))])
            #expect(course.status == .ok && course.headers.first(name: "Content-Security-Policy") == rule && course.headers.first(name: "X-Frame-Options") == nil)
            // A session signed in with a password is framed by the platform only.
            let own = try Browser(app)
            let page = try await own.signIn("instructor@demo.test")
            #expect(page.headers.first(name: "Content-Security-Policy") == "frame-ancestors 'self'" && page.headers.first(name: "X-Frame-Options") == "SAMEORIGIN")
            #expect(try await own.get("/dashboard").headers.first(name: "Content-Security-Policy") == "frame-ancestors 'self'")
            // Only web origins frame: no script, no userinfo, no plain http from an LMS on https; at most five.
            #expect(EmbeddedSession.origins(["https://lms.test/x", "javascript:alert(1)", "https://user@evil.test/", "http://lms.test",
                                              "https://LMS.test:8443/a", "https://lms.test/y"], allowHTTP: false) == ["https://lms.test", "https://lms.test:8443"])
            // Over https the session cookie is sent inside the LMS's frame, in the LMS's partition only.
            let cookie = "__Host-campuscloud_session=abc; Expires=Fri, 11 Dec 2026 10:00:00 GMT; Path=/; Secure; HttpOnly; SameSite=Lax"
            #expect(EmbeddedSession.crossSite(cookie) == "__Host-campuscloud_session=abc; Expires=Fri, 11 Dec 2026 10:00:00 GMT; Path=/; Secure; HttpOnly; SameSite=None; Partitioned")
        }
    }

    @Test func overHTTPSALaunchedSessionsCookieIsPartitionedAndOthersStayLax() async throws {
        try await withLMS(publicURL: "https://campus.test") { app, lms in
            let launched = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor)
            #expect(launched.status == .seeOther, "\(launched.body.string)")
            let cookie = try #require(launched.headers[.setCookie].first { $0.hasPrefix("__Host-campuscloud_session=") })
            #expect(cookie.contains("SameSite=None") && cookie.contains("Partitioned") && cookie.contains("Secure") && cookie.contains("HttpOnly")
                    && !cookie.contains("SameSite=Lax"), "\(cookie)")
            // Signed in with a password: the platform's own session, SameSite=Lax, not partitioned.
            let own = try Browser(app)
            let signedIn = try await own.signIn("instructor@demo.test")
            #expect(signedIn.status == .seeOther)
            let plain = try #require(signedIn.headers[.setCookie].first { $0.hasPrefix("__Host-campuscloud_session=") })
            #expect(plain.contains("SameSite=Lax") && !plain.contains("Partitioned"), "\(plain)")
        }
    }
}
