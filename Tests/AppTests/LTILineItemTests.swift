// Grade passback's harder cases (issue 21): an assignment whose line item no launch named is found in the LMS
// course's line item container by its resource id, or made there for a link the LMS gave no column; a score that
// keeps failing waits on its own while the others go; an LMS that looks down makes the whole job wait; switching an
// LMS off stops a running job between posts; and two workers never post one LMS's scores at once, each score once.
import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import Testing
import Vapor
import VaporTesting
@testable import App

extension LTILaunchFlowTests {
    /// A course made by an instructor's launch that names the line item container with `scope`, its students
    /// launched, an assignment per title (points as given, `rl-<n>` links opened by the instructor where asked), a
    /// graded hand-in per student and assignment.
    struct GradedCourse {
        var course: Course
        var teacher: TestingHTTPResponse
        var assignments: [Assignment]
        var students: [String]
    }

    func gradedCourse(_ app: Application, _ lms: LMSStandIn, scope: String = LTIGradeSync.lineItemScope, students count: Int,
                      assignments: [(title: String, points: Double, linked: Bool)]) async throws -> GradedCourse {
        let service = LTIClaims.GradeService(scope: [LTIGradeSync.scoreScope, scope], lineItems: LMSGradeBook.container)
        let teacher = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test") { $0.lti.gradeService = service }
        var students: [String] = []
        for n in 1...count {
            #expect(try await launch(app, lms, subject: "lms-student-\(n)", roles: Self.learner, email: "s\(n)@uni.test").status == .seeOther)
            students.append("lms-student-\(n)")
        }
        let course = try #require(try await LTIContext.query(on: app.db).with(\.$course).first()).course
        let tess = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
        var made: [Assignment] = []
        for (index, wanted) in assignments.enumerated() {
            var input = AssignmentInput()
            (input.title, input.kind, input.pointsPossible) = (wanted.title, "gradescope", wanted.points)
            let assignment = try await Assignments.create(in: course, input, by: tess, on: app.db)
            let id = try assignment.requireID()
            if wanted.linked {
                // A link the LMS gave no column: its launch names the container and no line item.
                let landed = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor) { claims in
                    claims.lti.resourceLink = .init(id: "rl-\(index)", title: wanted.title)
                    claims.lti.custom = .init(["assignment_id": id.uuidString])
                    claims.lti.gradeService = service
                }
                #expect(landed.headers.first(name: .location) == "/assignments/\(id)")
            }
            for n in 1...count {
                let user = try #require(try await User.query(on: app.db).filter(\.$email == "s\(n)@uni.test").first())
                let submission = Submission()
                submission.$assignment.id = id
                submission.$user.id = try user.requireID()
                (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt) = (false, 1, .graded, Date(timeIntervalSince1970: 1_800_000_000))
                (submission.cpuMs, submission.wallMs, submission.charged, submission.runs) = (0, 0, 0, 1)
                (submission.score, submission.maxScore) = (Double(n), wanted.points)
                try await submission.create(on: app.db)
                try await app.gradeChanged(.submission(try submission.requireID()), on: app.db)
            }
            made.append(assignment)
        }
        return GradedCourse(course: course, teacher: teacher, assignments: made, students: students)
    }

    func publish(_ assignment: Assignment, _ published: Bool = true, app: Application) async throws {
        try await Assignments.publishGrades(assignment, published, app: app, on: app.db)
    }

    @Test func lineItemsNoLaunchNamedAreFoundByResourceIDOrMadeForALinkAndTheirScoresFollow() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            let worker = JobWorker(app: app, name: "lti-test")
            let course = try await gradedCourse(app, lms, students: 2, assignments: [("Deep linked, never opened", 10, false),
                                                                                    ("Linked, no column", 20, true), ("Not in the LMS", 5, false)])
            let (deep, linked, absent) = (course.assignments[0], course.assignments[1], course.assignments[2])
            // The LMS made a column for the first by deep linking (resource id: the assignment's), but nobody opened it.
            book.state.withLockedValue { $0.items.append(.init(id: LMSGradeBook.container + "/a", resourceID: try! deep.requireID().uuidString.lowercased(),
                                                                  resourceLinkID: "rl-deep", maximum: 10, label: "Deep linked")) }
            #expect(try await LTILineItem.query(on: app.db).count() == 0, "nothing is looked for before grades are published")

            for assignment in course.assignments { try await publish(assignment, app: app) }
            #expect(try await LTILineItem.query(on: app.db).filter(\.$lookedUpAt == nil).count() == 3)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LTIGradeSync.kind).count() == 1)
            #expect(try await worker.runOnce())

            // Found by resource id (the container lists every item; only the one naming the assignment is taken).
            let listed = book.state.withLockedValue { $0.listed }
            #expect(listed.count == 3 && listed.allSatisfy { $0.hasPrefix(LMSGradeBook.container + "?resource_id=") })
            #expect(book.students(on: LMSGradeBook.container + "/a") == course.students)
            // Made for the link the LMS gave no column, with the assignment's points, and the scores went there.
            let made = try #require(book.state.withLockedValue { $0.made.first })
            #expect(book.state.withLockedValue { $0.made.count } == 1)
            let linkedID = try linked.requireID().uuidString.lowercased()
            #expect(made["scoreMaximum"] as? Double == 20 && made["label"] as? String == "Linked, no column" && made["resourceLinkId"] as? String == "rl-1"
                    && (made["resourceId"] as? String)?.lowercased() == linkedID)
            #expect(book.students(on: LMSGradeBook.container + "/100") == course.students)
            let scores = book.state.withLockedValue { $0.posts.filter { $0.url == LMSGradeBook.container + "/100/scores" }.map(\.score) }
            #expect(scores.allSatisfy { $0["scoreMaximum"] as? Double == 20 })
            // Not in the LMS and not linked: nothing made, nothing sent, and not looked for again at every run.
            let miss = try #require(try await LTILineItem.query(on: app.db).filter(\.$assignment.$id == absent.requireID()).first())
            #expect(miss.url == nil && miss.lookedUpAt != nil)
            #expect(book.posts.count == 4)
            try await JobWorker.sweep(app)
            #expect(try await worker.runOnce() == false)
            #expect(book.state.withLockedValue { $0.listed.count } == 3)

            // A later grade change goes to the line items found, without looking again.
            let submission = try #require(try await Submission.query(on: app.db).filter(\.$assignment.$id == deep.requireID()).first())
            submission.score = 9
            try await submission.save(on: app.db)
            try await app.gradeChanged(.submission(try submission.requireID()), on: app.db)
            #expect(try await worker.runOnce())
            #expect(book.posts.last?["scoreGiven"] as? Double == 9 && book.state.withLockedValue { $0.listed.count } == 3)

            // Once the instructor adds the third to the LMS, publishing again finds it.
            book.state.withLockedValue { $0.items.append(.init(id: LMSGradeBook.container + "/c", resourceID: try! absent.requireID().uuidString,
                                                                  resourceLinkID: nil, maximum: 5, label: "Not in the LMS")) }
            try await publish(absent, false, app: app)
            try await publish(absent, app: app)
            #expect(try await worker.runOnce())
            #expect(book.students(on: LMSGradeBook.container + "/c") == course.students)
            #expect(book.state.withLockedValue { $0.made.count } == 1, "a found item is never made twice")

            // Grades published before the instructor put the assignment in the LMS: the new link's first launch looks
            // again at once, and makes its column; later launches of it do not look again within the hour.
            let tess = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
            var input = AssignmentInput()
            (input.title, input.kind, input.pointsPossible) = ("Added later", "gradescope", 8)
            let later = try await Assignments.create(in: course.course, input, by: tess, on: app.db)
            try await publish(later, app: app)
            #expect(try await worker.runOnce())
            #expect(book.state.withLockedValue { $0.listed.count } == 5)
            for _ in 0..<2 {
                _ = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor) { claims in
                    claims.lti.resourceLink = .init(id: "rl-later", title: "Added later")
                    claims.lti.custom = .init(["assignment_id": try! later.requireID().uuidString])
                    claims.lti.gradeService = .init(scope: [LTIGradeSync.scoreScope, LTIGradeSync.lineItemScope], lineItems: LMSGradeBook.container)
                }
                _ = try await worker.runOnce()
            }
            let added = try #require(book.state.withLockedValue { $0.made.last })
            #expect(added["resourceLinkId"] as? String == "rl-later" && added["scoreMaximum"] as? Double == 8)
            #expect(book.state.withLockedValue { ($0.listed.count, $0.made.count) } == (6, 2))
        }
    }

    @Test func theContainerIsReadPageByPageAndALookThatFailsBacksOffOnItsOwn() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            let clock = MovableClock(app)
            let worker = JobWorker(app: app, name: "lti-test")
            let course = try await gradedCourse(app, lms, students: 1, assignments: [("Deep linked, on page 3", 10, true)])
            let assignment = course.assignments[0]
            // The LMS lists every item whatever resource_id asks, two a page; the assignment's is on the third page.
            book.state.withLockedValue { state in
                state.pageSize = 2
                for n in 0..<4 { state.items.append(.init(id: LMSGradeBook.container + "/x\(n)", resourceID: "other-\(n)", resourceLinkID: nil, maximum: 5, label: "Other")) }
                state.items.append(.init(id: LMSGradeBook.container + "/mine", resourceID: try! assignment.requireID().uuidString, resourceLinkID: "rl-0", maximum: 10, label: "Mine"))
                state.containerDown = true
            }
            // First the container fails: the look backs off (30 s), and the sweep leaves it until then.
            try await publish(assignment, app: app)
            #expect(try await worker.runOnce())
            let item = try #require(try await LTILineItem.query(on: app.db).first())
            #expect(item.url == nil && item.lookedUpAt == nil && item.attempts == 1)
            #expect(abs((item.retryAt ?? .distantPast).timeIntervalSince(app.clock.now()) - 30) < 1)
            try await JobWorker.sweep(app)
            #expect(try await worker.runOnce() == false, "not looked for again before its time")
            book.state.withLockedValue { $0.containerDown = false }
            clock.advance(31)
            try await JobWorker.sweep(app)
            #expect(try await worker.runOnce())
            // Found on its page (following rel=next), none made, and the score went there.
            let listed = book.state.withLockedValue { $0.listed }
            #expect(listed.count == 4 && listed.last == LMSGradeBook.container + "?page=3", "\(listed)")
            #expect(book.state.withLockedValue { $0.made.isEmpty })
            #expect(book.students(on: LMSGradeBook.container + "/mine") == course.students)
        }
    }

    @Test func theLMSsAccessTokenGoesOnlyToItsOwnServiceHost() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            let worker = JobWorker(app: app, name: "lti-test")
            let registrationID = try #require(try await LTIRegistration.query(on: app.db).first()).requireID()
            // A first launch naming services on two hosts pins nothing, and its addresses are not kept.
            _ = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test") { claims in
                claims.lti.gradeService = .init(scope: [LTIGradeSync.scoreScope, LTIGradeSync.lineItemScope], lineItems: LMSGradeBook.container)
                claims.lti.rosterService = .init(membershipsURL: "https://other.test/memberships")
            }
            #expect(try await LTIRegistration.find(registrationID, on: app.db)?.serviceHosts == "")
            let first = try #require(try await LTIContext.query(on: app.db).first())
            #expect(first.lineItemsURL == nil && first.membershipsURL == nil)
            // The first launch naming a service on one host pins it.
            let course = try await gradedCourse(app, lms, students: 1, assignments: [("Linked, no column", 20, true)])
            #expect(try await LTIRegistration.find(registrationID, on: app.db)?.serviceHosts == "lms.test")
            // A launch (forged with the LMS's leaked key, say) naming services elsewhere: those addresses are not kept.
            let assignmentID = try course.assignments[0].requireID()
            _ = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor) { claims in
                claims.lti.resourceLink = .init(id: "rl-evil", title: "Evil")
                claims.lti.custom = .init(["assignment_id": assignmentID.uuidString])
                claims.lti.gradeService = .init(scope: [LTIGradeSync.scoreScope, LTIGradeSync.lineItemScope], lineItems: "https://evil.test/lineitems",
                                                lineItem: "https://evil.test/lineitems/1")
                claims.lti.rosterService = .init(membershipsURL: "https://evil.test/memberships")
            }
            let context = try #require(try await LTIContext.query(on: app.db).first())
            #expect(context.lineItemsURL == LMSGradeBook.container && context.membershipsURL == nil)
            #expect(try await LTIResourceLink.query(on: app.db).filter(\.$resourceLinkID == "rl-evil").first()?.lineItemURL == nil)
            // A line item address on another host, however it got there, is refused without a token going out.
            let link = try #require(try await LTIResourceLink.query(on: app.db).filter(\.$resourceLinkID == "rl-evil").first())
            link.lineItemURL = "https://elsewhere.test/lineitems/2"
            try await link.save(on: app.db)
            try await publish(course.assignments[0], app: app)
            while try await worker.runOnce() {}
            let refused = try #require(try await LTIScorePost.query(on: app.db).filter(\.$lineItemURL == "https://elsewhere.test/lineitems/2").first())
            #expect(refused.status == .failed && refused.lastError?.contains("not one of Canvas's service hosts") == true)
            #expect(book.posts.isEmpty)
            // An administrator lists the hosts (a school reached under two names); empty is learnt again.
            let changed = try await register(app, ["serviceHosts": "lms.test, elsewhere.test"], path: "api/v1/lti/registrations/\(registrationID)", method: .PATCH)
            let hosts = try changed.content.decode(LTIRegistrationDTO.self).serviceHosts
            #expect(changed.status == .ok && hosts == ["lms.test", "elsewhere.test"])
            let bad = try await register(app, ["serviceHosts": "https://x.test/path"], path: "api/v1/lti/registrations/\(registrationID)", method: .PATCH)
            #expect(bad.status == .unprocessableEntity)
            // Not known (cleared, or a registration from before hosts were kept): no call goes out until a launch pins them.
            #expect(try await register(app, ["serviceHosts": ""], path: "api/v1/lti/registrations/\(registrationID)", method: .PATCH).status == .ok)
            let tokens = book.state.withLockedValue { $0.tokens }
            try await publish(course.assignments[0], false, app: app)
            try await publish(course.assignments[0], app: app)
            while try await worker.runOnce() {}
            let waiting = try #require(try await LTIScorePost.query(on: app.db).filter(\.$lineItemURL == "https://elsewhere.test/lineitems/2").first())
            #expect(waiting.status == .pending && waiting.lastError?.contains("not known yet") == true)
            #expect(book.state.withLockedValue { $0.tokens } == tokens && book.posts.isEmpty)
        }
    }

    @Test func withOnlyReadAccessToLineItemsNoneIsMade() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            let course = try await gradedCourse(app, lms, scope: LTIGradeSync.lineItemReadScope, students: 1, assignments: [("Linked, no column", 20, true)])
            try await publish(course.assignments[0], app: app)
            #expect(try await JobWorker(app: app, name: "lti-test").runOnce())
            let (listed, made) = book.state.withLockedValue { ($0.listed.count, $0.made.count) }
            #expect(listed == 1 && made == 0)
            #expect(book.posts.isEmpty)
        }
    }

    @Test func aFailingScoreWaitsOnItsOwnAnLMSThatLooksDownWaitsWholeAndSwitchingOffStopsBetweenPosts() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            let clock = MovableClock(app)
            let worker = JobWorker(app: app, name: "lti-test")
            let course = try await gradedCourse(app, lms, students: 4, assignments: [("Linked, no column", 20, true), ("Second", 10, true), ("Third", 10, true)])
            let assignment = course.assignments[0]
            func row(_ subject: String) async throws -> LTIScorePost {
                try #require(try await LTIScorePost.query(on: app.db).filter(\.$subject == subject).filter(\.$assignment.$id == assignment.requireID()).first())
            }
            func job() async throws -> QueuedJob? {
                try await QueuedJob.query(on: app.db).filter(\.$kind == LTIGradeSync.kind).filter(\.$status == .queued).first()
            }

            // One student's score fails (a 500): the other three go, theirs backs off on its own row.
            book.state.withLockedValue { $0.failing = ["lms-student-2"] }
            try await publish(assignment, app: app)
            #expect(try await worker.runOnce())
            #expect(book.posts.count == 3 && !book.posts.contains { $0["userId"] as? String == "lms-student-2" })
            var failing = try await row("lms-student-2")
            #expect(failing.status == .pending && failing.attempts == 1 && failing.lastError?.contains("500") == true)
            #expect(abs((failing.retryAt ?? .distantPast).timeIntervalSince(app.clock.now()) - 10) < 1)
            let staff = try Browser(app)
            staff.cookie = session(course.teacher)
            let page = try await staff.get("/assignments/\(try assignment.requireID())/lms-scores")
            #expect(page.body.string.contains("pending (tried again") && page.body.string.contains("500"), "staff see the row waiting and why")
            let next = try #require(try await job())
            #expect(abs(next.runAfter.timeIntervalSince(app.clock.now()) - 10) < 1, "the job comes back when the row is due")
            #expect(try await worker.runOnce() == false)
            clock.advance(11)
            #expect(try await worker.runOnce())
            failing = try await row("lms-student-2")
            #expect(failing.attempts == 2 && abs((failing.retryAt ?? .distantPast).timeIntervalSince(app.clock.now()) - 20) < 1, "backing off")
            book.state.withLockedValue { $0.failing = [] }
            clock.advance(21)
            #expect(try await worker.runOnce())
            failing = try await row("lms-student-2")
            #expect(failing.status == .sent && failing.attempts == 0 && failing.retryAt == nil)
            #expect(book.posts.count == 4)

            // A new score while a row backs off goes at once: the job queued for that row's turn is brought forward.
            func submission(of email: String) async throws -> Submission {
                let user = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
                return try #require(try await Submission.query(on: app.db).filter(\.$assignment.$id == assignment.requireID())
                    .filter(\.$user.$id == user.requireID()).first())
            }
            book.state.withLockedValue { $0.failing = ["lms-student-2"] }
            try await app.gradeChanged(.submission(try await submission(of: "s2@uni.test").requireID()), on: app.db)
            #expect(try await worker.runOnce())
            #expect(try await row("lms-student-2").retryAt != nil)
            #expect(try await worker.runOnce() == false)
            try await app.gradeChanged(.submission(try await submission(of: "s1@uni.test").requireID()), on: app.db)
            #expect(try await worker.runOnce(), "not held back by the other row's wait")
            #expect(book.posts.count == 5 && book.posts.last?["userId"] as? String == "lms-student-1")
            book.state.withLockedValue { $0.failing = [] }
            clock.advance(3600)
            while try await worker.runOnce() {}
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).count() == 0)

            // The LMS fails everything: after three line items in a row the whole job waits, and the rest are not
            // tried (one line item failing only backs its own rows off).
            book.state.withLockedValue { $0.failing = ["*"] }
            try await publish(course.assignments[1], app: app)
            try await publish(course.assignments[2], app: app)
            #expect(try await staff.post("/assignments/\(try assignment.requireID())/lms-scores/resend", ["failedOnly": "false"]).status == .seeOther)
            #expect(try await worker.runOnce())
            let rows = try await LTIScorePost.query(on: app.db).all()
            let tried = rows.filter { $0.attempts == 1 }, untried = rows.filter { $0.attempts == 0 && $0.status == .pending }
            #expect(rows.count == 12 && Set(tried.map(\.lineItemURL)).count == 3 && tried.count <= 9 && untried.count >= 3, "\(tried.count) tried")
            let waiting = try #require(try await job())
            #expect(waiting.runAfter > app.clock.now().addingTimeInterval(5) && waiting.error?.contains("500") == true)

            // Switched off while posting: the post under way finishes, the rest wait.
            let sentBefore = book.posts.count
            book.state.withLockedValue { state in
                state.failing = []
                state.onPost = { try await LTIRegistration.query(on: app.db).set(\.$enabled, to: false).update() }
            }
            clock.advance(60)
            #expect(try await worker.runOnce())
            #expect(book.posts.count == sentBefore + 1)
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).count() == 11)
            _ = try await worker.runOnce()
            #expect(book.posts.count == sentBefore + 1, "nothing is sent while it is off")
        }
    }

    @Test func aRetiredDeploymentsCoursesGetNoMoreScoresNorRosterReads() async throws {
        try await withLMS { app, lms in
            // The roster first: the grade book's token endpoint answers in front of it.
            let roster = LMSRoster()
            roster.install(on: app)
            let book = LMSGradeBook()
            book.install(on: app)
            let worker = JobWorker(app: app, name: "lti-test")
            let course = try await gradedCourse(app, lms, students: 2, assignments: [("Linked, no column", 20, true), ("Later", 10, true)])
            try await publish(course.assignments[0], app: app)
            #expect(try await worker.runOnce())
            #expect(book.posts.count == 2)
            let context = try #require(try await LTIContext.query(on: app.db).first())
            context.membershipsURL = LMSRoster.roster
            try await context.save(on: app.db)
            // A score waiting when the deployment is retired is dropped with it.
            let submission = try #require(try await Submission.query(on: app.db).filter(\.$assignment.$id == course.assignments[0].requireID()).first())
            try await app.gradeChanged(.submission(try submission.requireID()), on: app.db)
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).count() == 1)

            let registration = try #require(try await LTIRegistration.query(on: app.db).first()).requireID()
            let retired = try await register(app, ["removeDeploymentIDs": lms.deployment], path: "api/v1/lti/registrations/\(registration)", method: .PATCH)
            #expect(retired.status == .ok)
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).count() == 0)
            try await publish(course.assignments[1], app: app)
            try await app.gradeChanged(.submission(try submission.requireID()), on: app.db)
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).count() == 0)
            #expect(try await LTILineItem.query(on: app.db).count() == 0, "nothing to look for")
            // Staff sending everything again sends nothing to the retired LMS course.
            let staff = try Browser(app)
            staff.cookie = session(course.teacher)
            try await staff.get("/assignments/\(try course.assignments[0].requireID())/lms-scores")
            _ = try await staff.post("/assignments/\(try course.assignments[0].requireID())/lms-scores/resend", ["failedOnly": "false"])
            while try await worker.runOnce() {}
            #expect(book.posts.count == 2 && book.state.withLockedValue { $0.listed.count } == 1)
            // Its roster is not read: not by the sweep, nor by a job queued before.
            try await LTIRosterSync.sweep(app)
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LTIRosterSync.kind).filter(\.$status == .queued).count() == 0)
            try await LTIRosterSync.queue(context.requireID(), on: app.db, now: app.clock.now())
            #expect(try await worker.runOnce())
            #expect(roster.state.withLockedValue { $0.requests.isEmpty })
        }
    }

    @Test func aLineItemThatKeepsFailingBacksOffWholeAfterTwoStudentsWhileTheOthersGo() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            let worker = JobWorker(app: app, name: "lti-test")
            let course = try await gradedCourse(app, lms, students: 5, assignments: [("Dead column", 10, true), ("Live column", 10, true)])
            for assignment in course.assignments { try await publish(assignment, app: app) }
            // The first made column (the first assignment's) answers 500 to every score.
            book.state.withLockedValue { $0.failing = [LMSGradeBook.container + "/100"] }
            #expect(try await worker.runOnce())
            let failed = book.state.withLockedValue { $0.failed }
            #expect(failed.count == 2 && failed.allSatisfy { $0.path == LMSGradeBook.container + "/100/scores" }, "two tries, not five: \(failed)")
            #expect(book.students(on: LMSGradeBook.container + "/101") == course.students, "the other column's scores all went")
            let dead = try await LTIScorePost.query(on: app.db).filter(\.$lineItemURL == LMSGradeBook.container + "/100").all()
            #expect(dead.count == 5 && dead.allSatisfy { $0.status == .pending && $0.retryAt != nil })
            #expect(try await worker.runOnce() == false, "the whole column waits")
        }
    }

    @Test func twoWorkersNeverPostOneLMSsScoresAtOnceAndEachScoreGoesOnce() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            book.state.withLockedValue { $0.delay = .milliseconds(20) }
            let course = try await gradedCourse(app, lms, students: 6, assignments: [("Linked, no column", 20, true), ("Second", 10, true)])
            for assignment in course.assignments { try await publish(assignment, app: app) }
            // A second job for the same LMS, as a race between two changes could queue.
            try await JobQueue.enqueue(LTIGradeSync.kind, payload: try JobQueue.encode(LTIGradeSync.Payload(registration: try #require(
                try await LTIRegistration.query(on: app.db).first()).requireID())), maxAttempts: 1000, at: app.clock.now(), on: app.db)
            let (first, second) = (JobWorker(app: app, name: "lti-a"), JobWorker(app: app, name: "lti-b"))
            for _ in 0..<20 {
                async let a = first.runOnce()
                async let b = second.runOnce()
                let (ranA, ranB) = try await (a, b)
                if !ranA && !ranB {
                    let pending = try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).count()
                    let looks = try await LTILineItem.query(on: app.db).filter(\.$lookedUpAt == nil).count()
                    guard pending + looks > 0 else { break }
                    // Both jobs left the posting to each other: the sweep queues one again.
                    try await JobWorker.sweep(app)
                }
            }
            #expect(book.state.withLockedValue { $0.mostInFlight } == 1, "one post at a time per LMS")
            let posted = book.state.withLockedValue { $0.posts.map { "\($0.url) \($0.score["userId"] as? String ?? "")" } }
            #expect(posted.count == 12 && Set(posted).count == 12, "each score once: \(posted.sorted())")
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .sent).count() == 12)
        }
    }
}
