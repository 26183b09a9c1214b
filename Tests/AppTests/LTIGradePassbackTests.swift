// Grade passback (LTI AGS, issue 21) against the LMS stand-in of LTILaunchFlowTests, which here also answers the
// token endpoint (checking the tool's signed client assertion) and takes scores on a line item — with a 429 when told
// to be busy, and a refusal for a student it does not know. Grades reach the LMS only once published, through the
// outbox on the durable queue, always the current score, with honest progress; staff see each student's state and
// resend what the LMS refused.
import Fluent
import Foundation
import Identity
import JWTKit
import NIOConcurrencyHelpers
import NIOCore
import AsyncHTTPClient
import Testing
import Vapor
import VaporTesting
@testable import App

/// The LMS's grade book: its token endpoint (tokens per scope), a course's line item container (listing every item,
/// as an LMS may whatever `resource_id` asks, and making new ones) and each line item's scores.
final class LMSGradeBook: @unchecked Sendable {
    struct Item { var id: String; var resourceID: String?; var resourceLinkID: String?; var maximum: Double; var label: String }
    struct State {
        var assertions: [(form: [String: String], at: Date)] = []
        var posts: [(url: String, authorization: String?, score: [String: Any])] = []
        var busy = 0
        var refuse: String?
        /// Students (or line items) whose scores the LMS fails with a 500 (all of them: "*"), and the posts it failed.
        var failing: Set<String> = []
        var failed: [(path: String, student: String)] = []
        var tokens = 0
        var scopes: [String: String] = [:]
        var items: [Item] = [Item(id: LMSGradeBook.lineItem, resourceID: nil, resourceLinkID: "rl-seq", maximum: 10, label: "Sequences")]
        /// The container's queries, and the items it was asked to make.
        var listed: [String] = []
        var made: [[String: Any]] = []
        /// Items per page of the container's answer (all on one page when nil); the container fails with a 500 when set.
        var pageSize: Int?
        var containerDown = false
        /// How long a score post takes, the most posts in flight at once, and what runs as a post arrives.
        var delay: Duration = .zero
        var inFlight = 0, mostInFlight = 0
        var onPost: (@Sendable () async throws -> Void)?
    }
    let state = NIOLockedValueBox(State())
    static let tokenURL = "https://lms.test/token"
    static let container = "https://lms.test/ctx-1/lineitems"
    static let lineItem = "https://lms.test/ctx-1/lineitems/9"

