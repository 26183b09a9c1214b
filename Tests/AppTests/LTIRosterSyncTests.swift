// Roster sync (LTI NRPS, issue 21) against the LMS stand-in of LTILaunchFlowTests, which here also answers the token
// endpoint and serves its roster in pages linked by `Link: rel="next"`. A launch queues a read; members listed get
// accounts and roles; students who are no longer listed have left (kept, not let in) until they come back; a roster
// read only in part changes nothing; the nightly sweep reads stale rosters again.
import AsyncHTTPClient
import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import NIOCore
import Testing
import Vapor
import VaporTesting
@testable import App

/// The LMS's roster: two pages, and its token endpoint.
final class LMSRoster: @unchecked Sendable {
    struct State {
        var pages: [[[String: Any]]] = [[], []]
        var failSecondPage = false
        var requests: [(url: String, accept: String?, authorization: String?)] = []
        var scopes: [String] = []
        /// Runs as a page (1 or 2) is asked for, before it is answered.
        var onPage: (@Sendable (Int) async throws -> Void)?
    }
    let state = NIOLockedValueBox(State())
    static let roster = "https://lms.test/ctx-1/memberships"

    func install(on app: Application) {
        let before = app.identityHTTP
        app.identityHTTP = UpstreamClient { [self] request, timeout in
            if request.url == "https://lms.test/token" {
                var body = ByteBuffer()
                if let given = request.body { body = try await given.collect(upTo: 1 << 20) }
                state.withLockedValue { $0.scopes.append(LMSGradeBook.form(String(buffer: body))["scope"] ?? "") }
                return HTTPClientResponse(status: .ok, headers: ["content-type": "application/json"],
                                          body: .bytes(ByteBuffer(string: #"{"access_token": "roster-token", "expires_in": 3600}"#)))
            }
            if request.url.hasPrefix(Self.roster) {
                let second = request.url.hasSuffix("page=2")
                try await state.withLockedValue { $0.onPage }?(second ? 2 : 1)
                let (members, fail) = state.withLockedValue { state in
                    state.requests.append((request.url, request.headers.first(name: .accept), request.headers.first(name: .authorization)))
                    return (state.pages[second ? 1 : 0], state.failSecondPage && second)
                }
                if fail { return HTTPClientResponse(status: .internalServerError) }
                var headers: HTTPHeaders = ["content-type": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"]
                if !second { headers.add(name: "Link", value: #"<\#(Self.roster)?page=2>; rel="next", <\#(Self.roster)?page=2>; rel="last""#) }
                let body = try JSONSerialization.data(withJSONObject: ["id": Self.roster, "members": members])
                return HTTPClientResponse(status: .ok, headers: headers, body: .bytes(ByteBuffer(data: body)))
            }
            return try await before.send(request, timeout)
        }
    }

    static func member(_ subject: String, _ roles: [String], email: String? = nil, name: String? = nil, status: String = "Active") -> [String: Any] {
        var member: [String: Any] = ["user_id": subject, "roles": roles, "status": status]
        if let email { member["email"] = email }
        if let name { member["name"] = name }
        return member
    }
}

extension LTILaunchFlowTests {
    @Test func theRosterComesPageByPageAndThoseWhoLeftAreKeptButNotLetIn() async throws {
        try await withLMS { app, lms in
            let roster = LMSRoster()
            roster.install(on: app)
            let clock = MovableClock(app)
            let worker = JobWorker(app: app, name: "roster-test")
            func withRoster(_ claims: inout TokenClaims) { claims.lti.rosterService = .init(membershipsURL: LMSRoster.roster) }

            let teacher = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test", change: withRoster)
            #expect(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner, email: "sam@uni.test", change: withRoster).status == .seeOther)
            let lee = try await launch(app, lms, subject: "lms-student-2", roles: Self.learner, email: "lee@uni.test", change: withRoster)
            let context = try #require(try await LTIContext.query(on: app.db).with(\.$course).first())
            let courseID = try context.course.requireID()
            // A student the course's staff added (who has no place in the LMS's roster): theirs, never marked as left.
            let local = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
            try await CourseMember(courseID: courseID, userID: local.requireID(), role: .student).create(on: app.db)
            #expect(context.membershipsURL == LMSRoster.roster)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LTIRosterSync.kind).count() == 1, "one read queued, not one per launch")

            // Lee and Sam each have a terminal running in the course's lab (on a host that is gone: finished here).
            let tess = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
            var labInput = LabInput()
            (labInput.name, labInput.kind, labInput.openTo) = ("Shell", "terminal", "students")
            let lab = try await LabEnvironments.create(in: context.course, labInput, by: tess, at: Date(), writes: app.writes)
            var labSessions: [String: UUID] = [:]
            for email in ["lee@uni.test", "sam@uni.test"] {
                let user = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
                let running = LabSession()
                (running.$lab.id, running.$user.id, running.status, running.host) = (try lab.requireID(), try user.requireID(), .running, "gone-host")
                (running.heldFrom, running.heldSeconds, running.holds, running.charged) = (Date(), 1_800, 0, 0)
                (running.startedAt, running.endsAt, running.seenAt) = (Date(), Date().addingTimeInterval(7_200), Date())
                (running.cpuMillis, running.memoryMB) = (lab.cpuMillis, lab.memoryMB)
                try await running.create(on: app.db)
                labSessions[email] = try running.requireID()
            }

            let learner = LMSStandIn.membership + "#Learner"
            roster.state.withLockedValue { state in
                state.pages = [[LMSRoster.member("lms-teacher", [LMSStandIn.membership + "#Instructor"]),
                                LMSRoster.member("lms-student-1", [learner], email: "sam@uni.test")],
                               [LMSRoster.member("lms-new", [learner], email: "nia@uni.test", name: "Nia New"),
                                LMSRoster.member("lms-ta", [LMSStandIn.membership + "#Instructor", LMSStandIn.membership + "/Instructor#TeachingAssistant"],
                                                 email: "tara@uni.test"),
                                LMSRoster.member("lms-gone", [learner], email: "gone@uni.test", status: "Inactive")]]
            }
            #expect(try await worker.runOnce())
            let requests = roster.state.withLockedValue { $0.requests }
            #expect(requests.map(\.url) == [LMSRoster.roster, LMSRoster.roster + "?page=2"], "every page, following rel=next")
            #expect(requests.allSatisfy { $0.accept == "application/vnd.ims.lti-nrps.v2.membershipcontainer+json" && $0.authorization == "Bearer roster-token" })
            #expect(roster.state.withLockedValue { $0.scopes } == [LTIRosterSync.scope])
            func member(_ email: String) async throws -> CourseMember? {
                guard let user = try await User.query(on: app.db).filter(\.$email == email).first() else { return nil }
                return try await CourseMember.query(on: app.db).filter(\.$course.$id == courseID).filter(\.$user.$id == user.requireID()).first()
            }
            #expect(try await member("nia@uni.test")?.role == .student)
            #expect(try await User.query(on: app.db).filter(\.$email == "nia@uni.test").first()?.displayName == "Nia New")
            #expect(try await member("tara@uni.test")?.role == .ta)
            #expect(try await member("gone@uni.test") == nil, "an inactive member is not added")
            #expect(try await member("sam@uni.test")?.leftAt == nil)
            #expect(try await member("tess@uni.test")?.leftAt == nil)
            #expect(try await member("lee@uni.test")?.leftAt != nil, "no longer listed: left")
            #expect(try await member("student1@demo.test")?.leftAt == nil, "added by the course's staff: not the LMS's to remove")
            #expect(try await LTIContext.find(context.requireID(), on: app.db)?.rosterSyncedAt != nil)
            // Lee's terminal is stopped with the reason; Sam's runs on.
            let leesLab = try #require(try await LabSession.find(try #require(labSessions["lee@uni.test"]), on: app.db))
            #expect(leesLab.status == .stopped && leesLab.stopReason?.contains("no longer in this course") == true, "\(leesLab.status)")
            #expect(try await LabSession.find(try #require(labSessions["sam@uni.test"]), on: app.db)?.status == .running)

            // Lee is kept (the roster shows them as having left) but no longer let in.
            let leeCookie = try #require(session(lee))
            #expect(try await app.testing().sendRequest(.GET, "/courses/\(courseID)", headers: ["cookie": leeCookie]).status == .notFound)
            let page = try await app.testing().sendRequest(.GET, "/courses/\(courseID)", headers: ["cookie": try #require(session(teacher))])
            #expect(page.status == .ok && page.body.string.contains("left the LMS course"))
            // Back in the LMS course, back in: their next launch lets them in again.
            let back = try await launch(app, lms, subject: "lms-student-2", roles: Self.learner, change: withRoster)
            #expect(try await member("lee@uni.test")?.leftAt == nil)
            #expect(try await app.testing().sendRequest(.GET, "/courses/\(courseID)", headers: ["cookie": try #require(session(back))]).status == .ok)

            // A roster with no one active changes nothing; an instructor missing from the roster is never marked.
            roster.state.withLockedValue { state in
                state.pages = [[LMSRoster.member("lms-student-1", [learner], status: "Inactive")], []]
            }
            try await LTIRosterSync.queue(context.requireID(), on: app.db, now: app.clock.now())
            #expect(try await worker.runOnce())
            #expect(try await member("sam@uni.test")?.leftAt == nil)
            #expect(try await member("nia@uni.test")?.leftAt == nil)
            roster.state.withLockedValue { state in
                state.pages = [[LMSRoster.member("lms-student-1", [learner], email: "sam@uni.test")], []]
            }
            try await LTIRosterSync.queue(context.requireID(), on: app.db, now: app.clock.now())
            #expect(try await worker.runOnce())
            #expect(try await member("tess@uni.test")?.leftAt == nil, "instructors are never marked")
            #expect(try await member("nia@uni.test")?.leftAt != nil)

            // A roster read only in part changes nothing: Sam is missing from page one, page two fails.
            roster.state.withLockedValue { state in
                state.pages[0] = [LMSRoster.member("lms-teacher", [LMSStandIn.membership + "#Instructor"])]
                state.failSecondPage = true
            }
            try await LTIRosterSync.queue(context.requireID(), on: app.db, now: app.clock.now())
            #expect(try await worker.runOnce())
            #expect(try await member("sam@uni.test")?.leftAt == nil)
            let retry = try #require(try await QueuedJob.query(on: app.db).filter(\.$kind == LTIRosterSync.kind).filter(\.$status == .queued).first())
            #expect(retry.runAfter > app.clock.now(), "tried again later")

            // Nightly: a roster not read for a day is read again.
            try await retry.delete(on: app.db)
            clock.advance(86_400 + 60)
            try await LTIRosterSync.sweep(app)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LTIRosterSync.kind).filter(\.$status == .queued).count() == 1)
        }
    }

    @Test func someoneWhoLaunchesWhileTheRosterIsReadIsNotMarkedAsHavingLeft() async throws {
        try await withLMS { app, lms in
            let roster = LMSRoster()
            roster.install(on: app)
            @Sendable func withRoster(_ claims: inout TokenClaims) { claims.lti.rosterService = .init(membershipsURL: LMSRoster.roster) }
            _ = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test", change: withRoster)
            _ = try await launch(app, lms, subject: "lms-student-1", roles: Self.learner, email: "sam@uni.test", change: withRoster)
            _ = try await launch(app, lms, subject: "lms-student-2", roles: Self.learner, email: "lee@uni.test", change: withRoster)
            let courseID = try #require(try await LTIContext.query(on: app.db).first()).$course.id
            let learner = LMSStandIn.membership + "#Learner"
            // The roster was made before Nia joined the LMS course and lists neither her nor Lee; while its second page
            // is on its way, Nia (new) and Lee (back) launch.
            roster.state.withLockedValue { state in
                state.pages = [[LMSRoster.member("lms-teacher", [LMSStandIn.membership + "#Instructor"])],
                               [LMSRoster.member("lms-student-1", [learner], email: "sam@uni.test")]]
                state.onPage = { page in
                    guard page == 2 else { return }
                    _ = try await launch(app, lms, subject: "lms-late", roles: Self.learner, email: "nia@uni.test", change: withRoster)
                    _ = try await launch(app, lms, subject: "lms-student-2", roles: Self.learner, change: withRoster)
                }
            }
            #expect(try await JobWorker(app: app, name: "roster-test").runOnce())
            func left(_ email: String) async throws -> Date?? {
                guard let user = try await User.query(on: app.db).filter(\.$email == email).first() else { return nil }
                return try await CourseMember.query(on: app.db).filter(\.$course.$id == courseID).filter(\.$user.$id == user.requireID()).first().map(\.leftAt)
            }
            #expect(try await left("nia@uni.test") == .some(nil), "launched during the read: in")
            #expect(try await left("lee@uni.test") == .some(nil), "launched during the read: in")
            #expect(try await left("sam@uni.test") == .some(nil))

            // The next read, with nobody launching, marks those the LMS no longer lists.
            roster.state.withLockedValue { $0.onPage = nil }
            try await LTIRosterSync.queue(try #require(try await LTIContext.query(on: app.db).first()).requireID(), on: app.db, now: app.clock.now())
            #expect(try await JobWorker(app: app, name: "roster-test").runOnce())
            let (nia, lee) = (try await left("nia@uni.test"), try await left("lee@uni.test"))
            #expect(nia.flatMap { $0 } != nil && lee.flatMap { $0 } != nil)
        }
    }

    @Test func applyingARosterCostsTheSameStatementsForFiveMembersAsForTwentyFive() async throws {
        // The count is read from SQLite's query log; PostgreSQL runs the same code.
        guard !TestDatabase.isPostgres else { return }
        let counter = StatementCounter()
        try await withLMS(statements: counter) { app, lms in
            _ = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test")
            let context = try #require(try await LTIContext.query(on: app.db).with(\.$course).with(\.$registration).first())
            func roster(_ count: Int) throws -> [LTIRosterSync.Member] {
                let members = (1...count).map { LMSRoster.member("lms-s\($0)", [LMSStandIn.membership + "#Learner"], email: "s\($0)@uni.test") }
                return try JSONDecoder().decode([LTIRosterSync.Member].self, from: JSONSerialization.data(withJSONObject: members))
            }
            func apply(_ members: [LTIRosterSync.Member]) async throws -> LTIRosterSync.Summary {
                try await LTIRosterSync.apply(members, to: context, registration: context.registration, writes: app.writes, readAt: app.clock.now(), now: app.clock.now())
            }
            #expect(try await apply(roster(5)).added == 5)
            var summary = LTIRosterSync.Summary()
            let five = try await counter.count { summary = try await apply(roster(5)) }
            #expect(summary == .init(listed: 5, added: 0, left: 0, skipped: 0))
            #expect(try await apply(roster(25)).added == 20)
            let twentyFive = try await counter.count { summary = try await apply(roster(25)) }
            #expect(summary == .init(listed: 25, added: 0, left: 0, skipped: 0))
            #expect(five > 0 && five == twentyFive, "\(five) statements for 5, \(twentyFive) for 25: \(counter.statements)")
            // Five leave: one statement marks them all.
            let leaving = try await counter.count { summary = try await apply(roster(20)) }
            #expect(summary.left == 5 && leaving == twentyFive + 1, "\(leaving): \(counter.statements)")
        }
    }

    @Test func linkHeadersAreReadAsRFC8288Says() {
        func next(_ value: String) -> String? { LTIRosterSync.nextPage(["Link": value]) }
        #expect(next(#"<https://lms.test/m?page=2&per_page=50>; rel="next", <https://lms.test/m?page=9>; rel="last""#) == "https://lms.test/m?page=2&per_page=50")
        #expect(next(#"<https://lms.test/m?page=1>; rel="first", <https://lms.test/m?a=1,2>; rel="prev next""#) == "https://lms.test/m?a=1,2")
        #expect(next(#"<https://lms.test/m?page=9>; rel=last"#) == nil)
        #expect(next(#"<https://lms.test/m?page=3>; title="a, b"; rel=NEXT"#) == "https://lms.test/m?page=3")
    }
}
