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
}
