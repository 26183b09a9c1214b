// What a programme's credits bought: every meter's credits read from the ledger's journal, so they add up to the
// accounts' spent (programme, course and project); uses told apart by their holds' keys; counts of 1 to 4 people
// withheld from the partner (analytics and the programme report, JSON, CSV and pages); a fixed number of statements.
import Fluent
import Foundation
import Insight
import Ledger
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct ProgrammeAnalyticsTests {
    /// The demo with its credits, plus a grading run and an AI lease settled in CS101 by student 1, and a small
    /// course (3 students, each with one hand-in).
    static func world(_ app: Application, demo: Bool = true) async throws -> (programme: Programme, small: Course, grading: Credits, ai: Credits) {
        if demo { try await app.loadDemoData(credits: true) }
        let programme = try #require(try await Programme.query(on: app.db).first())
        let cs101 = try await app.course("CS101")
        let student = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
        let ledger = LedgerStore(db: app.db, gate: app.ledgerGate)
        let allowance = try await ledger.allowance(of: student, in: .course(cs101))
        let (grading, ai) = (Credits(micro: 1_250_000), Credits(micro: 330_000))
        let run = try await ledger.reserve(allowance, amount: Credits(whole: 2), reason: "grading", key: "submission:\(UUID().uuidString.lowercased()):run:1")
        _ = try await ledger.settle(run.requireID(), actual: grading)
        let lease = try await ledger.reserve(allowance, amount: Credits(whole: 1), reason: "AI", key: "ai-lease:\(UUID().uuidString.lowercased())")
        _ = try await ledger.settle(lease.requireID(), actual: ai)
        // Students 1 and 2 hand in CS101's first assignment: its active learners.
        let teacher = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        var lab1 = AssignmentInput()
        (lab1.title, lab1.kind) = ("Lab 1", "gradescope")
        let lab = try await Assignments.create(in: cs101, lab1, by: teacher, on: app.db)
        for email in ["student1@demo.test", "student2@demo.test"] {
            let person = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
            _ = try await DashboardTests.handIn(app, lab, person, score: 1, results: CourseInsightsTests.results([("basic", true)]), at: app.clock.now().addingTimeInterval(-3_600), comment: nil)
        }

        let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
        let small = Course(programmeID: try programme.requireID(), code: "SM9", title: "Small seminar", term: "2026",
                           startsOn: app.clock.now().addingTimeInterval(-20 * 86_400), endsOn: app.clock.now().addingTimeInterval(60 * 86_400))
        try await small.create(on: app.db)
        try await CourseMember(courseID: small.requireID(), userID: instructor.requireID(), role: .instructor).create(on: app.db)
        var input = AssignmentInput()
        (input.title, input.kind) = ("Essay", "gradescope")
        let essay = try await Assignments.create(in: small, input, by: instructor, on: app.db)
        for index in 1...3 {
            let person = User(email: "seminar-\(index)@uni.test", displayName: "Seminar \(index)", passwordHash: nil)
            try await person.create(on: app.db)
            try await CourseMember(courseID: small.requireID(), userID: person.requireID(), role: .student).create(on: app.db)
            _ = try await DashboardTests.handIn(app, essay, person, score: 1, results: CourseInsightsTests.results([("basic", true)]),
                                                at: app.clock.now().addingTimeInterval(-86_400), comment: nil)
        }
        return (programme, small, grading, ai)
    }

    @Test func everyCreditIsTheLedgersAndTheMetersAddUp() async throws {
        try await withTestApp { app in
            let (programme, _, grading, ai) = try await Self.world(app)
            let programmeID = try programme.requireID()
            let analytics = try await ProgrammeAnalytics.load(programme, now: app.clock.now(), withholdSmallCells: false, on: app.db)
            let accounts = try await LedgerAccount.query(on: app.db).filter(\.$programme.$id == programmeID).all()
            // The whole: what the accounts have spent, and what the partner granted.
            #expect(analytics.used.micro == accounts.reduce(0) { $0 + $1.spent } && analytics.used.micro > 0)
            #expect(analytics.meters.total == analytics.used && analytics.granted == Credits(whole: 5000))
            #expect(abs(analytics.shareUsed - Double(analytics.used.micro) / Double(Credits(whole: 5000).micro)) < 1e-12)
            #expect(analytics.shareElapsed > 0 && analytics.shareElapsed <= 1)
            // Told apart by what the holds were for; the demo's own uses were made by hand.
            #expect(analytics.meters.grading == grading && analytics.meters.ai == ai)
            #expect(analytics.meters.other.micro == analytics.used.micro - grading.micro - ai.micro)
            // Week by week, and place by place, the same credits.
            #expect(analytics.weeks.reduce(Int64(0)) { $0 + $1.meters.total.micro } == analytics.used.micro)
            #expect(analytics.places.reduce(Int64(0)) { $0 + $1.used.total.micro } == analytics.used.micro)
            #expect(analytics.weeks.allSatisfy { week in
                let day = Int((ISO8601DateFormatter().date(from: week.week + "T00:00:00Z")!.timeIntervalSince1970 / 86_400).rounded())
                return Stats.weekStart(day) == day  // each week named by its Monday
            })
            // Each course's and project's use is the programme report's (the ledger's accounts, rolled up).
            let report = try await ProgrammeReport.load(programme, on: app.db)
            for line in report.courses {
                #expect(analytics.places.first { $0.id == line.id }?.used.total == line.credits.used, "\(line.code)")
            }
            for line in report.projects {
                let place = try #require(analytics.places.first { $0.id == line.id })
                #expect(place.used.total == line.credits.used)
                #expect(place.outputs == line.outputs.count)
                if place.used.total.micro > 0 {
                    #expect(place.outputsPerThousandCredits == Double(line.outputs.count) / (Double(place.used.total.micro) / 1_000_000_000))
                }
            }
            // Cost per active learner: the course's credits over the students who did something there.
            let cs101 = try #require(analytics.places.first { $0.name.hasPrefix("CS101") })
            let learners = try #require(cs101.activeLearners)
            #expect(learners == 2 && cs101.costPerActiveLearner == Credits(micro: cs101.used.total.micro / Int64(learners)))
            let csv = ProgrammeAnalytics.csv(analytics)
            #expect(csv.hasPrefix("section,place,item,value\r\n") && csv.contains("grant,,used,\(analytics.used)\r\n"))
        }
    }

    @Test func thePartnerNeverSeesACountOfFewerThanFivePeople() async throws {
        try await withTestApp { app in
            let (programme, small, _, _) = try await Self.world(app)
            let programmeID = try programme.requireID(), smallID = try small.requireID()
            // Six students of CS101 use one model, two of them another: the second would point at those two.
            let cs101 = try await app.course("CS101")
            for index in 1...6 {
                let student = try #require(try await User.query(on: app.db).filter(\.$email == "student\(index)@demo.test").first())
                let key = try await AIKeys.issue(to: student, in: cs101, name: "analytics test", origin: .password, on: app.db)
                for model in index <= 2 ? ["common-model", "rare-model"] : ["common-model"] {
                    try await DashboardTests.usage(app, key: key.id, student, cs101, credits: 1_000, at: app.clock.now(), model: model)
                }
            }
            for (email, withheld) in [("mentor@partner.test", true), ("admin@demo.test", false)] {
                let headers = try await app.bearer(email)
                let answer = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/analytics", headers: headers)
                #expect(answer.status == .ok)
                let analytics = try answer.content.decode(ProgrammeAnalyticsDTO.self)
                let seminar = try #require(analytics.places.first { $0.id == smallID })
                #expect(analytics.smallCellsWithheld == withheld)
                #expect(seminar.activeLearners == (withheld ? nil : 3) && (seminar.costPerActiveLearner == nil) == withheld, "\(email)")
                let models = analytics.aiByModel.map(\.model)
                #expect(models.contains("common-model") && models.contains("rare-model") != withheld, "\(email): \(models)")
                #expect(analytics.aiByModel.first { $0.model == "common-model" }?.requests == 6)
                // The total beside a withheld cell would give it away: withheld with it.
                #expect((analytics.activeLearners == nil) == withheld && (analytics.costPerActiveLearner == nil) == withheld, "\(email)")
                let csv = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/analytics.csv", headers: headers).body.string
                #expect(csv.contains("active learners,SM9 Small seminar,,\(withheld ? "fewer than 5" : "3")\r\n"), "\(email)")

                let report = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/report", headers: headers)
                let line = try #require(try report.content.decode(ProgrammeReportDTO.self).courses.first { $0.id == smallID })
                #expect(line.students == (withheld ? nil : 3), "\(email)")
                #expect((try report.content.decode(ProgrammeReportDTO.self).studentsReached == nil) == withheld, "\(email)")
                // The programme's own page and API: the same counts withheld.
                let overview = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)", headers: headers).content.decode(ProgrammeDTO.self)
                let listed = try #require(overview.courses.first { $0.id == smallID })
                #expect(listed.students == (withheld ? nil : 3) && listed.staff == (withheld ? nil : 1), "\(email)")
                let reportCSV = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/report.csv", headers: headers).body.string
                #expect(reportCSV.contains(",\(withheld ? "fewer than 5" : "3"),1,3,"), "\(email): \(reportCSV)")
                let browser = try Browser(app)
                _ = try await browser.signIn(email)
                let page = try await browser.get("/programmes/\(programmeID)/analytics")
                #expect(page.status == .ok && page.body.string.contains("SM9 Small seminar"))
                #expect(page.body.string.contains("fewer than 5") == withheld, "\(email)")
                #expect(try await browser.get("/programmes/\(programmeID)/report").body.string.contains("fewer than 5") == withheld, "\(email)")
            }
            // CS101's 30 students are not a small cell: the partner sees them.
            let partner = try await app.bearer("mentor@partner.test")
            let report = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/report", headers: partner).content.decode(ProgrammeReportDTO.self)
            #expect(report.courses.first { $0.code == "CS101" }?.students == 30)
            // Others are refused.
            for email in ["student1@demo.test", "instructor@demo.test", "ta@demo.test"] {
                let headers = try await app.bearer(email)
                #expect(try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/analytics", headers: headers).status == .notFound, "\(email)")
            }
        }
    }

    @Test func readingAProgrammeCostsTheSameWhateverItsSize() async throws {
        guard !TestDatabase.isPostgres else { return }  // counted from SQLite's log; PostgreSQL runs the same code
        let counter = StatementCounter()
        try await withTestApp(statements: counter) { app in
            try await app.loadDemoData(credits: true)
            let programme = try #require(try await Programme.query(on: app.db).first())
            let now = app.clock.now()
            let before = try await counter.count { _ = try await ProgrammeAnalytics.load(programme, now: now, withholdSmallCells: true, on: app.db) }
            _ = try await Self.world(app, demo: false)
            let after = try await counter.count { _ = try await ProgrammeAnalytics.load(programme, now: now, withholdSmallCells: true, on: app.db) }
            #expect(before == 7 && after == 7, "\(before) and \(after): \(counter.statements)")
        }
    }
}

