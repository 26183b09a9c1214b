import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
@testable import App

@Suite struct AuthTests {
    @Test func theSignInPageSetsAPrivateSessionCookieAndACSRFToken() async throws {
        try await withTestApp { app in
            let browser = try Browser(app)
            let page = try await browser.get("/signin")
            #expect(page.status == .ok)
            let cookie = try #require(browser.lastSetCookie)
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(!cookie.contains("Secure"))  // served over http here
            #expect(browser.csrf?.isEmpty == false)
        }
    }

    @Test func signingInWithTheRightPasswordOpensTheDashboardWithANewSession() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let browser = try Browser(app)
            try await browser.get("/signin")
            let before = browser.cookie
            let response = try await browser.signIn("Instructor@Demo.test")  // email is case-insensitive
            #expect(response.status == .seeOther)
            #expect(response.headers.first(name: .location) == "/dashboard")
            #expect(browser.cookie != before, "the session id must change at sign-in")
            let dashboard = try await browser.get("/dashboard")
            #expect(dashboard.status == .ok)
            #expect(dashboard.body.string.contains("CS101 Introduction to Programming</a> — instructor"))
            #expect(dashboard.body.string.contains("Signed in as Ines Instructor"))
        }
    }

    @Test func aPageViewReadsTheSessionWithoutWritingItAndAChangeIsSaved() async throws {
        guard !TestDatabase.isPostgres else { return }  // read from SQLite's query log
        let counter = StatementCounter()
        try await withTestApp(statements: counter) { app in
            try await app.loadDemoData()
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            var statuses: [HTTPStatus] = []
            _ = try await counter.count { for _ in 0..<3 { statuses.append(try await browser.get("/dashboard").status) } }
            #expect(statuses == [.ok, .ok, .ok])
            let reads = counter.statements.filter { $0.contains("_fluent_sessions") }
            #expect(reads.count == 3 && reads.allSatisfy { $0.hasPrefix("SELECT") }, "\(reads)")
            // A change is saved: signing out ends the session for the next page.
            _ = try await counter.count { statuses.append(try await browser.post("/signout", [:]).status) }
            #expect(counter.statements.contains { $0.contains("_fluent_sessions") && !$0.hasPrefix("SELECT") }, "\(counter.statements)")
            #expect(try await browser.get("/dashboard").status == .seeOther)
        }
    }

    /// Who is asking and what they may do in a course costs three statements before a course page's own work: the
    /// session's data, the person with what decides whether the session still holds (providers that switched
    /// passwords off, the LMS that began it), and the course with the person's roles in it and its programme.
    @Test func aSignedInCoursePageAsksThreeTimesBeforeItsOwnWork() async throws {
        guard !TestDatabase.isPostgres else { return }  // read from SQLite's query log
        let counter = StatementCounter()
        try await withTestApp(statements: counter) { app in
            try await app.loadDemoData()
            let courseID = try #require(try await CourseMember.query(on: app.db).filter(\.$role == .instructor).first()).$course.id
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            let path = SitePath.gradebook(.id(courseID)).url
            #expect(try await browser.get(path).status == .ok)  // builds the kept rows
            var status = HTTPStatus.ok
            _ = try await counter.count { status = try await browser.get(path).status }
            #expect(status == .ok)
            let statements = counter.statements
            #expect(statements.count == 5, "\(statements)")  // three, then the page's own two (GradebookRows.page)
            #expect(statements.count > 3 && statements[0].contains("_fluent_sessions") && statements[1].contains("FROM users u WHERE u.id")
                    && statements[1].contains("identity_providers") && statements[2].contains("FROM courses c WHERE c.id"), "\(statements)")
        }
    }

    @Test func pagesForSignedInPeopleRedirectToSignIn() async throws {
        try await withTestApp { app in
            let browser = try Browser(app)
            for path in ["/dashboard", "/profile"] {
                let response = try await browser.get(path)
                #expect(response.status == .seeOther)
                #expect(response.headers.first(name: .location)?.hasPrefix("/signin?next=") == true)
            }
        }
    }

    @Test func signingOutEndsTheSession() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let browser = try Browser(app)
            try await browser.signIn("ta@demo.test")
            try await browser.get("/dashboard")
            let out = try await browser.post("/signout", [:])
            #expect(out.status == .seeOther)
            #expect(try await browser.get("/dashboard").status == .seeOther)
        }
    }

    /// The attack, on a shared computer: the last person's page still has requests under way (a slow page, a status
    /// poll, JupyterLab's; one that reads the session, one that writes it) when the next person signs in on the same
    /// browser. Their replies arrive after. Vapor's sessions middleware set the last person's cookie with each, over
    /// the new one, and the next person ran as the last. Now a reply carries the cookie the request came with only
    /// when it wrote a session that is still there; and a sign-in ends the session the browser came with, so the old
    /// cookie signs nobody in whatever brings it back.
    @Test func aLateReplyToTheLastPersonsRequestCannotSignTheNextPersonInAsThem() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (arrived, release) = (TestGate(count: 2), TestGate())
            Self.slowPage(app, arrived: arrived, release: release)
            let browser = try Browser(app)
            try await browser.signIn("student1@demo.test")
            let lastPersons = try #require(browser.cookie)

            let replies = Self.underWay(app, cookie: lastPersons, ["/test-slow-page", "/test-slow-page?write=1"])
            await arrived.wait()
            // The next person signs in on the same browser (which still sends the last person's cookie).
            let signedIn: TestingHTTPResponse
            do { signedIn = try await browser.signIn("student2@demo.test") } catch { await release.open(); throw error }
            #expect(signedIn.status == .seeOther)
            let nextPersons = try #require(browser.cookie)
            #expect(nextPersons != lastPersons)
            await release.open()
            for reply in try await replies.value {
                // Both requests were the last person's, read before the sign-in; neither reply sets a session cookie.
                #expect(reply.body.string == "student1@demo.test", "\(reply.body.string)")
                #expect(!reply.headers[.setCookie].contains { $0.hasPrefix("campuscloud_session=") }, "\(reply.headers[.setCookie])")
                browser.receive(reply)
            }
            // The browser's cookie is still the next person's, and theirs.
            #expect(browser.cookie == nextPersons)
            let dashboard = try await browser.get("/dashboard").body.string
            #expect(dashboard.contains("Signed in as Student 2") && !dashboard.contains("Student 1"), "\(dashboard.prefix(300))")
            // And the last person's, were anything to bring it back, signs nobody in.
            browser.cookie = lastPersons
            let page = try await browser.get("/dashboard")
            #expect(page.status == .seeOther && page.headers.first(name: .location)?.hasPrefix("/signin") == true,
                    "the last person's cookie still signs them in: \(page.status) \(page.body.string.prefix(300))")
        }
    }

    /// The same person signing in again while a page of theirs has a request under way stays signed in: its reply
    /// does not bring back the cookie of the session the sign-in ended.
    @Test func signingInAgainWhileARequestIsUnderWayKeepsTheNewSignIn() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (arrived, release) = (TestGate(), TestGate())
            Self.slowPage(app, arrived: arrived, release: release)
            let browser = try Browser(app)
            try await browser.signIn("ta@demo.test")
            let replies = Self.underWay(app, cookie: try #require(browser.cookie), ["/test-slow-page?write=1"])
            await arrived.wait()
            do { try await browser.signIn("ta@demo.test") } catch { await release.open(); throw error }
            await release.open()
            let reply = try #require(try await replies.value.first)
            #expect(!reply.headers[.setCookie].contains { $0.hasPrefix("campuscloud_session=") }, "\(reply.headers[.setCookie])")
            browser.receive(reply)
            #expect(try await browser.get("/dashboard").status == .ok)
        }
    }

    /// Pages do not send the session cookie again; the first page of a new day does, with a fresh week (and the
    /// session is written then, once).
    @Test func theSessionCookieIsSentAgainOnceADaySoItsWeekSlides() async throws {
        let clock = HandClock(Date())
        try await withTestApp { app in
            app.clock = clock.clock
            try await app.loadDemoData()
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            let cookie = try #require(browser.cookie)
            func sessionCookies(_ response: TestingHTTPResponse) -> [String] { response.headers[.setCookie].filter { $0.hasPrefix("campuscloud_session=") } }
            #expect(sessionCookies(try await browser.get("/dashboard")).isEmpty)
            clock.advance(86_400)
            let nextDay = try await browser.get("/dashboard")
            #expect(nextDay.status == .ok && sessionCookies(nextDay).count == 1, "\(nextDay.headers[.setCookie])")
            #expect(sessionCookies(nextDay).allSatisfy { $0.hasPrefix(cookie + ";") && $0.contains("Max-Age=604800") }, "\(sessionCookies(nextDay))")
            #expect(sessionCookies(try await browser.get("/dashboard")).isEmpty)
            // Signing out still expires it.
            let out = try await browser.post("/signout", [:])
            #expect(sessionCookies(out).contains { $0.contains("Max-Age=0") || $0.contains("Expires=Thu, 01 Jan 1970") }, "\(out.headers[.setCookie])")
        }
    }

    /// A page that answers only when let go, grouped as the site's pages are (`write=1`: it writes the session first);
    /// it answers with the email of whoever the request was signed in as.
    static func slowPage(_ app: Application, arrived: TestGate, release: TestGate) {
        webSessions(app).grouped(ActiveUserSessionAuthenticator()).get("test-slow-page") { req async -> String in
            if req.query[String.self, at: "write"] != nil { req.session.data["test-written"] = UUID().uuidString }
            await arrived.open()
            await release.wait()
            return req.auth.get(User.self)?.email ?? "nobody"
        }
    }

    /// Requests of one browser's under way at once, with its cookie; their replies once all have come.
    static func underWay(_ app: Application, cookie: String, _ paths: [String]) -> Task<[TestingHTTPResponse], any Error> {
        Task {
            try await withThrowingTaskGroup(of: TestingHTTPResponse.self) { group in
                for path in paths {
                    group.addTask {
                        let tab = try Browser(app)
                        tab.cookie = cookie
                        return try await tab.get(path)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
    }

    @Test func aWrongPasswordIsRefusedAndABurstIsThrottled() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let browser = try Browser(app)
            for _ in 0..<5 {
                let response = try await browser.signIn("student2@demo.test", "wrong")
                #expect(response.status == .unauthorized)
                #expect(response.body.string.contains("The email or password is wrong."))
            }
            let throttled = try await browser.signIn("student2@demo.test", "campuscloud-demo")
            #expect(throttled.status == .tooManyRequests)
            #expect(throttled.body.string.contains("Too many failed sign-ins"))
        }
    }

    @Test func fiftyConcurrentWrongPasswordsGetAtMostFiveChecked() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let statuses = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await app.testing().sendRequest(.POST, "api/v1/auth/token") { req in
                            try req.content.encode(["email": "student9@demo.test", "password": "guess"], as: .json)
                        }.status
                    }
                }
                return try await group.reduce(into: [HTTPStatus]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .unauthorized }.count <= 5)
            #expect(statuses.filter { $0 == .tooManyRequests }.count >= 45)
        }
    }

    @Test func formsWithoutTheRightCSRFTokenAreRejectedAndChangeNothing() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let browser = try Browser(app)
            try await browser.get("/signin")
            let noToken = try await browser.post("/signin", ["email": "ta@demo.test", "password": "campuscloud-demo"], csrf: .some(nil))
            #expect(noToken.status == .forbidden)
            try await browser.signIn("ta@demo.test")
            try await browser.get("/profile")
            let forged = try await browser.post("/profile/keys", ["name": "forged"], csrf: "not-the-token")
            #expect(forged.status == .forbidden)
            #expect(try await APIKey.query(on: app.db).count() == 0)
            let real = try await browser.post("/profile/keys", ["name": "laptop"])
            #expect(real.status == .ok)
            #expect(real.body.string.contains("Copy it now"))
            #expect(try await APIKey.query(on: app.db).count() == 1)
        }
    }

    @Test func theSafeNextPathStaysOnThisSite() {
        #expect(SitePath.safeNext("/profile") == "/profile")
        #expect(SitePath.safeNext("//evil.example/x") == "/dashboard")
        #expect(SitePath.safeNext("https://evil.example") == "/dashboard")
        #expect(SitePath.safeNext(nil) == "/dashboard")
        #expect(SitePath.safeNext("/\t/evil.example") == "/dashboard")  // a browser drops the tab
        #expect(SitePath.safeNext("/ /evil.example") == "/dashboard" && SitePath.safeNext("/\u{0}x") == "/dashboard")
        #expect(SitePath.safeNext("/courses?tab=labs#top") == "/courses?tab=labs#top")
    }
}

