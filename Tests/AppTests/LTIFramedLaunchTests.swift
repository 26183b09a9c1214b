// A launch inside the LMS's frame whose browser keeps no cookies there (issue 21; Safari, blocked third-party
// cookies), with the LMS stand-in of LTILaunchFlowTests: the login answers a page that keeps the state in the LMS's
// storage (LTI Client Side postMessages) or offers the login again as a window of its own; a launch without its cookie
// is let in only when this site's own page, having found the state in that storage, posts it again (a form from any
// other origin is refused and writes nothing); it continues in a new window through a single-use ticket.
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting
@testable import App

extension LTILaunchFlowTests {
    /// An attribute's value in a page (the first `name="…"`), unescaped.
    func attribute(_ name: String, in html: String) -> String? {
        guard let start = html.range(of: "\(name)=\"") else { return nil }
        return String(html[start.upperBound...].prefix { $0 != "\"" })
            .replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
    }

    /// The link of the element with `id` in a page.
    func href(ofID id: String, in html: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\"") else { return nil }
        return attribute("href", in: String(html[start.lowerBound...]))
    }

    /// The LMS's login initiation as its frame sends it (`Sec-Fetch-Dest: iframe`), offering its storage when `storage`.
    func framedLogin(_ app: Application, _ lms: LMSStandIn, storage: String? = "post_message_forwarding") async throws
        -> (page: TestingHTTPResponse, state: String, nonce: String) {
        var query = "iss=\(lms.issuer.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&login_hint=hint-1&client_id=\(lms.clientID)"
            + "&target_link_uri=http%3A%2F%2Fcampus.test%2Flti%2Flaunch&lti_message_hint=msg-1"
        if let storage { query += "&lti_storage_target=\(storage)" }
        let page = try await app.testing().sendRequest(.GET, "/lti/login?" + query, headers: ["Sec-Fetch-Dest": "iframe"])
        #expect(page.status == .ok, "\(page.body.string.prefix(300))")
        let address = try #require(attribute("data-authorization", in: page.body.string))
        let authorization = try #require(URLComponents(string: address))
        let items = Dictionary(uniqueKeysWithValues: (authorization.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        return (page, try #require(items["state"]), try #require(items["nonce"]))
    }

    /// The launch posted back without the state's cookie, as the platform's page in the LMS's frame posts it.
    func storageCheckedPost(_ app: Application, token: String, state: String, origin: String?, fetchSite: String? = "same-origin") async throws -> TestingHTTPResponse {
        var headers: HTTPHeaders = ["content-type": "application/x-www-form-urlencoded"]
        if let origin { headers.add(name: "Origin", value: origin) }
        if let fetchSite { headers.add(name: "Sec-Fetch-Site", value: fetchSite) }
        let body = "id_token=\(token)&state=\(state.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&storage_checked=1"
        return try await app.testing().sendRequest(.POST, "/lti/launch", headers: headers, body: ByteBuffer(string: body))
    }

    /// The new window's post of a ticket, as the launch's page in the frame sends it (or as someone else does).
    func openWindow(_ app: Application, ticket: String, origin: String?, fetchSite: String? = "same-origin") async throws -> TestingHTTPResponse {
        var headers: HTTPHeaders = ["content-type": "application/x-www-form-urlencoded"]
        if let origin { headers.add(name: "Origin", value: origin) }
        if let fetchSite { headers.add(name: "Sec-Fetch-Site", value: fetchSite) }
        return try await app.testing().sendRequest(.POST, "/lti/window", headers: headers, body: ByteBuffer(string: "ticket=\(ticket)"))
    }

    /// The ticket on the launch's new-window page.
    func ticket(in page: TestingHTTPResponse) throws -> String {
        let html = page.body.string
        let field = try #require(html.range(of: "name=\"ticket\""))
        return try #require(attribute("value", in: String(html[field.lowerBound...])))
    }

    @Test func aLoginInsideAFrameKeepsItsStateInTheLMSsStorageOrOffersANewWindow() async throws {
        try await withLMS { app, lms in
            // With the LMS's storage: the page carries what its script puts there; the cookie is set all the same.
            let (page, state, _) = try await framedLogin(app, lms)
            let html = page.body.string
            #expect(page.headers.first(name: "Content-Security-Policy") == "frame-ancestors *")
            #expect(page.headers[.setCookie].contains { $0.hasPrefix(LTILaunches.stateCookie(for: state, https: false) + "=" + state) })
            #expect(attribute("data-step", in: html) == "login")
            #expect(attribute("data-storage-target", in: html) == "post_message_forwarding")
            #expect(attribute("data-storage-origin", in: html) == "https://lms.test")  // the LMS's authorization endpoint's origin
            #expect(attribute("data-storage-key", in: html) == LTILaunches.storageKey(for: state))
            #expect(attribute("data-state", in: html) == state)
            let row = try #require(try await LTILaunchState.query(on: app.db).filter(\.$stateHash == TokenCodec.hash(state)).first())
            #expect(row.storageTarget == "post_message_forwarding")
            // Its state may sit in the LMS's storage: it expires in 3 minutes rather than 10 (the margin allows for a
            // loaded machine between the request and this line: CI once took 7 s).
            #expect(abs(row.expiresAt.timeIntervalSince(app.clock.now()) - LTILaunches.storageLifetime) < 60)
            // The new window repeats the LMS's login without the frame's storage, and goes straight on, top-level.
            let again = try #require(href(ofID: "open-new-window", in: html))
            #expect(again.hasPrefix("/lti/login?") && again.contains("login_hint=hint-1") && again.contains("lti_message_hint=msg-1") && !again.contains("lti_storage_target"))
            #expect(again.contains("lti_storage=unanswered"), "offered only when the storage did not answer: the login logs it")
            let topLevel = try await app.testing().sendRequest(.GET, again)
            #expect(topLevel.status == .seeOther && topLevel.headers.first(name: .location)?.hasPrefix("https://lms.test/auth?") == true)

            // Without storage, still a page inside a frame (it offers the new window when cookies are not kept); a
            // storage target that is not a frame's name is not kept.
            let (plain, plainState, _) = try await framedLogin(app, lms, storage: nil)
            #expect(attribute("data-storage-target", in: plain.body.string) == "")
            #expect(href(ofID: "open-new-window", in: plain.body.string)?.contains("lti_storage") == false)
            let plainRow = try #require(try await LTILaunchState.query(on: app.db).filter(\.$stateHash == TokenCodec.hash(plainState)).first())
            #expect(abs(plainRow.expiresAt.timeIntervalSince(app.clock.now()) - LTILaunches.lifetime) < 5)
            let odd = try await framedLogin(app, lms, storage: "%3Cscript%3E").state
            for unkept in [plainState, odd] {
                #expect(try await LTILaunchState.query(on: app.db).filter(\.$stateHash == TokenCodec.hash(unkept)).first()?.storageTarget == nil)
            }
        }
    }

    @Test func aLaunchWithoutItsCookieIsLetInOnlyByThisSitesPageAfterTheLMSsStorageAndContinuesInANewWindow() async throws {
        try await withLMS { app, lms in
            #expect(try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test").status == .seeOther)
            let before = try await counts(app)
            let (_, state, nonce) = try await framedLogin(app, lms)
            let token = try await lms.sign(lms.claims(nonce: nonce, subject: "lms-student-3", roles: Self.learner, email: "sam@uni.test"))

            // The LMS's post arrives without the cookie: the page that asks the LMS's storage, nothing written.
            let check = try await post(app, token: token, state: state, cookie: nil)
            #expect(check.status == .ok)
            let html = check.body.string
            #expect(attribute("data-step", in: html) == "check-storage" && attribute("data-storage-key", in: html) == LTILaunches.storageKey(for: state))
            let tokenField = try #require(html.range(of: "name=\"id_token\""))
            #expect(attribute("value", in: String(html[tokenField.lowerBound...])) == token)
            #expect(session(check) == nil)
            #expect(check.headers.first(name: "Content-Security-Policy") == "frame-ancestors https://lms.test")  // the token's LMS only
            #expect(try await counts(app) == before)
            // A token that does not verify gets no such page (nor anything written), and leaves the state unspent.
            let stray = try await lms.sign(lms.claims(nonce: nonce, subject: "lms-student-3", roles: Self.learner), stray: true)
            let strayCheck = try await post(app, token: stray, state: state, cookie: nil)
            #expect(strayCheck.status == .badRequest && strayCheck.body.string.contains("signature does not verify"))

            // The attack: someone posts their own launch into this browser from another site, claiming the check was
            // made; or without an Origin; or a page of this site's origin embedded cross-site. Refused, nothing written,
            // the state not spent.
            for (origin, site) in [("https://evil.test", "cross-site"), (nil, "cross-site"), ("http://campus.test", "cross-site"), ("null", nil)] as [(String?, String?)] {
                let forged = try await storageCheckedPost(app, token: token, state: state, origin: origin, fetchSite: site)
                #expect(forged.status == .badRequest && forged.body.string.contains("not confirmed by this site"), "\(String(describing: origin)): \(forged.status)")
                #expect(session(forged) == nil)
            }
            #expect(try await counts(app) == before)

            // This site's page posts it again: the person lands, with no session in the frame, but a link to a window.
            let landed = try await storageCheckedPost(app, token: token, state: state, origin: "http://campus.test")
            #expect(landed.status == .ok, "\(landed.body.string.prefix(400))")
            #expect(session(landed) == nil)
            #expect(attribute("data-step", in: landed.body.string) == "open-window")
            let framing = try #require(landed.headers.first(name: "Content-Security-Policy"))
            #expect(framing.contains("https://lms.test") && !framing.contains("*"), "\(framing)")
            #expect(try await counts(app) == Counts(users: before.users + 1, identities: before.identities + 1, members: before.members + 1,
                                                    courses: before.courses, contexts: before.contexts))
            let firstTicket = try ticket(in: landed)
            #expect(landed.body.string.contains(#"action="/lti/window" target="_blank""#))
            // Posted again: the state is spent.
            let replayed = try await storageCheckedPost(app, token: token, state: state, origin: "http://campus.test")
            #expect(replayed.status == .badRequest && replayed.body.string.contains("expired or was used already"))

            // The attack on the window: a ticket someone obtained for themselves, sent into another person's browser
            // from another site (or without an Origin, or from this origin embedded cross-site), to sign them in as its
            // owner. Refused, and the ticket not spent.
            for (origin, site) in [("https://evil.test", "cross-site"), (nil, nil), ("http://campus.test", "cross-site"), ("null", "cross-site")] as [(String?, String?)] {
                let forged = try await openWindow(app, ticket: firstTicket, origin: origin, fetchSite: site)
                #expect(forged.status == .forbidden && session(forged) == nil, "\(String(describing: origin)): \(forged.status)")
            }

            // The window, posted by the launch's page: a first-party session on the course; the ticket works once.
            let opened = try await openWindow(app, ticket: firstTicket, origin: "http://campus.test")
            #expect(opened.status == .seeOther)
            let cookie = try #require(session(opened))
            let course = try #require(try await LTIContext.query(on: app.db).with(\.$course).first()).course
            #expect(opened.headers.first(name: .location) == SitePath.course(.id(try course.requireID())).url)
            let home = try await app.testing().sendRequest(.GET, try #require(opened.headers.first(name: .location)), headers: ["Cookie": cookie])
            #expect(home.status == .ok && home.body.string.contains(course.code))
            let twice = try await openWindow(app, ticket: firstTicket, origin: "http://campus.test")
            #expect(twice.status == .badRequest && twice.body.string.contains("used already or has expired") && session(twice) == nil)

            // A ticket not taken within five minutes is worth nothing; nor is a made-up one.
            let (_, lateState, lateNonce) = try await framedLogin(app, lms)
            let lateToken = try await lms.sign(lms.claims(nonce: lateNonce, subject: "lms-student-3", roles: Self.learner, email: "sam@uni.test"))
            let lateTicket = try ticket(in: try await storageCheckedPost(app, token: lateToken, state: lateState, origin: "http://campus.test"))
            app.clock = PlatformClock { Date().addingTimeInterval(301) }
            let late = try await openWindow(app, ticket: lateTicket, origin: "http://campus.test")
            app.clock = .system
            #expect(late.status == .badRequest && session(late) == nil)
            #expect(try await openWindow(app, ticket: "made-up", origin: "http://campus.test").status == .badRequest)

            // A login that offered no storage: a launch without its cookie is refused, even "checked".
            let (_, bareState, bareNonce) = try await framedLogin(app, lms, storage: nil)
            let bareToken = try await lms.sign(lms.claims(nonce: bareNonce, subject: "lms-student-3", roles: Self.learner))
            let bare = try await storageCheckedPost(app, token: bareToken, state: bareState, origin: "http://campus.test")
            #expect(bare.status == .badRequest && bare.body.string.contains("without the state this browser was given"))
        }
    }

    @Test func aSecondLaunchInABrowserWithASessionStillGetsItsStateCookieMadeForFrames() async throws {
        // On a loopback public address browsers keep cookies made for cross-site frames, as over https.
        try await withLMS(publicURL: "http://localhost:8080") { app, lms in
            let first = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test")
            let cookie = try #require(session(first))
            #expect(first.headers[.setCookie].contains { $0.hasPrefix(cookie) && $0.contains("SameSite=None") && $0.contains("Partitioned") && $0.contains("Secure") })
            // The session saved on the login's answer rewrites the Set-Cookie headers; the state's must survive it.
            let query = "iss=\(lms.issuer.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&login_hint=hint-1&client_id=\(lms.clientID)"
                + "&target_link_uri=http%3A%2F%2Flocalhost%3A8080%2Flti%2Flaunch"
            for headers in [["Cookie": cookie], ["Cookie": cookie, "Sec-Fetch-Dest": "iframe"]] as [HTTPHeaders] {
                let again = try await app.testing().sendRequest(.GET, "/lti/login?" + query, headers: headers)
                let state = try #require(again.headers[.setCookie].first { $0.hasPrefix("lti_state_") }, "\(again.headers[.setCookie])")
                #expect(state.contains("SameSite=None") && state.contains("Partitioned") && state.contains("Secure"), "\(state)")
            }
        }
    }
}