extension ProgrammeAnalyticsTests {
    /// The events export: what happened in the range and nothing outside it; the university sees who, the partner a
    /// pseudonym made for that export alone and no email or memo; bad ranges refused with the reason.
    @Test func theEventsExportPseudonymisesPeopleForThePartnerPerExport() async throws {
        try await withTestApp { app in
            let (programme, small, _, _) = try await Self.world(app)
            let programmeID = try programme.requireID()
            let today = Stats.dayString(app.clock.now()), weekAgo = Stats.dayString(app.clock.now().addingTimeInterval(-7 * 86_400))
            let path = "api/v1/programmes/\(programmeID)/events?from=\(weekAgo)&to=\(today)"
            let seminar1 = try #require(try await User.query(on: app.db).filter(\.$email == "seminar-1@uni.test").first())
            let admin = try await app.bearer("admin@demo.test"), partner = try await app.bearer("mentor@partner.test")

            let full = try await app.testing().sendRequest(.GET, path, headers: admin)
            #expect(full.status == .ok && full.headers.contentType?.subType == "csv")
            let rows = full.body.string.split(separator: "\r\n").map(String.init)
            #expect(rows.first == EventsExport.columns.joined(separator: ","))
            // The three seminar hand-ins (a day ago) and their grades; the grading run and the AI lease settled today.
            let seminarRows = rows.filter { $0.contains(",SM9,") }
            #expect(seminarRows.filter { $0.hasPrefix("handin,") }.count == 3 && seminarRows.filter { $0.hasPrefix("grade,") }.count == 3)
            let seminar1ID = try seminar1.requireID().uuidString.lowercased()
            #expect(rows.contains { $0.hasPrefix("handin,") && $0.contains(seminar1ID) && $0.contains("seminar-1@uni.test") })
            #expect(rows.filter { $0.hasPrefix("ledger,") && $0.contains(",settle,") }.count >= 2)
            // The demo's grant, eight weeks ago, is outside the range.
            #expect(!rows.contains { $0.contains(",grant,") })
            let older = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/events?from=\(Stats.dayString(app.clock.now().addingTimeInterval(-80 * 86_400)))&to=\(today)", headers: admin)
            #expect(older.body.string.contains(",grant,"))

            // The partner: a pseudonym for each person, no emails, days not times, no attempt numbers, and nothing
            // from a place of fewer than 5 people (the seminar); another export, other pseudonyms.
            func partnerExport() async throws -> [String] {
                try await app.testing().sendRequest(.GET, path, headers: partner).body.string.split(separator: "\r\n").map(String.init)
            }
            let first = try await partnerExport(), second = try await partnerExport()
            #expect(!first.joined().contains("@") && !first.joined().contains(seminar1ID) && !first.joined().contains("attempt"))
            #expect(!first.contains { $0.contains(",SM9,") } && rows.contains { $0.contains(",SM9,") })
            #expect(first.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false)[1].count == 10 }, "days only")
            func pseudonyms(_ lines: [String], _ type: String) -> [String] {
                lines.filter { $0.hasPrefix(type + ",") && $0.contains(",CS101,") }.map { String($0.split(separator: ",", omittingEmptySubsequences: false)[2]) }
            }
            let (a, b) = (pseudonyms(first, "handin"), pseudonyms(second, "handin"))
            #expect(a.count == 2 && Set(a).count == 2 && a.allSatisfy { $0.hasPrefix("p-") && $0.count == 18 })
            #expect(Set(a).isDisjoint(with: Set(b)), "each export draws its own pseudonyms")
            // Within one export a person is one pseudonym: their hand-in and their grade carry the same.
            #expect(Set(pseudonyms(first, "grade")) == Set(a))
            #expect(first.count == rows.count - seminarRows.count)

            // JSON Lines: one object a line, the same fields.
            let lines = try await app.testing().sendRequest(.GET, path + "&format=jsonl", headers: admin)
            #expect(lines.status == .ok && lines.headers.contentType?.subType == "jsonl")
            let objects = try lines.body.string.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
            #expect(objects.count == rows.count - 1 && objects.allSatisfy { $0?["type"] != nil && $0?["at"] != nil })
            #expect(objects.contains { $0?["email"] == "seminar-1@uni.test" && $0?["course"] == "SM9" && $0?["type"] == "grade" && $0?["value"] == "1 / 10" })

            // Bad requests: a clear 422 each.
            // Without days: the 30 days to today, which hold this week's.
            let recent = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/events", headers: admin)
            let month = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/events?from=\(Stats.dayString(app.clock.now().addingTimeInterval(-29 * 86_400)))&to=\(today)", headers: admin)
            #expect(recent.status == .ok && recent.body.string == month.body.string && recent.body.string.count > full.body.string.count)
            for query in ["?from=yesterday&to=\(today)", "?to=2026-02-30", "?from=\(today)&to=\(weekAgo)", "?from=2025-01-01&to=2026-06-01",
                          "?from=\(weekAgo)&to=\(today)&format=xml", "?from=2026-13-45&to=\(today)"] {
                let bad = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(programmeID)/events\(query)", headers: admin)
                #expect(bad.status == .unprocessableEntity, "\(query): \(bad.status) \(bad.body.string)")
            }
            // Others are refused; the page's download works with the session.
            #expect(try await app.testing().sendRequest(.GET, path, headers: try await app.bearer("instructor@demo.test")).status == .notFound)
            let browser = try Browser(app)
            _ = try await browser.signIn("mentor@partner.test")
            let download = try await browser.get("/programmes/\(programmeID)/events?from=\(weekAgo)&to=\(today)")
            #expect(download.status == .ok && download.body.string.contains("p-") && !download.body.string.contains("@uni.test"))
            _ = small
        }
    }
}