@Suite struct APIAuthTests {
    func token(_ app: Application, _ email: String, _ password: String = "campuscloud-demo") async throws -> (HTTPStatus, String?) {
        var status = HTTPStatus.internalServerError
        var token: String?
        try await app.testing().test(.POST, "api/v1/auth/token", beforeRequest: { req in
            try req.content.encode(["email": email, "password": password], as: .json)
        }, afterResponse: { res async in
            status = res.status
            token = try? res.content.decode(AuthController.TokenDTO.self).token
        })
        return (status, token)
    }

    func bearer(_ token: String) -> HTTPHeaders { ["Authorization": "Bearer \(token)"] }

    @Test func aTokenFromThePasswordShowsMeAndMyMemberships() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (status, token) = try await token(app, "mentor@partner.test")
            #expect(status == .ok)
            let me = try await app.testing().sendRequest(.GET, "api/v1/me", headers: bearer(try #require(token)))
            #expect(me.status == .ok)
            let body = try me.content.decode(MeDTO.self)
            #expect(body.email == "mentor@partner.test")
            #expect(body.memberships.programmes.map(\.role) == ["partner_contact"])
            #expect(body.memberships.projects.map(\.role) == ["mentor"])
            #expect(body.memberships.courses.isEmpty)
        }
    }

