// Holds the platform opens (hand-ins, regrades, research jobs) belong to the platform: the people they are for
// find the hold's id in their statement and try to close it through the API before the run is settled — the
// attack answers 404 and writes nothing, and the run is charged its usage. A hold that is closed before its run's
// settle anyway (it expired) never makes the run free: the usage is charged from the free credits, the rest
// recorded as debt, and the staff are told. (The AI lease case is in AIGatewayTests.)
import Fluent
import Foundation
import Ledger
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct PlatformHoldsTests {
    static func post(_ app: Application, _ path: String, as email: String, _ json: [String: String] = [:]) async throws -> TestingHTTPResponse {
        var headers = try await app.bearer(email)
        headers.contentType = .json
        return try await app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: json)))
    }

    /// Tries every way a person could close the hold through the API; each must answer 404 and leave it open.
    static func attack(_ app: Application, hold: UUID, as emails: [String]) async throws {
        for email in emails {
            #expect(try await post(app, "api/v1/credits/holds/\(hold)/void", as: email).status == .notFound)
            #expect(try await post(app, "api/v1/credits/holds/\(hold)/settle", as: email, ["amount": "0"]).status == .notFound)
        }
        #expect(try await LedgerHold.find(hold, on: app.db)?.status == .open)
    }

    static func allowance(_ app: Application, _ email: String, course: String = "CS101") async throws -> LedgerAccount {
        let user = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
        return try await app.ledger.allowance(of: user, in: .course(try await app.course(course)))
    }

    static func classroomAssignment(_ app: Application) async throws -> UUID {
        try await GradingFlowTests.createAssignment(app, [
            "title": "Hello", "kind": "classroom", "requiredFiles": "hello.py", "classroomTests": """
                {"tests": [{"name": "hello", "setup": "", "run": "python3 hello.py", "input": "", "output": "Hello", "comparison": "included", "timeout": 5, "points": 1}]}
                """,
        ])
    }

    @Test func aStudentCannotCloseTheHoldOfTheirHandInOrAStaffRegradeAndTheRunIsCharged() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let assignmentID = try await Self.classroomAssignment(app)
            let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer("student3@demo.test"))
            #expect(handIn.status == .created, "\(handIn.body.string)")
            let submissionID = try handIn.content.decode(SubmissionDTO.self).id
            let before = try await Self.allowance(app, "student3@demo.test")
            // The student reads the hand-in's hold id from their own statement, as the attack did.
            let statement = try await app.testing().sendRequest(.GET, "api/v1/credits/accounts/\(try before.requireID())/entries",
                                                               headers: try await app.bearer("student3@demo.test"))
            let reserve = try #require(try statement.content.decode(Page<EntryDTO>.self).items.first { $0.kind == .reserve })
            let holdID = try #require(reserve.holdID)
            // The student, and even an admin, cannot close it: 404, nothing written.
            let entries = try await LedgerEntry.query(on: app.db).count()
            try await Self.attack(app, hold: holdID, as: ["student3@demo.test", "admin@demo.test"])
            #expect(try await LedgerEntry.query(on: app.db).count() == entries)

            try await app.drainGradingQueue()
            let graded = try #require(try await Submission.find(submissionID, on: app.db))
            #expect(graded.status == .graded && graded.charged > 0, "\(graded.problem ?? "")")
            let after = try await Self.allowance(app, "student3@demo.test")
            let closed = try #require(try await LedgerHold.find(holdID, on: app.db))
            #expect(after.spent - before.spent == graded.charged && after.held == before.held - closed.amount)
            #expect(closed.status == .settled)

            // A regrade's hold (charged to the course, opened by the instructor's action) is the platform's too.
            let regrade = try await Self.post(app, "api/v1/submissions/\(submissionID)/regrade", as: "instructor@demo.test")
            #expect(regrade.status == .ok || regrade.status == .accepted, "\(regrade.body.string)")
            let regradeHold = try #require(try await LedgerHold.query(on: app.db).filter(\.$idempotencyKey == "submission:\(submissionID):run:2").first())
            #expect(regradeHold.origin == .platform)
            try await Self.attack(app, hold: try regradeHold.requireID(), as: ["instructor@demo.test", "student3@demo.test", "admin@demo.test"])
            try await app.drainGradingQueue()
            let regraded = try #require(try await Submission.find(submissionID, on: app.db))
            #expect(regraded.charged > graded.charged)
            #expect(try await LedgerHold.find(regradeHold.requireID(), on: app.db)?.status == .settled)
        }
    }

    @Test func aPersonsOwnHoldIsStillTheirsToClose() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let courseID = try await app.course("CS101").requireID().uuidString
            let held = try await Self.post(app, "api/v1/credits/holds", as: "student4@demo.test", ["courseID": courseID, "amount": "1", "reason": "my script"])
            #expect(held.status == .created, "\(held.body.string)")
            let hold = try held.content.decode(HoldDTO.self)
            #expect(try await LedgerHold.find(hold.id, on: app.db)?.origin == .person)
            // Without a key, a second request is a second hold (no shared default key).
            let again = try await Self.post(app, "api/v1/credits/holds", as: "student4@demo.test", ["courseID": courseID, "amount": "1", "reason": "my script"])
            #expect(try again.content.decode(HoldDTO.self).id != hold.id)
            #expect(try await Self.post(app, "api/v1/credits/holds/\(hold.id)/void", as: "student5@demo.test").status == .notFound)
            #expect(try await Self.post(app, "api/v1/credits/holds/\(hold.id)/void", as: "student4@demo.test").status == .ok)
            // A key sent again with other values is refused with 409, not answered with the first hold.
            let keyed = ["courseID": courseID, "amount": "1", "reason": "keyed", "idempotencyKey": "k1"]
            #expect(try await Self.post(app, "api/v1/credits/holds", as: "student4@demo.test", keyed).status == .created)
            #expect(try await Self.post(app, "api/v1/credits/holds", as: "student4@demo.test", keyed).status == .created)
            var other = keyed
            other["amount"] = "2"
            let reused = try await Self.post(app, "api/v1/credits/holds", as: "student4@demo.test", other)
            #expect(reused.status == .conflict && reused.body.string.contains("already used with different values"))
        }
    }

    @Test func aResearchJobsHoldCannotBeClosedByItsMemberAndTheJobIsCharged() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let response = try await ResearchJobTests.submit(app, as: "ta@demo.test", ["name": "free ride", "command": "echo hi", "wallSeconds": "30"])
            #expect(response.status == .created, "\(response.body.string)")
            let jobID = try response.content.decode(ResearchJobDTO.self).id
            let holdID = try #require(try await ResearchJob.find(jobID, on: app.db)?.holdID)
            try await Self.attack(app, hold: holdID, as: ["ta@demo.test", "instructor@demo.test", "admin@demo.test"])
            let before = try await ResearchJobTests.allowance(app)
            try await app.drainGradingQueue()
            let done = try await ResearchJobTests.job(app, jobID)
            #expect(done.status == "succeeded" && done.charged.micro > 0)
            let after = try await ResearchJobTests.allowance(app)
            #expect(after.spent - before.spent == done.charged.micro && after.held == 0)
        }
    }

    @Test func aRunWhoseHoldExpiredIsChargedFromFreeCreditsThenAsDebtAndStaffAreTold() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let assignmentID = try await Self.classroomAssignment(app)
            var submissions: [UUID] = []
            for email in ["student5@demo.test", "student6@demo.test"] {
                let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: try await app.bearer(email))
                #expect(handIn.status == .created, "\(handIn.body.string)")
                submissions.append(try handIn.content.decode(SubmissionDTO.self).id)
            }
            // Both holds expire before any worker runs (a long queue): the sweep voids them.
            try await LedgerHold.query(on: app.db).filter(\.$status == .open).set(\.$expiresAt, to: Date().addingTimeInterval(-1)).update()
            #expect(try await app.ledger.expire().holds >= 2)
            // Student 6 has spent everything else meanwhile: their free balance goes back to the course.
            let broke = try await Self.allowance(app, "student6@demo.test")
            try await app.ledger.transfer(.return, from: broke, to: try await app.ledger.allocation(of: .course(try await app.course("CS101"))),
                                          amount: Credits(micro: broke.balance), memo: "test: spent elsewhere")
            let paying = try await Self.allowance(app, "student5@demo.test")
            let noticesBefore = try await Notice.query(on: app.db).filter(\.$kind == "credits_overdue").count()

            try await app.drainGradingQueue()
            let first = try #require(try await Submission.find(submissions[0], on: app.db))
            let second = try #require(try await Submission.find(submissions[1], on: app.db))
            #expect(first.status == .graded && first.charged > 0 && second.status == .graded && second.charged > 0)
            // Student 5 pays from their free credits: never "charged 0".
            let paid = try await Self.allowance(app, "student5@demo.test")
            #expect(paid.spent - paying.spent == first.charged && paid.balance == paying.balance - first.charged && paid.debt == 0)
            // Student 6 had nothing free: the whole run is recorded as debt on the allowance.
            let owing = try await Self.allowance(app, "student6@demo.test")
            #expect(owing.debt == second.charged && owing.balance == 0)
            let kinds = try await LedgerEntry.query(on: app.db).filter(\.$holdID ~~ [first.holdID!, second.holdID!]).all().map(\.kind)
            #expect(kinds.contains(.charge) && kinds.contains(.debt))
            // The same use settled again charges nothing twice.
            let again = try await app.ledger.settleUse(try #require(first.holdID), usage: first.charged, memo: "again")
            let afterAgain = try await Self.allowance(app, "student5@demo.test")
            #expect(again.charged == first.charged && afterAgain.spent == paid.spent)
            // The instructor and the managers are told, once per run; the student's statement shows the debt.
            let notices = try await Notice.query(on: app.db).filter(\.$kind == "credits_overdue").all()
            #expect(notices.count - noticesBefore >= 4)
            let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
            #expect(notices.contains { $0.$user.id == instructor.id && $0.message.contains("recorded as debt") })
            let place = try await app.testing().sendRequest(.GET, "api/v1/courses/\(try await app.course("CS101").requireID())/credits",
                                                           headers: try await app.bearer("instructor@demo.test"))
            let student6 = try #require(try await User.query(on: app.db).filter(\.$email == "student6@demo.test").first())
            #expect(try place.content.decode(PlaceCreditsDTO.self).members.first { $0.userID == student6.id }?.balance?.debt == Credits(micro: second.charged))
        }
    }
}
