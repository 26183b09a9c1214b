// Every role × every route, web and API. The table below is the platform's access rules written out; a route that
// is registered without a row here fails `everyRouteHasARow`, so new routes must say who may use them.
import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
import Ledger
@testable import App

@Suite struct AccessMatrixTests {
    enum Who: String, CaseIterable { case anonymous, partner, ta, instructor, admin, student }
    /// A server error never matches a row: every route must answer every role without failing.
    enum Outcome: Equatable { case allowed, signIn, notFound, unauthorized, serverError }

    /// Shorthands for rows.
    static func everyone(_ outcome: Outcome = .allowed) -> [Who: Outcome] { Dictionary(uniqueKeysWithValues: Who.allCases.map { ($0, outcome) }) }
    static func signedIn(_ allowed: Set<Who>, anonymous: Outcome) -> [Who: Outcome] {
        Dictionary(uniqueKeysWithValues: Who.allCases.map { who in
            (who, who == .anonymous ? anonymous : (allowed.contains(who) ? .allowed : .notFound))
        })
    }
    static let people: Set<Who> = [.partner, .ta, .instructor, .admin, .student]

    static let matrix: [String: [Who: Outcome]] = [
        "GET /": everyone(),
        "GET /healthz": everyone(),
        "GET /metrics": everyone(),
        "GET /signin": everyone(),
        "POST /signin": everyone(),
        "POST /signout": everyone(),
        "GET /set-password": everyone(),
        "POST /set-password": everyone(),
        "GET /dashboard": signedIn(people, anonymous: .signIn),
        "GET /profile": signedIn(people, anonymous: .signIn),
        "POST /profile/password": signedIn(people, anonymous: .signIn),
        "POST /profile/keys": signedIn(people, anonymous: .signIn),
        "POST /profile/keys/:keyID/revoke": signedIn([.student], anonymous: .signIn),
        "GET /programmes/:programmeID": signedIn([.partner, .admin], anonymous: .signIn),
        "POST /programmes/:programmeID": signedIn([.admin], anonymous: .signIn),
        "POST /programmes/:programmeID/courses": signedIn([.admin], anonymous: .signIn),
        "POST /programmes/:programmeID/projects": signedIn([.admin], anonymous: .signIn),
        "POST /programmes/:programmeID/members": signedIn([.admin], anonymous: .signIn),
        "POST /programmes/:programmeID/members/:userID/remove": signedIn([.admin], anonymous: .signIn),
        "POST /projects/:projectID": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /projects/:projectID/members": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /projects/:projectID/members/:userID/remove": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /courses/:courseID": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /courses/:courseID/members": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /courses/:courseID/members/:userID/remove": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /credits": signedIn(people, anonymous: .signIn),
        "POST /notices/:noticeID/read": signedIn([.student], anonymous: .signIn),
        "GET /programmes/:programmeID/credits": signedIn([.partner, .admin], anonymous: .signIn),
        "POST /programmes/:programmeID/credits/grants": signedIn([.admin], anonymous: .signIn),
        "POST /programmes/:programmeID/credits/allocations": signedIn([.admin], anonymous: .signIn),
        "GET /courses/:courseID/credits": signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        "POST /courses/:courseID/credits/default-allowance": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /courses/:courseID/credits/allowances": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /projects/:projectID/credits": signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /projects/:projectID/credits/default-allowance": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /projects/:projectID/credits/allowances": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /api/v1/me/notices": signedIn(people, anonymous: .unauthorized),
        "POST /api/v1/me/notices/:noticeID/read": signedIn([.student], anonymous: .unauthorized),
        "GET /admin/users": signedIn([.admin], anonymous: .signIn),
        "POST /admin/users": signedIn([.admin], anonymous: .signIn),
        "POST /admin/users/:userID": signedIn([.admin], anonymous: .signIn),
        "GET /admin/programmes": signedIn([.admin], anonymous: .signIn),
        "POST /admin/programmes": signedIn([.admin], anonymous: .signIn),
        "GET /api/v1/users": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/users": signedIn([.admin], anonymous: .unauthorized),
        "PATCH /api/v1/users/:userID": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/programmes": signedIn([.admin], anonymous: .unauthorized),
        "PATCH /api/v1/programmes/:programmeID": signedIn([.admin], anonymous: .unauthorized),
        "GET /api/v1/programmes/:programmeID/members": signedIn([.partner, .admin], anonymous: .unauthorized),
        "PUT /api/v1/programmes/:programmeID/members": signedIn([.admin], anonymous: .unauthorized),
        "DELETE /api/v1/programmes/:programmeID/members/:userID": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/programmes/:programmeID/courses": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/programmes/:programmeID/projects": signedIn([.admin], anonymous: .unauthorized),
        "PATCH /api/v1/courses/:courseID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/courses/:courseID/members": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "DELETE /api/v1/courses/:courseID/members/:userID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "PATCH /api/v1/projects/:projectID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/projects/:projectID/members": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "DELETE /api/v1/projects/:projectID/members/:userID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/programmes/:programmeID/credits": signedIn([.partner, .admin], anonymous: .unauthorized),
        "POST /api/v1/programmes/:programmeID/credits/grants": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/programmes/:programmeID/credits/allocations": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/programmes/:programmeID/credits/returns": signedIn([.admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/credits": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/courses/:courseID/credits/default-allowance": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/courses/:courseID/credits/allowances/:userID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/projects/:projectID/credits": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/projects/:projectID/credits/default-allowance": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/projects/:projectID/credits/allowances/:userID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/me/credits": signedIn(people, anonymous: .unauthorized),
        "POST /api/v1/credits/holds": signedIn(people, anonymous: .unauthorized),
        "POST /api/v1/credits/holds/:holdID/settle": signedIn([.student, .admin], anonymous: .unauthorized),
        "POST /api/v1/credits/holds/:holdID/void": signedIn([.student, .admin], anonymous: .unauthorized),
        "GET /api/v1/credits/accounts/:accountID/entries": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/credits/prices": signedIn(people, anonymous: .unauthorized),
        "GET /api/v1/credits/accounts/:accountID/statement.csv": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/programmes/:programmeID/credits/statement.csv": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/credits/prices": signedIn([.admin], anonymous: .unauthorized),
        "GET /projects/:projectID": signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        "GET /api/v1/programmes": signedIn(people, anonymous: .unauthorized),
        "GET /api/v1/programmes/:programmeID": signedIn([.partner, .admin], anonymous: .unauthorized),
        "GET /api/v1/projects/:projectID": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /courses/:courseID": signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /courses/:courseID/roster": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /courses/:courseID/roster.csv": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /api/v1/openapi.json": everyone(),
        "POST /api/v1/auth/token": everyone(),
        "GET /api/v1/me": signedIn(people, anonymous: .unauthorized),
        "GET /api/v1/me/keys": signedIn(people, anonymous: .unauthorized),
        "POST /api/v1/me/keys": signedIn(people, anonymous: .unauthorized),
        "DELETE /api/v1/me/keys/:keyID": signedIn([.student], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/courses": signedIn(people, anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/roster": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/courses/:courseID/roster": signedIn([.instructor, .admin], anonymous: .unauthorized),
        // Grading: members see released assignments and hand in (staff hand-ins are test runs); TAs grade; instructors manage.
        "POST /courses/:courseID/assignments": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /courses/:courseID/gradebook": signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        "GET /assignments/:assignmentID": signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /assignments/:assignmentID": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /assignments/:assignmentID/autograder": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /assignments/:assignmentID/submissions": signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /assignments/:assignmentID/regrade": signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        "POST /assignments/:assignmentID/publish": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /submissions/:submissionID": signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        "GET /submissions/:submissionID/files.zip": signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        "GET /courses/:courseID/grades": signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /submissions/:submissionID/regrade": signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        "POST /submissions/:submissionID/adjustments": signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        "GET /api/v1/courses/:courseID/assignments": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/courses/:courseID/assignments": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/assignments/:assignmentID": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "PATCH /api/v1/assignments/:assignmentID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/assignments/:assignmentID/autograder": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/assignments/:assignmentID/publish": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/assignments/:assignmentID/submissions": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/assignments/:assignmentID/submissions": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/assignments/:assignmentID/regrade": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/assignments/:assignmentID/regrade": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/submissions/:submissionID": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/submissions/:submissionID/files.zip": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/grades": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/submissions/:submissionID/regrade": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/submissions/:submissionID/adjustments": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/gradebook": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/gradebook/:userID": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/gradebook.csv": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        // The AI gateway: admins keep the catalogue; course members hold keys paid by their allowance; instructors
        // set the policy; staff see usage. /v1 answers only to gateway keys, never to sessions or platform tokens.
        // Research projects: members see the history and requests; the PI asks; programme managers decide.
        "POST /api/v1/projects/:projectID/status": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/projects/:projectID/job-network": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/projects/:projectID/history": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/projects/:projectID/allocation-requests": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/projects/:projectID/allocation-requests": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/allocation-requests/:requestID/decision": signedIn([.admin], anonymous: .unauthorized),
        "POST /projects/:projectID/status": signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /projects/:projectID/job-network": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /projects/:projectID/allocation-requests": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /allocation-requests/:requestID/decision": signedIn([.admin], anonymous: .signIn),
        "GET /admin/ai": signedIn([.admin], anonymous: .signIn),
        "POST /admin/ai/providers": signedIn([.admin], anonymous: .signIn),
        "POST /admin/ai/models": signedIn([.admin], anonymous: .signIn),
        "GET /courses/:courseID/ai": signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /courses/:courseID/ai/keys": signedIn([.student, .ta, .instructor], anonymous: .signIn),
        "POST /courses/:courseID/ai/policy": signedIn([.instructor, .admin], anonymous: .signIn),
        "POST /ai/keys/:keyID/revoke": signedIn([.student], anonymous: .signIn),
        "GET /api/v1/ai/providers": signedIn([.admin], anonymous: .unauthorized),
        "POST /api/v1/ai/providers": signedIn([.admin], anonymous: .unauthorized),
        "GET /api/v1/ai/models": signedIn(people, anonymous: .unauthorized),
        "POST /api/v1/ai/models": signedIn([.admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/ai/keys": signedIn([.student, .ta, .instructor], anonymous: .unauthorized),
        "POST /api/v1/courses/:courseID/ai/keys": signedIn([.student, .ta, .instructor], anonymous: .unauthorized),
        "DELETE /api/v1/ai/keys/:keyID": signedIn([.student], anonymous: .unauthorized),
        "GET /api/v1/projects/:projectID/ai/keys": signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        "POST /api/v1/projects/:projectID/ai/keys": signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/ai/policy": signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        "PUT /api/v1/courses/:courseID/ai/policy": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/ai/usage": signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/courses/:courseID/ai/usage/mine": signedIn([.student, .ta, .instructor], anonymous: .unauthorized),
        // Research jobs and outputs: the project's members run jobs and record outputs; whoever submitted a job (or
        // the PI, managers, admins) cancels it; the programme report is for the programme's managers and partners.
        "POST /projects/:projectID/jobs": signedIn([.partner, .ta, .instructor], anonymous: .signIn),
        "GET /jobs/:jobID": signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /jobs/:jobID/cancel": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /jobs/:jobID/outputs.zip": signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        "POST /projects/:projectID/outputs": signedIn([.partner, .ta, .instructor], anonymous: .signIn),
        "POST /projects/:projectID/outputs/:outputID/remove": signedIn([.instructor, .admin], anonymous: .signIn),
        "GET /programmes/:programmeID/report": signedIn([.partner, .admin], anonymous: .signIn),
        "GET /programmes/:programmeID/report.csv": signedIn([.partner, .admin], anonymous: .signIn),
        "POST /api/v1/projects/:projectID/jobs": signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        "GET /api/v1/projects/:projectID/jobs": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/jobs/:jobID": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/jobs/:jobID/logs": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/jobs/:jobID/outputs.zip": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/jobs/:jobID/cancel": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/projects/:projectID/outputs": signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        "POST /api/v1/projects/:projectID/outputs": signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        "DELETE /api/v1/projects/:projectID/outputs/:outputID": signedIn([.instructor, .admin], anonymous: .unauthorized),
        "GET /api/v1/programmes/:programmeID/report": signedIn([.partner, .admin], anonymous: .unauthorized),
        "GET /api/v1/programmes/:programmeID/report.csv": signedIn([.partner, .admin], anonymous: .unauthorized),
        "POST /v1/chat/completions": everyone(.unauthorized),
        "POST /v1/embeddings": everyone(.unauthorized),
        "GET /v1/models": everyone(.unauthorized),
    ]

    static func key(_ route: Route) -> String {
        "\(route.method.rawValue) /" + route.path.map(\.description).joined(separator: "/")
    }

    static func email(_ who: Who) -> String? {
        switch who {
        case .anonymous: nil
        case .partner: "mentor@partner.test"
        case .ta: "ta@demo.test"
        case .instructor: "instructor@demo.test"
        case .admin: "admin@demo.test"
        case .student: "student1@demo.test"
        }
    }

    @Test func everyRouteHasARow() async throws {
        try await withTestApp { app in
            let registered = Set(app.routes.all.map(Self.key))
            #expect(registered.subtracting(Self.matrix.keys).isEmpty, "routes without a row: \(registered.subtracting(Self.matrix.keys).sorted())")
            #expect(Set(Self.matrix.keys).subtracting(registered).isEmpty, "rows without a route: \(Set(Self.matrix.keys).subtracting(registered).sorted())")
        }
    }

    @Test func everyRoleGetsTheExpectedAnswerOnEveryRoute() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let courseID = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first()).requireID()
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
            let programmeID = try #require(try await Programme.query(on: app.db).first()).requireID()
            let projectID = try #require(try await ResearchProject.query(on: app.db).first()).requireID()
            // The person whom member and account routes act on: not one of the people making the requests.
            let otherID = try #require(try await User.query(on: app.db).filter(\.$email == "student30@demo.test").first()).requireID()
            // The student's allowance in CS101 (its statement is a route) and a hold the student made on it.
            let course = try #require(try await Course.find(courseID, on: app.db))
            let programme = try #require(try await Programme.find(programmeID, on: app.db))
            let ledger = app.ledger
            try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                      amount: Credits(whole: 10), memo: "matrix")
            try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                      amount: Credits(whole: 10), memo: "matrix")
            let allowance = try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 5), actor: nil)
            let holdID = try await ledger.reserve(allowance, amount: Credits(whole: 1), reason: "matrix", key: "matrix", actor: student.id, origin: .person).requireID()
            let accountID = try allowance.requireID()
            let notice = Notice(userID: try student.requireID(), kind: "test", message: "For the matrix.", link: nil, accountID: nil, threshold: nil, at: Date())
            try await notice.create(on: app.db)
            let noticeID = try notice.requireID()
            // An assignment of CS101 and a graded hand-in of the student's.
            let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
            var input = AssignmentInput()
            input.title = "Matrix"
            input.kind = "classroom"
            input.classroomTests = #"{"tests": [{"name": "t", "run": "true", "points": 1}]}"#
            let assignment = try await Assignments.create(in: course, input, by: instructor, on: app.db)
            let assignmentID = try assignment.requireID()
            let submission = Submission()
            submission.$assignment.id = assignmentID
            submission.$user.id = try student.requireID()
            (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt) = (false, 1, .graded, Date())
            (submission.cpuMs, submission.wallMs, submission.charged, submission.runs, submission.score) = (0, 0, 0, 1, 1)
            try await submission.create(on: app.db)
            let submissionID = try submission.requireID()
            let allocationRequest = AllocationRequest()
            allocationRequest.$project.id = projectID
            allocationRequest.$requestedBy.id = try instructor.requireID()
            (allocationRequest.kind, allocationRequest.amount, allocationRequest.periodEnd) = (.initial, 1_000_000, Date().addingTimeInterval(86_400 * 90))
            (allocationRequest.justification, allocationRequest.meters, allocationRequest.status, allocationRequest.createdAt) = ("matrix", "compute", .pending, Date())
            try await allocationRequest.create(on: app.db)
            let requestID = try allocationRequest.requireID()
            // A job of the PI's in the project (cancelling it is one of the routes).
            let job = ResearchJob()
            job.$project.id = projectID
            job.$submittedBy.id = try instructor.requireID()
            (job.name, job.command, job.network, job.wallSeconds, job.memoryMB, job.payFrom) = ("matrix", "true", false, 10, 256, .allowance)
            (job.status, job.cancelRequested, job.cpuMs, job.wallMs, job.charged, job.createdAt) = (.queued, false, 0, 0, 0, Date())
            try await job.create(on: app.db)
            let jobID = try job.requireID()
            var failures: [String] = []
            for route in app.routes.all {
                let key = Self.key(route)
                guard let row = Self.matrix[key] else { continue }  // reported by everyRouteHasARow
                for who in Who.allCases {
                    // A fresh key of the student's for each request: revoking it is one of the routes.
                    let keyID = try await APIKeys.issue(to: student, name: "matrix", kind: .personal, on: app.db).key.requireID()
                    let aiKeyID = key.contains("/ai/keys/") ? try await AIKeys.issue(to: student, in: course, name: "matrix", on: app.db).id : keyID
                    // A fresh output recorded by the PI for each request: removing it is one of the routes.
                    let project = try #require(try await ResearchProject.find(projectID, on: app.db))
                    let outputID = key.contains("/outputs/") ? try await ProjectOutputs.record(ProjectOutputInput(kind: "dataset", title: "Matrix"), in: project,
                                                                                                 by: instructor, on: app.db).requireID() : UUID()
                    let path = "/" + route.path.map { component -> String in
                        switch component.description {
                        case ":courseID": return courseID.uuidString
                        case ":programmeID": return programmeID.uuidString
                        case ":projectID": return projectID.uuidString
                        case ":keyID": return (key.contains("/ai/keys/") ? aiKeyID : keyID).uuidString
                        case ":userID": return otherID.uuidString
                        case ":holdID": return holdID.uuidString
                        case ":accountID": return accountID.uuidString
                        case ":noticeID": return noticeID.uuidString
                        case ":assignmentID": return assignmentID.uuidString
                        case ":submissionID": return submissionID.uuidString
                        case ":requestID": return requestID.uuidString
                        case ":jobID": return jobID.uuidString
                        case ":outputID": return outputID.uuidString
                        default: return component.description
                        }
                    }.joined(separator: "/")
                    let outcome = try await Self.request(app, route.method, path, as: who)
                    if outcome != row[who] { failures.append("\(key) as \(who): expected \(row[who]!), got \(outcome)") }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    /// One request as `who` (signed in through the web for pages, with a bearer token for the API), classified.
    static func request(_ app: Application, _ method: HTTPMethod, _ path: String, as who: Who) async throws -> Outcome {
        let status: HTTPResponseStatus, location: String?
        let api = path.hasPrefix("/api/") || path.hasPrefix("/v1/")
        if api {
            var headers = HTTPHeaders()
            if let email = email(who) {
                let token = try await app.testing().sendRequest(.POST, "api/v1/auth/token") { req in
                    try req.content.encode(["email": email, "password": "campuscloud-demo"], as: .json)
                }.content.decode(AuthController.TokenDTO.self).token
                headers.add(name: .authorization, value: "Bearer \(token)")
            }
            headers.contentType = .json
            let response = try await app.testing().sendRequest(method, path, headers: headers, body: method == .GET ? nil : ByteBuffer(string: "{}"))
            (status, location) = (response.status, nil)
        } else {
            let browser = try Browser(app)
            if let email = email(who) { try await browser.signIn(email) } else { try await browser.get("/signin") }
            let response = method == .GET ? try await browser.get(path) : try await browser.post(path, [:])
            (status, location) = (response.status, response.headers.first(name: .location))
        }
        switch status {
        case .notFound: return .notFound
        case .unauthorized where api: return .unauthorized
        case .seeOther where location?.hasPrefix("/signin") == true: return .signIn
        default: return status.code >= 500 ? .serverError : .allowed
        }
    }
}