    @Test func wrongPasswordsAndMissingOrBadTokensAnswer401InTheErrorFormat() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            #expect(try await token(app, "ta@demo.test", "nope").0 == .unauthorized)
            #expect(try await token(app, "nobody@demo.test").0 == .unauthorized)
            for headers in [HTTPHeaders(), bearer("cc_aaaaaaaaaaaa_wrong"), bearer("not-a-token")] {
                let response = try await app.testing().sendRequest(.GET, "api/v1/me", headers: headers)
                #expect(response.status == .unauthorized)
                #expect(try response.content.decode(ErrorBody.self).error.type == "authentication_error")
            }
        }
    }

    @Test func personalKeysAreStoredOnlyAsHashesAndRevokingStopsThemAtOnce() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let session = try #require(try await token(app, "student3@demo.test").1)
            let created = try await app.testing().sendRequest(.POST, "api/v1/me/keys", headers: bearer(session)) { req in
                try req.content.encode(["name": "grading script"], as: .json)
            }
            #expect(created.status == .created)
            let new = try created.content.decode(NewAPIKeyDTO.self)
            let secret = String(new.token.split(separator: "_", maxSplits: 2)[2])  // (the secret itself may hold "_")
            // At rest: the hash, never the token or its secret.
            for row in try await APIKey.query(on: app.db).all() {
                #expect(row.secretHash != secret && !row.secretHash.contains(secret))
                #expect(row.secretHash.count == 64)
            }
            // Listed by prefix only.
            let listed = try await app.testing().sendRequest(.GET, "api/v1/me/keys", headers: bearer(session))
            #expect(!listed.body.string.contains(secret))
            #expect(try listed.content.decode([APIKeyDTO].self).map(\.name) == ["grading script"])
            // Works, then is revoked, then does not work on the very next request.
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: bearer(new.token)).status == .ok)
            let revoked = try await app.testing().sendRequest(.DELETE, "api/v1/me/keys/\(new.key.id)", headers: bearer(session))
            #expect(revoked.status == .noContent)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: bearer(new.token)).status == .unauthorized)
        }
    }

    @Test func someoneElsesKeyAnswers404AndKeepsWorking() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let alice = try #require(try await token(app, "student4@demo.test").1)
            let bob = try #require(try await token(app, "student5@demo.test").1)
            let created = try await app.testing().sendRequest(.POST, "api/v1/me/keys", headers: bearer(alice)) { req in
                try req.content.encode(["name": "alice's"], as: .json)
            }
            let key = try created.content.decode(NewAPIKeyDTO.self)
            let attempt = try await app.testing().sendRequest(.DELETE, "api/v1/me/keys/\(key.key.id)", headers: bearer(bob))
            #expect(attempt.status == .notFound)
            let unknown = try await app.testing().sendRequest(.DELETE, "api/v1/me/keys/\(UUID())", headers: bearer(bob))
            #expect(unknown.status == .notFound)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: bearer(key.token)).status == .ok)
        }
    }

    @Test func badBodiesGetASentenceNotATrace() async throws {
        try await withTestApp { app in
            let malformed = try await app.testing().sendRequest(.POST, "api/v1/auth/token", headers: ["Content-Type": "application/json"],
                                                               body: ByteBuffer(string: "{\"email\": 42"))
            #expect(malformed.status == .badRequest)
            let missing = try await app.testing().sendRequest(.POST, "api/v1/auth/token", headers: ["Content-Type": "application/json"],
                                                             body: ByteBuffer(string: "{\"email\": \"a@b.c\"}"))
            #expect(missing.status == .badRequest)
            #expect(try missing.content.decode(ErrorBody.self).error.message.contains("'password' is missing"))
        }
    }
}

