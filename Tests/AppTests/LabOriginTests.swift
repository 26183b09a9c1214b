// JupyterLab on origins of its own (issue 20): with CAMPUSCLOUD_LABS_URL the platform's origin relays no JupyterLab;
// each session's host below the labs domain answers only that session's path, only with the cookie its one-minute
// ticket gave the owner (while they stay signed in, active, with the same password), takes writes only from itself,
// lets only the platform's pages frame it, and passes neither cookie to the lab; the platform's pages are framed by
// the platform only.
import AsyncHTTPClient
import Fluent
import Foundation
import Glibc
import NIOCore
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct LabOriginTests {
    /// A port nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(fd, raw, length) == 0, getsockname(fd, raw, &length) == 0 else { throw Abort(.internalServerError) }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func jupyterLabOnItsOwnOriginOpensOnlyForItsOwnerWithItsTicketAndCookie() async throws {
        let port = try Self.freePort()
        let (platform, labs) = ("http://127.0.0.1:\(port)", "http://labs.test:\(port)")
        try await withTestApp(adjust: { ($0.publicURL, $0.labsURL) = (URL(string: platform), URL(string: labs)) }) { app in
            try await app.loadDemoData()
            let course = try await app.course("CS101")
            let instructor = try await app.bearer("instructor@demo.test")
            let created = try await LabSessionTests.send(app, .POST, "api/v1/courses/\(try course.requireID())/labs", LabEnvironmentTests.json(
                ["name": "Notebooks", "kind": "jupyterlab", "setupScript": LabHostTests.fakeJupyter, "openTo": "students"]), as: instructor)
            let labID = try LabEnvironmentTests.lab(created).id
            try await app.drainGradingQueue()
            try await app.server.start(address: .hostname("127.0.0.1", port: port))
            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            let cookie = try #require(student.cookie)
            let started = try await LabSessionTests.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student1@demo.test"))
            #expect(started.status == .created, "\(started.body.string)")
            let id = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: started.body)).id
            let owner = try #require(try await LabSession.find(id, on: app.db)).$user.id
            let lab = SitePath.labProxy(.id(id)).url
            let own = LabOrigin.sessionOrigin(id, labs: URL(string: labs)!)
            #expect(own == "http://\(id.uuidString.lowercased()).labs.test:\(port)")

            /// A request to the server as sent to `host` (the platform's origin or the labs origin).
            func send(_ method: HTTPMethod, _ path: String, to host: String, cookie: String? = nil, origin: String? = nil) async throws -> (HTTPResponseStatus, HTTPHeaders, String) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                request.method = method
                request.headers.add(name: .host, value: String(host.dropFirst("http://".count)))
                if let cookie { request.headers.add(name: .cookie, value: cookie) }
                if let origin { request.headers.add(name: "Origin", value: origin) }
                if method == .POST { request.body = .bytes(ByteBuffer(string: "{}")) }
                let response = try await app.http.client.shared.execute(request, timeout: .seconds(60))
                return (response.status, response.headers, String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }

            // The session page frames the platform's open link, which sends its owner to the labs origin with a ticket.
            let page = try await student.get(SitePath.labSession(.id(id)).url)
            #expect(page.body.string.contains("src=\"\(SitePath.openLab(.id(id)).url)\""))
            #expect(page.headers.first(name: "X-Frame-Options") == "SAMEORIGIN" && page.headers.first(name: "Content-Security-Policy") == "frame-ancestors 'self'")
            let opened = try await send(.GET, SitePath.openLab(.id(id)).url, to: platform, cookie: cookie)
            let location = try #require(opened.1.first(name: .location))
            #expect(opened.0 == .seeOther && location.hasPrefix(own + LabOrigin.enterPath(id) + "?ticket="), "\(opened)")
            let other = try Browser(app)
            try await other.signIn("student2@demo.test")
            #expect(try await send(.GET, SitePath.openLab(.id(id)).url, to: platform, cookie: try #require(other.cookie)).0 == .notFound)

            // The platform's origin relays JupyterLab no more: a link is sent to the open link, anything else is 404.
            let old = try await send(.GET, lab + "api/status", to: platform, cookie: cookie)
            #expect(old.0 == .seeOther && old.1.first(name: .location) == SitePath.openLab(.id(id)).url)
            #expect(try await send(.POST, lab + "api/contents", to: platform, cookie: cookie, origin: platform).0 == .notFound)

            // The labs domain: nothing but a session's own path at its own host, nothing without the session's cookie
            // (the platform's is no key).
            for host in [labs, own] {
                #expect(try await send(.GET, "/", to: host, cookie: cookie).0 == .notFound)
                #expect(try await send(.GET, "/api/v1/me", to: host, cookie: cookie).0 == .notFound)
                #expect(try await send(.GET, "/healthz", to: host).0 == .notFound)
                #expect(try await send(.GET, SitePath.labSession(.id(id)).url, to: host, cookie: cookie).0 == .notFound)
            }
            #expect(try await send(.GET, lab + "api/status", to: own, cookie: cookie).0 == .notFound)
            #expect(try await send(.GET, lab + "api/status", to: labs, cookie: cookie).0 == .notFound)
            // Tickets: altered, another session's, another person's, run out, unnamed (not single-use) — all refused,
            // no cookie given.
            let secret = app.platformSecret, soon = Date().addingTimeInterval(60)
            let intruder = try #require(try await User.query(on: app.db).filter(\.$email == "student2@demo.test").first()).requireID()
            let signIn = try #require(UUID(uuidString: String(location.split(separator: "=").last!.split(separator: ".")[1])))
            let holder = LabOrigin.Holder(user: owner, signIn: signIn)
            for ticket in [String(location.split(separator: "=").last!.dropLast(2)) + "xx",
                           LabOrigin.sign("ticket", session: UUID(), for: holder, until: soon, secret: secret, nonce: UUID()),
                           LabOrigin.sign("ticket", session: id, for: LabOrigin.Holder(user: intruder, signIn: signIn), until: soon, secret: secret, nonce: UUID()),
                           LabOrigin.sign("ticket", session: id, for: LabOrigin.Holder(user: owner, signIn: UUID()), until: soon, secret: secret, nonce: UUID()),
                           LabOrigin.sign("cookie", session: id, for: holder, until: soon, secret: secret, nonce: UUID()),
                           LabOrigin.sign("ticket", session: id, for: holder, until: Date().addingTimeInterval(-1), secret: secret, nonce: UUID()),
                           LabOrigin.sign("ticket", session: id, for: holder, until: soon, secret: String(repeating: "x", count: 40), nonce: UUID()),
                           LabOrigin.sign("ticket", session: id, for: holder, until: soon, secret: secret)] {
                let refused = try await send(.GET, LabOrigin.enterPath(id) + "?ticket=" + ticket, to: own)
                #expect(refused.0 == .forbidden && refused.1["Set-Cookie"].isEmpty, "\(ticket)")
            }

            // The ticket gives the session's cookie (host-only, HttpOnly); the cookie opens the lab, whichever way its
            // address spells the id.
            let entered = try await send(.GET, String(location.dropFirst(own.count)), to: own)
            #expect(entered.0 == .seeOther && entered.1.first(name: .location) == lab + "lab")
            let setCookie = try #require(entered.1["Set-Cookie"].first { $0.hasPrefix("campuscloud_lab=") })
            // Once: the same ticket again (a copy from a log or the history) gives nothing.
            let again = try await send(.GET, String(location.dropFirst(own.count)), to: own)
            #expect(again.0 == .forbidden && again.1["Set-Cookie"].isEmpty && again.2.contains("already used"), "\(again)")
            #expect(setCookie.contains("Path=/;") && setCookie.contains("HttpOnly") && !setCookie.lowercased().contains("domain"), "\(setCookie)")
            let labCookie = String(setCookie.split(separator: ";")[0])
            let seen = try await send(.GET, lab + "api/status", to: own, cookie: labCookie + "; _xsrf=own")
            #expect(seen.0 == .ok && seen.2.hasPrefix("stand-in saw \(lab)api/status cookie=_xsrf=own key=None "), "\(seen)")
            #expect(seen.1.first(name: "Content-Security-Policy") == "frame-ancestors \(platform)")
            #expect(try await send(.GET, lab.lowercased() + "api/status", to: own.uppercased().replacingOccurrences(of: "HTTP://", with: "http://"), cookie: labCookie).0 == .ok)
            // JupyterLab's own policy for the files it serves (a sandbox) is kept; only who may frame it changes.
            let file = try await send(.GET, lab + "files/page.html", to: own, cookie: labCookie)
            #expect(file.1.first(name: "Content-Security-Policy") == "sandbox allow-scripts; frame-ancestors \(platform)", "\(file.1)")
            // Writes from the session's own origin only (not the platform's, not the labs domain's, not another session's).
            for origin in [platform, labs, LabOrigin.sessionOrigin(UUID(), labs: URL(string: labs)!)] {
                #expect(try await send(.POST, lab + "api/contents", to: own, cookie: labCookie, origin: origin).0 == .forbidden)
            }
            #expect(try await send(.POST, lab + "api/contents", to: own, cookie: labCookie).0 == .forbidden)
            #expect(try await send(.POST, lab + "api/contents", to: own, cookie: labCookie, origin: own).0 == .ok)
            // The cookie is this session's: another person's session does not open with it, at its host or this one,
            // nor with one forged.
            let second = try await LabSessionTests.send(app, .POST, "api/v1/labs/\(labID)/sessions", as: try await app.bearer("student2@demo.test"))
            let secondID = try JSONDecoder.iso.decode(LabSessionDTO.self, from: Data(buffer: second.body)).id
            let secondOwn = LabOrigin.sessionOrigin(secondID, labs: URL(string: labs)!), secondLab = SitePath.labProxy(.id(secondID)).url
            #expect(try await send(.GET, secondLab + "api/status", to: secondOwn, cookie: labCookie).0 == .notFound)
            #expect(try await send(.GET, secondLab + "api/status", to: own, cookie: labCookie).0 == .notFound)
            let forged = "campuscloud_lab=" + LabOrigin.sign("cookie", session: secondID, for: holder, until: soon, secret: secret)
            #expect(try await send(.GET, secondLab + "api/status", to: secondOwn, cookie: forged).0 == .notFound)

            // A changed password, a deactivated account, signing out of the platform (a shared computer): each closes
            // the lab to that cookie.
            let person = try #require(try await User.find(owner, on: app.db))
            #expect(try await send(.GET, lab + "api/status", to: own, cookie: labCookie).0 == .ok)
            let changed = person.credentialsChangedAt
            person.credentialsChangedAt = Date().addingTimeInterval(5)
            try await person.save(on: app.db)
            #expect(try await send(.GET, lab + "api/status", to: own, cookie: labCookie).0 == .notFound)
            (person.credentialsChangedAt, person.isActive) = (changed, false)
            try await person.save(on: app.db)
            #expect(try await send(.GET, lab + "api/status", to: own, cookie: labCookie).0 == .notFound)
            person.isActive = true
            try await person.save(on: app.db)
            #expect(try await send(.GET, lab + "api/status", to: own, cookie: labCookie).0 == .ok)
            // Stopped: the cookie (still its owner's) reaches no lab.
            #expect(try await LabSessionTests.send(app, .POST, "api/v1/lab-sessions/\(id)/stop", as: try await app.bearer("student1@demo.test")).status == .ok)
            #expect(try await send(.GET, lab + "api/status", to: own, cookie: labCookie).0 == .conflict)
            #expect(try await student.post(SitePath.signOut.url, [:]).status == .seeOther)
            #expect(try await send(.GET, lab + "api/status", to: own, cookie: labCookie).0 == .notFound)
            _ = try await LabSessionTests.send(app, .POST, "api/v1/lab-sessions/\(secondID)/stop", as: try await app.bearer("student2@demo.test"))
        }
    }
}
