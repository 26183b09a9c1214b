import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
@testable import App

@Suite struct PasswordLinkTests {
    func importOne(_ app: Application, email: String) async throws -> String {
        let token = try await app.testing().sendRequest(.POST, "api/v1/auth/token") { req in
            try req.content.encode(["email": "instructor@demo.test", "password": "campuscloud-demo"], as: .json)
        }.content.decode(AuthController.TokenDTO.self).token
        let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first())
        let response = try await app.testing().sendRequest(.POST, "api/v1/courses/\(course.requireID())/roster",
                                                          headers: ["Authorization": "Bearer \(token)", "Content-Type": "text/csv"],
                                                          body: ByteBuffer(string: "email,name,role\n\(email),New Person,student\n"))
        let summary = try response.content.decode(RosterImportSummary.self)
        #expect(summary.invitations.map(\.email) == [email])
        return try #require(summary.invitations.first).link
    }

    @Test func anInvitedStudentSetsAPasswordOnceAndIsSignedIn() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let link = try await importOne(app, email: "invited@uni.edu")
            #expect(link.hasPrefix("/set-password?token="))
            let browser = try Browser(app)
            let page = try await browser.get(link)
            #expect(page.status == .ok)
            #expect(page.body.string.contains("invited@uni.edu"))
            let token = String(link.dropFirst("/set-password?token=".count))
            let mismatch = try await browser.post("/set-password", ["token": token, "password": "correct horse", "confirmation": "battery staple"])
            #expect(mismatch.status == .badRequest)
            #expect(mismatch.body.string.contains("not the same"))
            let short = try await browser.post("/set-password", ["token": token, "password": "short", "confirmation": "short"])
            #expect(short.body.string.contains("at least 10 characters"))
            let done = try await browser.post("/set-password", ["token": token, "password": "correct horse battery", "confirmation": "correct horse battery"])
            #expect(done.status == .seeOther)
            #expect(try await browser.get("/dashboard").body.string.contains("CS101"))
            // Used once: the link is gone, and the password works.
            #expect(try await Browser(app).get(link).status == .gone)
            let again = try Browser(app)
            #expect(try await again.signIn("invited@uni.edu", "correct horse battery").status == .seeOther)
        }
    }

    @Test func linksExpire() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let user = try #require(try await User.query(on: app.db).filter(\.$email == "student7@demo.test").first())
            let link = try await PasswordLinks.issue(for: user, purpose: .reset, on: app.db)
            let secret = String(link.dropFirst("/set-password?token=".count))
            #expect(try await PasswordLinks.find(secret, on: app.db) != nil)
            #expect(try await PasswordLinks.find(secret, now: Date().addingTimeInterval(PasswordLinks.resetLifetime + 1), on: app.db) == nil)
            #expect(try await PasswordLinks.find("not-a-real-token", on: app.db) == nil)
            // Only the hash is stored.
            #expect(try await PasswordLink.query(on: app.db).all().allSatisfy { $0.secretHash != secret && $0.secretHash.count == 64 })
        }
    }

    @Test func changingOnesPasswordNeedsTheCurrentOne() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let browser = try Browser(app)
            try await browser.signIn("student8@demo.test")
            try await browser.get("/profile")
            let wrong = try await browser.post("/profile/password", ["current": "guess", "password": "a much better one", "confirmation": "a much better one"])
            #expect(wrong.status == .badRequest)
            let right = try await browser.post("/profile/password", ["current": "campuscloud-demo", "password": "a much better one", "confirmation": "a much better one"])
            #expect(right.status == .seeOther)
            #expect(try await Browser(app).signIn("student8@demo.test").status == .unauthorized)
            #expect(try await Browser(app).signIn("student8@demo.test", "a much better one").status == .seeOther)
        }
    }

    @Test func twoConcurrentUsesOfOneLinkLetOnlyOneThrough() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let user = try #require(try await User.query(on: app.db).filter(\.$email == "student10@demo.test").first())
            let link = try await PasswordLinks.issue(for: user, purpose: .reset, on: app.db)
            let secret = String(link.dropFirst("/set-password?token=".count))
            let outcomes = await withTaskGroup(of: String?.self) { group in
                for password in ["first password one", "second password two"] {
                    group.addTask {
                        do {
                            _ = try await PasswordLinks.use(secret, password: password, confirmation: password, hasher: app.password.async, on: app.writes)
                            return password
                        } catch { return nil }
                    }
                }
                return await group.reduce(into: [String]()) { if let won = $1 { $0.append(won) } }
            }
            #expect(outcomes.count == 1)
            #expect(try await Browser(app).signIn("student10@demo.test", try #require(outcomes.first)).status == .seeOther)
        }
    }

    @Test func aPasswordChangeOrResetEndsOtherSessionsAndRevokesTokens() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let changer = try Browser(app), other = try Browser(app)
            try await changer.signIn("student11@demo.test")
            try await other.signIn("student11@demo.test")
            let token = try await app.bearer("student11@demo.test")
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: token).status == .ok)
            // A personal key made with that session (as whoever stole it would) is revoked too.
            var json = token
            json.contentType = .json
            let made = try await app.testing().sendRequest(.POST, "api/v1/me/keys", headers: json, body: ByteBuffer(string: #"{"name": "kept?"}"#))
            #expect(made.status == .created)
            let personal: HTTPHeaders = ["Authorization": "Bearer \(try #require((try JSONSerialization.jsonObject(with: Data(buffer: made.body)) as? [String: Any])?["token"] as? String))"]
            try await changer.get("/profile")
            let changed = try await changer.post("/profile/password", ["current": "campuscloud-demo", "password": "a much better one", "confirmation": "a much better one"])
            #expect(changed.status == .seeOther)
            // The session that changed it goes on; the other session and the 30-day token are over.
            #expect(try await changer.get("/profile").status == .ok)
            #expect(try await other.get("/profile").status != .ok)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: token).status == .unauthorized)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: personal).status == .unauthorized)
            // A reset through a link ends every session, the changer's too.
            let user = try #require(try await User.query(on: app.db).filter(\.$email == "student11@demo.test").first())
            let secret = String(try await PasswordLinks.issue(for: user, purpose: .reset, on: app.db).dropFirst("/set-password?token=".count))
            _ = try await PasswordLinks.use(secret, password: "yet another password", confirmation: "yet another password", hasher: app.password.async, on: app.writes)
            #expect(try await changer.get("/profile").status != .ok)
        }
    }
}