@Suite struct TokenAndThrottleTests {
    @Test func tokensParseOnlyInTheirOwnShape() {
        let (token, prefix, hash) = TokenCodec.generate()
        let parts = TokenCodec.parse(token)
        #expect(parts?.prefix == prefix)
        #expect(TokenCodec.matches(parts!.secret, hash: hash))
        #expect(!TokenCodec.matches(parts!.secret + "x", hash: hash))
        for bad in ["", "cc_", "cc_short_secret", "xx_aaaaaaaaaaaa_secret", "cc_aaaaaaaaaaaa_"] { #expect(TokenCodec.parse(bad) == nil) }
    }

    @Test func theThrottleCountsAttemptsBeforeTheCheckAndASuccessTakesBackOnlyItsOwn() {
        let throttle = SignInThrottle(policy: .init(freeAttempts: 3, window: 60, firstPause: 10, maxPause: 100))
        let now = Date()
        for _ in 0..<3 { #expect(throttle.begin(["a"], now: now) == nil) }  // the third uses the last free attempt
        #expect(throttle.begin(["a"], now: now) == 10)
        #expect(throttle.begin(["a"], now: now.addingTimeInterval(11)) == nil)
        #expect(throttle.begin(["a"], now: now.addingTimeInterval(11)) == 20)  // the pause doubles
        #expect(throttle.begin(["b"], now: now) == nil)
        // Two guesses at other accounts from one address, then a right password for a third account there: its
        // success clears its own account and takes back its own attempt, not the address's other guesses.
        let later = now.addingTimeInterval(1000)
        for account in ["x", "y"] { #expect(throttle.begin(["email:\(account)", "ip:1"], now: later) == nil) }
        let success = later.addingTimeInterval(1)
        #expect(throttle.begin(["email:z", "ip:1"], now: success) == nil)
        throttle.succeeded(account: "email:z", others: ["ip:1"], now: success)
        #expect(throttle.begin(["email:w", "ip:1"], now: success.addingTimeInterval(1)) == nil)  // the address's third
        #expect(throttle.begin(["email:v", "ip:1"], now: success.addingTimeInterval(1)) != nil)  // paused now
    }
}

/// A point a test's tasks meet at: `wait` returns once `open` was called `count` times (before or after).
actor TestGate {
    private var left: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int = 1) { left = count }

    private var isOpen: Bool { left <= 0 }

    func open() {
        left -= 1
        guard isOpen else { return }
        for continuation in waiting { continuation.resume() }
        waiting = []
    }

    func wait() async {
        guard !isOpen else { return }
        await withCheckedContinuation { waiting.append($0) }
    }
}
