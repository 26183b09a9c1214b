// Credits on the pages and as notices: the manager's burn-down and forms, the instructor's view of who is near
// their cap, the student's balance and history, the partner's totals, and 80%/100% alerts recorded once.
import Testing
import Foundation
import Fluent
import Ledger
import Vapor
import VaporTesting
@testable import App

@Suite struct CreditsPageTests {
    /// 100 granted, 40 allocated to CS101 with a default allowance of 10; student1 has spent `spent`.
    static func scenario(_ app: Application, spent: Credits) async throws -> (Programme, Course, User) {
        try await app.loadDemoData()
        let programme = try #require(try await Programme.query(on: app.db).first())
        let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first())
        let student = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
        let ledger = app.ledger
        try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                  amount: Credits(whole: 100), memo: "grant")
        try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                  amount: Credits(whole: 40), memo: "CS101")
        _ = try await ledger.setDefaultAllowance(in: .course(course), to: Credits(whole: 10), actor: nil)
        let allowance = try await ledger.allowance(of: student, in: .course(course))
        let hold = try await ledger.reserve(allowance, amount: spent, reason: "autograder run", key: "page-test")
        _ = try await ledger.settle(hold.requireID(), actual: spent)
        return (programme, course, student)
    }

    @Test func alertsAt80And100PercentAreRecordedOnceForThePeopleWhoCanAct() async throws {
        try await withTestApp { app in
            let (_, course, student) = try await Self.scenario(app, spent: Credits.parse("8.5")!)
            #expect(try await LedgerAlerts.scan(on: app.db) == 1)
            #expect(try await LedgerAlerts.scan(on: app.db) == 0)
            let notices = try await Notice.query(on: app.db).all()
            #expect(notices.map(\.message) == ["Your allowance in CS101 is 80% used (8.5 of 10 credits). Your instructor or PI can raise it."])
            #expect(notices.first?.$user.id == student.id)
            // The student uses it up; then the course allocation (40) crosses 80% through other students' use.
            let ledger = app.ledger
            let allowance = try await ledger.allowance(of: student, in: .course(course))
            _ = try await ledger.settle(try await ledger.reserve(allowance, amount: Credits.parse("1.5")!, reason: "run", key: "more").requireID(),
                                        actual: Credits.parse("1.5")!)
            for (index, amount) in [(2, 10), (3, 10), (4, 2)] as [(Int, Int64)] {
                let other = try #require(try await User.query(on: app.db).filter(\.$email == "student\(index)@demo.test").first())
                let account = try await ledger.allowance(of: other, in: .course(course))
                _ = try await ledger.settle(try await ledger.reserve(account, amount: Credits(whole: amount), reason: "run", key: "s\(index)").requireID(),
                                            actual: Credits(whole: amount))
            }
            try await LedgerAlerts.scan(on: app.db)
            let messages = try await Notice.query(on: app.db).all().map(\.message)
            #expect(messages.contains("Your allowance in CS101 is used up (10 of 10 credits). Your instructor or PI can raise it."))
            #expect(messages.contains("The CS101 allocation is 80% used (32 of 40 credits). A programme manager can allocate more."))  // to the instructor
            #expect(messages.contains("The CS101 allocation is 80% used (32 of 40 credits)."))  // to the programme manager
            // The dashboard shows the student's unread notices; marking one read removes it from there.
            let browser = try Browser(app)
            try await browser.signIn("student1@demo.test")
            let dashboard = try await browser.get("/dashboard").body.string
            #expect(dashboard.contains("Your allowance in CS101 is used up"))
            let mine = try #require(try await Notice.query(on: app.db).filter(\.$user.$id == student.requireID()).filter(\.$threshold == 100).first())
            #expect(try await browser.post("/notices/\(mine.requireID())/read", [:]).status == .seeOther)
            #expect(!(try await browser.get("/dashboard").body.string.contains("Your allowance in CS101 is used up")))
        }
    }

    @Test func eachRoleSeesItsCreditsPage() async throws {
        try await withTestApp { app in
            let (programme, course, _) = try await Self.scenario(app, spent: Credits.parse("8.5")!)
            let programmeID = try programme.requireID(), courseID = try course.requireID()
            let manager = try Browser(app)
            try await manager.signIn("admin@demo.test")
            let page = try await manager.get("/programmes/\(programmeID)/credits")
            #expect(page.status == .ok)
            let html = page.body.string
            #expect(html.contains("<svg") && html.contains("<polyline") && html.contains("Credits remaining in"))
            #expect(html.contains("Granted by the partner: <strong>100</strong>"))
            #expect(html.contains("<td>CS101 Introduction to Programming</td><td>40</td>"))
            #expect(html.contains("Record a grant"))
            // A grant through the form, then a bad amount: refused with a sentence, nothing recorded.
            let granted = try await manager.post("/programmes/\(programmeID)/credits/grants", ["amount": "50", "memo": "second tranche"])
            #expect(granted.status == .seeOther)
            #expect(try await manager.get("/programmes/\(programmeID)/credits").body.string.contains("Recorded a grant of 50 credits"))
            let bad = try await manager.post("/programmes/\(programmeID)/credits/grants", ["amount": "fifty"])
            #expect(bad.status == .badRequest)
            #expect(bad.body.string.contains("&#39;amount&#39; is not valid"), "\(bad.body.string.suffix(1200))")
            #expect(try await app.ledger.pool(of: programme).balance == Credits(whole: 110).micro)

            let partner = try Browser(app)
            try await partner.signIn("mentor@partner.test")
            let partnerPage = try await partner.get("/programmes/\(programmeID)/credits").body.string
            #expect(partnerPage.contains("Granted by the partner: <strong>150</strong>"))
            #expect(!partnerPage.contains("Record a grant") && !partnerPage.contains("Student 1"))

            let instructor = try Browser(app)
            try await instructor.signIn("instructor@demo.test")
            let coursePage = try await instructor.get("/courses/\(courseID)/credits").body.string
            #expect(coursePage.contains("Near their cap"))
            #expect(coursePage.contains("Student 1: 8.5 of 10 used (85%)"))
            let student2 = try #require(try await User.query(on: app.db).filter(\.$email == "student2@demo.test").first()).requireID()
            let raised = try await instructor.post("/courses/\(courseID)/credits/allowances", ["userID": student2.uuidString, "amount": "15"])
            #expect(raised.status == .seeOther, "\(raised.body.string.suffix(1500))")
            #expect(try await instructor.get("/courses/\(courseID)/credits").body.string.contains("Student 2&#39;s allowance is now 15 credits."))

            let student = try Browser(app)
            try await student.signIn("student1@demo.test")
            let mine = try await student.get("/credits").body.string
            #expect(mine.contains("<strong>1.5</strong> credits free of 10"))
            #expect(mine.contains("autograder run"))
            #expect(try await student.get("/courses/\(courseID)/credits").status == .notFound)
        }
    }

    @Test func theBurnDownFollowsGrantsAndUse() async throws {
        let points = [BurnDownPoint(day: "2026-09-01", remaining: Credits(whole: 100)), BurnDownPoint(day: "2026-09-02", remaining: Credits(whole: 40))]
        let svg = BurnDownChart.svg(points, title: "A <b> title")
        #expect(svg.contains("<title>A &lt;b&gt; title</title>"))
        #expect(svg.contains(#"points="70.0,12.0 628.0,118.8""#))
        #expect(BurnDownChart.svg([], title: "t").contains("No credits granted or used yet."))
        try await withTestApp { app in
            let (programme, _, _) = try await Self.scenario(app, spent: Credits(whole: 4))
            let recorded = try await BurnDownChart.points(programmeID: programme.requireID(), on: app.db)
            #expect(recorded.count == 1)
            #expect(recorded.first?.remaining == Credits(whole: 96))
        }
    }
}
