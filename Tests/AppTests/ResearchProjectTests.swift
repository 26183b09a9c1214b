// Research projects: the lifecycle and who may move it (audited), allocation requests approved in full, in part or
// denied, credits moved exactly, and an approval the pool cannot cover failing cleanly.
import Fluent
import Foundation
import Ledger
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct ResearchProjectTests {
    static func send(_ app: Application, _ method: HTTPMethod, _ path: String, as email: String, _ body: [String: Any]? = nil) async throws -> TestingHTTPResponse {
        var headers = try await app.bearer(email)
        headers.contentType = .json
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        return try await app.testing().sendRequest(method, path, headers: headers, body: data.map { ByteBuffer(data: $0) })
    }

    /// A new draft project in the demo programme: the instructor is its PI, the partner's mentor its mentor.
    static func draftProject(_ app: Application) async throws -> ResearchProject {
        let programme = try #require(try await Programme.query(on: app.db).first())
        let project = try await Places.createProject(in: programme, ProjectInput(title: "Cloud-scale grading", summary: "Study", status: nil), on: app.db)
        for (email, role) in [("instructor@demo.test", ProjectRole.pi), ("mentor@partner.test", .mentor)] {
            let user = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
            try await ProjectMember(projectID: try project.requireID(), userID: try user.requireID(), role: role).create(on: app.db)
        }
        return project
    }

    @Test func theLifecycleFollowsItsRulesAndIsAudited() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let project = try await Self.draftProject(app)
            let path = "api/v1/projects/\(try project.requireID())/status"
            #expect(try await Self.send(app, .POST, path, as: "student1@demo.test", ["status": "submitted"]).status == .notFound)
            #expect(try await Self.send(app, .POST, path, as: "mentor@partner.test", ["status": "submitted"]).status == .notFound)
            #expect(try await Self.send(app, .POST, path, as: "instructor@demo.test", ["status": "active"]).status == .conflict)
            #expect(try await Self.send(app, .POST, path, as: "instructor@demo.test", ["status": "submitted", "comment": "ready for review"]).status == .ok)
            // The PI cannot approve their own project; a manager must, and a rejection needs a reason.
            let selfApproval = try await Self.send(app, .POST, path, as: "instructor@demo.test", ["status": "active"])
            #expect(selfApproval.status == .forbidden && selfApproval.body.string.contains("managers"))
            #expect(try await Self.send(app, .POST, path, as: "admin@demo.test", ["status": "rejected"]).status == .unprocessableEntity)
            #expect(try await Self.send(app, .POST, path, as: "admin@demo.test", ["status": "active", "comment": "approved by the board"]).status == .ok)
            // Members see who changed what, when and why.
            let history = try await Self.send(app, .GET, "api/v1/projects/\(try project.requireID())/history", as: "mentor@partner.test")
            let changes = try history.content.decode([StatusChangeDTO].self)
            #expect(changes.map { "\($0.from)→\($0.to)" } == ["draft→submitted", "submitted→active"])
            #expect(changes.map(\.by) == ["Ines Instructor", "Ada Admin"] && changes[1].comment == "approved by the board")
            // The project form's status goes through the same rules.
            let patch = try await Self.send(app, .PATCH, "api/v1/projects/\(try project.requireID())", as: "instructor@demo.test", ["status": "archived"])
            #expect(patch.status == .conflict)
            #expect(try await ResearchProject.find(project.requireID(), on: app.db)?.status == "active")
        }
    }

    @Test func allocationRequestsMoveExactlyWhatIsApprovedOrNothing() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let project = try await Self.draftProject(app)
            let projectID = try project.requireID()
            let end = "2099-06-30"
            func ask(_ body: [String: Any]) async throws -> TestingHTTPResponse {
                try await Self.send(app, .POST, "api/v1/projects/\(projectID)/allocation-requests", as: "instructor@demo.test", body)
            }
            // A draft project cannot ask yet; bad requests list every problem.
            #expect(try await ask(["amount": "300", "periodEnd": end, "justification": "GPU hours", "meters": ["compute"]]).status == .unprocessableEntity)
            project.status = "active"
            try await project.save(on: app.db)
            let bad = try await ask(["amount": "-5", "periodEnd": "2001-01-01", "justification": "", "meters": ["gold"]])
            #expect(bad.status == .unprocessableEntity && bad.body.string.contains("amount") && bad.body.string.contains("meters"))
            #expect(try await Self.send(app, .POST, "api/v1/projects/\(projectID)/allocation-requests", as: "mentor@partner.test",
                                        ["amount": "1", "periodEnd": end, "justification": "x", "meters": ["ai"]]).status == .notFound)
            let first = try await ask(["amount": "300", "periodEnd": end, "justification": "GPU hours for the study", "meters": ["compute", "ai"]])
            #expect(first.status == .created, "\(first.body.string)")
            let firstID = try first.content.decode(AllocationRequestDTO.self).id

            let programme = try #require(try await Programme.query(on: app.db).first())
            let ledger = app.ledger
            let poolBefore = try await ledger.pool(of: programme).balance
            // The PI cannot decide; a manager approves part of it, with a comment.
            #expect(try await Self.send(app, .POST, "api/v1/allocation-requests/\(firstID)/decision", as: "instructor@demo.test", ["decision": "approve"]).status == .notFound)
            let partial = try await Self.send(app, .POST, "api/v1/allocation-requests/\(firstID)/decision", as: "admin@demo.test",
                                              ["decision": "approve", "amount": "120", "comment": "start with 120; ask again in March"])
            #expect(partial.status == .ok, "\(partial.body.string)")
            let decided = try partial.content.decode(AllocationRequestDTO.self)
            #expect(decided.status == "partial" && decided.approvedAmount == Credits(whole: 120) && decided.decidedBy == "Ada Admin")
            let allocation = try await ledger.allocation(of: .project(project))
            #expect(allocation.balance == Credits(whole: 120).micro)
            #expect(try await ledger.pool(of: programme).balance == poolBefore - Credits(whole: 120).micro)
            #expect(allocation.expiresAt.map { Calendar.current.component(.year, from: $0) } == 2099)
            // Decided once only.
            #expect(try await Self.send(app, .POST, "api/v1/allocation-requests/\(firstID)/decision", as: "admin@demo.test", ["decision": "approve"]).status == .conflict)
            // A supplement linked to the first, denied with a reason; one larger than the pool fails and moves nothing.
            let supplement = try await ask(["amount": "50", "periodEnd": end, "justification": "more AI tokens", "meters": ["ai"], "follows": firstID.uuidString])
            #expect(supplement.status == .created)
            let supplementDTO = try supplement.content.decode(AllocationRequestDTO.self)
            #expect(supplementDTO.kind == "supplement" && supplementDTO.follows == firstID)
            #expect(try await Self.send(app, .POST, "api/v1/allocation-requests/\(supplementDTO.id)/decision", as: "admin@demo.test", ["decision": "deny"]).status == .unprocessableEntity)
            #expect(try await Self.send(app, .POST, "api/v1/allocation-requests/\(supplementDTO.id)/decision", as: "admin@demo.test",
                                        ["decision": "deny", "comment": "the budget is spent this term"]).status == .ok)
            let huge = try await ask(["amount": "1000000", "periodEnd": end, "justification": "everything", "meters": ["compute"]])
            let hugeID = try huge.content.decode(AllocationRequestDTO.self).id
            let refused = try await Self.send(app, .POST, "api/v1/allocation-requests/\(hugeID)/decision", as: "admin@demo.test", ["decision": "approve"])
            #expect(refused.status == .conflict)
            #expect(try await AllocationRequest.find(hugeID, on: app.db)?.status == .pending)
            #expect(try await ledger.allocation(of: .project(project)).balance == Credits(whole: 120).micro)
            // Every decision is visible to the project's members, the mentor included.
            let listed = try await Self.send(app, .GET, "api/v1/projects/\(projectID)/allocation-requests", as: "mentor@partner.test")
            let requests = try listed.content.decode([AllocationRequestDTO].self)
            #expect(requests.map(\.status) == ["partial", "denied", "pending"])
            #expect(requests[1].decisionComment == "the budget is spent this term")
            #expect(try await Self.send(app, .GET, "api/v1/projects/\(projectID)/allocation-requests", as: "student1@demo.test").status == .notFound)
        }
    }

    @Test func thePIAndAManagerDoItAllOnTheProjectPage() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let project = try await Self.draftProject(app)
            let path = "/projects/\(try project.requireID())"
            let pi = try Browser(app)
            try await pi.signIn("instructor@demo.test")
            #expect(try await pi.get(path).body.string.contains("No status changes yet."))
            #expect(try await pi.post(path + "/status", ["status": "submitted", "comment": "please review"]).status == .seeOther)
            #expect(try await pi.post(path + "/status", ["status": "active"]).status == .forbidden)  // a manager's step
            let manager = try Browser(app)
            try await manager.signIn("admin@demo.test")
            try await manager.get(path)
            #expect(try await manager.post(path + "/status", ["status": "active", "comment": "welcome aboard"]).status == .seeOther)
            try await pi.get(path)
            #expect(try await pi.post(path + "/allocation-requests", ["amount": "80", "periodEnd": "2099-01-31", "justification": "benchmarks",
                                                                      "compute": "on"]).status == .seeOther)
            let request = try #require(try await AllocationRequest.query(on: app.db).filter(\.$project.$id == project.requireID()).first())
            try await manager.get(path)
            #expect(try await manager.post("/allocation-requests/\(try request.requireID())/decision",
                                           ["decision": "approve", "amount": "50", "comment": "half now"]).status == .seeOther)
            let page = try await pi.get(path).body.string
            #expect(page.contains("welcome aboard") && page.contains("partial") && page.contains("half now"))
            #expect(try await app.ledger.allocation(of: .project(project)).balance == Credits(whole: 50).micro)
            #expect(try await pi.post("/allocation-requests/\(try request.requireID())/decision", ["decision": "approve"]).status == .notFound)
        }
    }
}