    static func form(_ text: String) -> [String: String] {
        Dictionary(text.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }, uniquingKeysWith: { $1 })
    }

    static func json(_ status: HTTPResponseStatus, _ value: Any) throws -> HTTPClientResponse {
        HTTPClientResponse(status: status, headers: ["content-type": "application/json"], body: .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: value))))
    }

    /// The scope of the access token a request carries.
    func scope(_ request: HTTPClientRequest) -> String? {
        guard let authorization = request.headers.first(name: .authorization), authorization.hasPrefix("Bearer ") else { return nil }
        return state.withLockedValue { $0.scopes[String(authorization.dropFirst(7))] }
    }

    /// Answers the token endpoint, the container and the line items' scores; everything else goes to the LMS's key
    /// set as before.
    func install(on app: Application) {
        let before = app.identityHTTP
        app.identityHTTP = UpstreamClient { [self] request, timeout in
            var body = ByteBuffer()
            if let given = request.body { body = try await given.collect(upTo: 1 << 20) }
            if request.url == Self.tokenURL {
                let form = Self.form(String(buffer: body))
                let token = self.state.withLockedValue { state -> String in
                    state.assertions.append((form, Date()))
                    state.tokens += 1
                    state.scopes["tok-\(state.tokens)"] = form["scope"] ?? ""
                    return "tok-\(state.tokens)"
                }
                return try Self.json(.ok, ["access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form["scope"] ?? ""])
            }
            let path = request.url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.url
            if path == Self.container {
                let scope = scope(request)
                if request.method == .GET {
                    guard scope == LTIGradeSync.lineItemScope || scope == LTIGradeSync.lineItemReadScope,
                          request.headers.first(name: .accept) == "application/vnd.ims.lis.v2.lineitemcontainer+json" else { return HTTPClientResponse(status: .unauthorized) }
                    let page = Int(URLComponents(string: request.url)?.queryItems?.first { $0.name == "page" }?.value ?? "1") ?? 1
                    let (items, more, down) = state.withLockedValue { state in
                        state.listed.append(request.url)
                        let size = state.pageSize ?? max(1, state.items.count)
                        let shown = Array(state.items.dropFirst((page - 1) * size).prefix(size))
                        return (shown.map { item -> [String: Any] in
                            var value: [String: Any] = ["id": item.id, "scoreMaximum": item.maximum, "label": item.label]
                            if let id = item.resourceID { value["resourceId"] = id }
                            if let link = item.resourceLinkID { value["resourceLinkId"] = link }
                            return value
                        }, state.items.count > page * size, state.containerDown)
                    }
                    if down { return HTTPClientResponse(status: .internalServerError) }
                    var answer = try Self.json(.ok, items)
                    if more { answer.headers.add(name: "Link", value: "<\(Self.container)?page=\(page + 1)>; rel=\"next\"") }
                    return answer
                }
                guard request.method == .POST, scope == LTIGradeSync.lineItemScope,
                      request.headers.first(name: .contentType) == "application/vnd.ims.lis.v2.lineitem+json",
                      var item = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                      let maximum = item["scoreMaximum"] as? Double, maximum > 0, let label = item["label"] as? String else {
                    return HTTPClientResponse(status: .badRequest)
                }
                item["id"] = state.withLockedValue { state in
                    let id = "\(Self.container)/\(100 + state.made.count)"
                    state.made.append(item)
                    state.items.append(Item(id: id, resourceID: item["resourceId"] as? String, resourceLinkID: item["resourceLinkId"] as? String, maximum: maximum, label: label))
                    return id
                }
                return try Self.json(.created, item)
            }
            if path.hasSuffix("/scores"), state.withLockedValue({ $0.items.contains { $0.id + "/scores" == path } }) {
                let score = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
                let authorization = request.headers.first(name: .authorization)
                let scope = scope(request)
                let (delay, onPost) = state.withLockedValue { state in
                    state.inFlight += 1
                    state.mostInFlight = max(state.mostInFlight, state.inFlight)
                    return (state.delay, state.onPost)
                }
                defer { state.withLockedValue { $0.inFlight -= 1 } }
                try await onPost?()
                if delay > .zero { try await Task.sleep(for: delay) }
                return self.state.withLockedValue { state in
                    if state.busy > 0 {
                        state.busy -= 1
                        return HTTPClientResponse(status: .tooManyRequests, headers: ["retry-after": "7"])
                    }
                    guard request.headers.first(name: .contentType) == "application/vnd.ims.lis.v1.score+json", scope == LTIGradeSync.scoreScope else {
                        return HTTPClientResponse(status: .unauthorized)
                    }
                    if let refused = state.refuse, score["userId"] as? String == refused {
                        return HTTPClientResponse(status: .badRequest, body: .bytes(ByteBuffer(string: #"{"error": "user not in course"}"#)))
                    }
                    if state.failing.contains("*") || state.failing.contains(score["userId"] as? String ?? "") || state.failing.contains(String(path.dropLast(7))) {
                        state.failed.append((path, score["userId"] as? String ?? ""))
                        return HTTPClientResponse(status: .internalServerError, body: .bytes(ByteBuffer(string: "gradebook unavailable")))
                    }
                    state.posts.append((request.url, authorization, score))
                    return HTTPClientResponse(status: .ok)
                }
            }
            return try await before.send(request, timeout)
        }
    }

    var posts: [[String: Any]] { state.withLockedValue { $0.posts.map(\.score) } }
    /// The students whose scores reached `item`.
    func students(on item: String) -> [String] {
        state.withLockedValue { $0.posts.filter { $0.url == item + "/scores" }.compactMap { $0.score["userId"] as? String } }.sorted()
    }
}

extension LTILaunchFlowTests {
    @Test func publishedGradesReachTheLMSOneAtATimeWithHonestProgressAndWaitWhenAsked() async throws {
        try await withLMS { app, lms in
            let book = LMSGradeBook()
            book.install(on: app)
            let clock = MovableClock(app)
            let worker = JobWorker(app: app, name: "lti-test")

            let teacher = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor, email: "tess@uni.test")
            #expect(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner, email: "sam@uni.test").status == .seeOther)
            #expect(try await launch(app, lms, subject: "lms-student-2", roles: Self.learner, email: "lee@uni.test").status == .seeOther)
            let course = try #require(try await LTIContext.query(on: app.db).with(\.$course).first()).course
            let tess = try #require(try await User.query(on: app.db).filter(\.$email == "tess@uni.test").first())
            let sam = try #require(try await User.query(on: app.db).filter(\.$email == "sam@uni.test").first())
            let lee = try #require(try await User.query(on: app.db).filter(\.$email == "lee@uni.test").first())
            // A student of the course who never came through the LMS: the LMS does not know them, nothing is sent.
            let local = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
            try await CourseMember(courseID: course.requireID(), userID: local.requireID(), role: .student).create(on: app.db)
            var input = AssignmentInput()
            (input.title, input.kind, input.pointsPossible) = ("Sequences", "gradescope", 10)
            let assignment = try await Assignments.create(in: course, input, by: tess, on: app.db)
            let assignmentID = try assignment.requireID()

            // The LMS's link to it (made by deep linking) opened once, with its grade column and the score scope.
            let link = try await launch(app, lms, subject: "lms-teacher", roles: Self.instructor) { claims in
                claims.lti.resourceLink = .init(id: "rl-seq", title: "Sequences")
                claims.lti.custom = .init(["assignment_id": assignmentID.uuidString])
                claims.lti.gradeService = .init(scope: [LTIGradeSync.scoreScope], lineItems: "https://lms.test/ctx-1/lineitems", lineItem: LMSGradeBook.lineItem)
            }
            #expect(link.headers.first(name: .location) == "/assignments/\(assignmentID)")

            func handIn(_ user: User, score: Double?, status: SubmissionStatus = .graded, at: Date, attempt: Int = 1) async throws -> Submission {
                let submission = Submission()
                submission.$assignment.id = assignmentID
                submission.$user.id = try user.requireID()
                (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt) = (false, attempt, status, at)
                (submission.cpuMs, submission.wallMs, submission.charged, submission.runs, submission.score, submission.maxScore) = (0, 0, 0, 1, score, 10)
                try await submission.create(on: app.db)
                // What recording a result does, in its transaction.
                try await app.gradeChanged(.submission(try submission.requireID()), on: app.db)
                return submission
            }
            let handedIn = Date(timeIntervalSince1970: 1_800_000_000)
            let samWork = try await handIn(sam, score: 7, at: handedIn)
            _ = try await handIn(lee, score: 4, at: handedIn.addingTimeInterval(60))
            _ = try await handIn(local, score: 9, at: handedIn)
            #expect(try await LTIScorePost.query(on: app.db).count() == 0, "unpublished grades stay here")

            // Publishing (the page's form) gives the LMS's students one pending row each, and one job.
            let staff = try Browser(app)
            staff.cookie = session(teacher)
            try await staff.get("/assignments/\(assignmentID)")
            #expect(try await staff.post("/assignments/\(assignmentID)/publish", ["published": "true"]).status == .seeOther)
            let rows = try await LTIScorePost.query(on: app.db).all()
            #expect(Set(rows.map(\.subject)) == ["lms-student-1", "lms-student-2"] && rows.allSatisfy { $0.status == .pending })
            #expect(try await QueuedJob.query(on: app.db).filter(\.$kind == LTIGradeSync.kind).count() == 1)

            // The LMS is busy: the job waits its Retry-After, nothing is lost.
            book.state.withLockedValue { $0.busy = 1 }
            #expect(try await worker.runOnce())
            let waiting = try #require(try await QueuedJob.query(on: app.db).filter(\.$kind == LTIGradeSync.kind).first())
            #expect(waiting.status == .queued && abs(waiting.runAfter.timeIntervalSince(app.clock.now()) - 7) < 1.5, "\(waiting.runAfter)")
            #expect(book.posts.isEmpty)
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).count() == 2)
            #expect(try await worker.runOnce() == false, "not before the LMS's Retry-After")
            clock.advance(8)
            #expect(try await worker.runOnce())
            let posts = book.posts
            #expect(posts.count == 2)
            let samScore = try #require(posts.first { $0["userId"] as? String == "lms-student-1" })
            #expect(samScore["scoreGiven"] as? Double == 7 && samScore["scoreMaximum"] as? Double == 10)
            #expect(samScore["activityProgress"] as? String == "Completed" && samScore["gradingProgress"] as? String == "FullyGraded")
            #expect((samScore["submission"] as? [String: String])?["submittedAt"]?.hasPrefix("2027-01-15T08:00:00") == true, "the hand-in's time, not the post's")
            #expect(((samScore["timestamp"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) }).map { abs($0.timeIntervalSince(app.clock.now())) < 1 } == true)
            #expect(book.state.withLockedValue { $0.tokens } == 1, "one access token, kept across posts and the wait")
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .sent).count() == 2)

            // The token request: the client credentials grant with an assertion the tool signed, verified with its key set.
            let form = try #require(book.state.withLockedValue { $0.assertions.first?.form })
            #expect(form["grant_type"] == "client_credentials" && form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    && form["scope"] == LTIGradeSync.scoreScope)
            let keys = JWTKeyCollection()
            let published = try await app.testing().sendRequest(.GET, "/.well-known/jwks.json").body
            try await keys.add(jwks: try JSONDecoder().decode(JWKS.self, from: Data(published.readableBytesView)))
            let assertion = try await keys.verify(try #require(form["client_assertion"]), as: ClientAssertion.self)
            #expect(assertion.issuer == lms.clientID && assertion.subject == lms.clientID && assertion.audience == LMSGradeBook.tokenURL
                    && assertion.expires - assertion.issuedAt == 300 && assertion.id.count >= 16)

            // A later change is sent again, as the current score: an adjustment of 2 points.
            try await staff.get("/submissions/\(try samWork.requireID())")
            #expect(try await staff.post("/submissions/\(try samWork.requireID())/adjustments", ["points": "2", "comment": "regrade request"]).status == .seeOther)
            #expect(try await worker.runOnce())
            #expect(book.posts.last?["scoreGiven"] as? Double == 9 && book.posts.last?["userId"] as? String == "lms-student-1")
            // A new attempt still in grading: Pending, with no score (FullyGraded only when final).
            _ = try await handIn(sam, score: nil, status: .queued, at: handedIn.addingTimeInterval(3600), attempt: 2)
            #expect(try await worker.runOnce())
            let pending = try #require(book.posts.last)
            #expect(pending["gradingProgress"] as? String == "Pending" && pending["activityProgress"] as? String == "Submitted" && pending["scoreGiven"] == nil)

            // The LMS refuses a student: their row fails with its answer, for staff to see and resend.
            book.state.withLockedValue { $0.refuse = "lms-student-2" }
            #expect(try await staff.post("/assignments/\(assignmentID)/lms-scores/resend", ["failedOnly": "false"]).status == .seeOther)
            #expect(try await worker.runOnce())
            let refused = try #require(try await LTIScorePost.query(on: app.db).filter(\.$subject == "lms-student-2").first())
            #expect(refused.status == .failed && refused.lastError?.contains("user not in course") == true)
            let page = try await staff.get("/assignments/\(assignmentID)/lms-scores")
            #expect(page.status == .ok && page.body.string.contains("user not in course") && page.body.string.contains("failed"))
            // A student cannot see the page nor resend.
            let student = try Browser(app)
            student.cookie = session(try await launch(app, lms, subject: "lms-student-1", roles: Self.learner))
            #expect(try await student.get("/assignments/\(assignmentID)/lms-scores").status == .notFound)
            try await student.get("/dashboard")
            #expect(try await student.post("/assignments/\(assignmentID)/lms-scores/resend", [:]).status == .notFound)
            book.state.withLockedValue { $0.refuse = nil }
            try await staff.get("/assignments/\(assignmentID)/lms-scores")
            #expect(try await staff.post("/assignments/\(assignmentID)/lms-scores/resend", ["failedOnly": "true"]).status == .seeOther)
            #expect(try await worker.runOnce())
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$subject == "lms-student-2").first()?.status == .sent)
            #expect(book.posts.last?["userId"] as? String == "lms-student-2" && book.posts.last?["scoreGiven"] as? Double == 4)
            #expect(!book.posts.contains { ($0["userId"] as? String)?.hasPrefix("lms-") != true }, "nothing for a student the LMS does not know")
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$user.$id == local.requireID()).count() == 0)

            // Grades withdrawn before a pending score went out: it is kept back, and staff cannot push it.
            let before = book.posts.count
            #expect(try await staff.post("/assignments/\(assignmentID)/lms-scores/resend", ["failedOnly": "false"]).status == .seeOther)
            try await staff.get("/assignments/\(assignmentID)")
            #expect(try await staff.post("/assignments/\(assignmentID)/publish", ["published": "false"]).status == .seeOther)
            #expect(try await worker.runOnce())
            #expect(book.posts.count == before)
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .withheld).count() == 2)
            try await staff.get("/assignments/\(assignmentID)/lms-scores")
            let refusedResend = try await staff.post("/assignments/\(assignmentID)/lms-scores/resend", ["failedOnly": "false"])
            #expect(refusedResend.status == .unprocessableEntity && refusedResend.body.string.contains("Publish the grades first"))
            #expect(try await LTIScorePost.query(on: app.db).filter(\.$status == .withheld).count() == 2)
        }
    }
}
