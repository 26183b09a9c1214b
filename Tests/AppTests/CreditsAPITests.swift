// The credits ledger through the JSON API, as a programme manager, an instructor, a student and the partner use it.
import Testing
import Foundation
import Fluent
import Ledger
import Vapor
import VaporTesting
@testable import App

@Suite struct CreditsAPITests {
    func send(_ app: Application, _ method: HTTPMethod, _ path: String, as email: String, _ body: [String: Any]? = nil,
              headers extra: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        var headers = try await app.bearer(email)
        headers.contentType = .json
        for (name, value) in extra { headers.add(name: name, value: value) }
        return try await app.testing().sendRequest(method, path, headers: headers,
                                                   body: try body.map { ByteBuffer(data: try JSONSerialization.data(withJSONObject: $0)) })
    }

    func ids(_ app: Application) async throws -> (programme: UUID, course: UUID, student: UUID) {
        (try #require(try await Programme.query(on: app.db).first()).requireID(),
         try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first()).requireID(),
         try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first()).requireID())
    }

    @Test func fromTheGrantToAStudentsSettledUse() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (programme, course, student) = try await ids(app)
            // The manager records the grant twice with one Idempotency-Key: it counts once.
            for _ in 0..<2 {
                let grant = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/grants", as: "admin@demo.test",
                                           ["amount": 1000, "memo": "Nimbus Cloud, first tranche"], headers: ["Idempotency-Key": "tranche-1"])
                #expect(grant.status == .created)
                #expect(try grant.content.decode(ProgrammeCreditsDTO.self).granted == Credits(whole: 1000))
            }
            let allocated = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/allocations", as: "admin@demo.test",
                                           ["courseID": course.uuidString, "amount": "250.5", "expiresOn": "2099-06-30"])
            let view = try allocated.content.decode(ProgrammeCreditsDTO.self)
            #expect(view.pool.free == Credits.parse("749.5")!)
            #expect(view.allocations.first?.balance.free == Credits.parse("250.5")!)
            // The instructor gives every student 10 credits; the student's first use creates their allowance.
            let defaulted = try await send(app, .PUT, "api/v1/courses/\(course)/credits/default-allowance", as: "instructor@demo.test", ["amount": 10])
            #expect(defaulted.status == .ok)
            let hold = try await send(app, .POST, "api/v1/credits/holds", as: "student1@demo.test",
                                      ["courseID": course.uuidString, "amount": "2", "reason": "autograder run", "idempotencyKey": "run-1"])
            #expect(hold.status == .created)
            let holdID = try hold.content.decode(HoldDTO.self).id
            // Another student cannot close it; its owner settles 1.25 and gets 0.75 back.
            #expect(try await send(app, .POST, "api/v1/credits/holds/\(holdID)/settle", as: "student2@demo.test", ["amount": "1"]).status == .notFound)
            let settled = try await send(app, .POST, "api/v1/credits/holds/\(holdID)/settle", as: "student1@demo.test", ["amount": "1.25"])
            #expect(try settled.content.decode(HoldDTO.self).settled == Credits.parse("1.25")!)
            let metrics = try await app.testing().sendRequest(.GET, "metrics").body.string
            #expect(metrics.contains(#"campuscloud_credits_reserved_microcredits_total{account_kind="allowance"} 2000000"#))
            #expect(metrics.contains(#"campuscloud_credits_settled_microcredits_total{account_kind="hold"} 1250000"#))
            let mine = try await send(app, .GET, "api/v1/me/credits", as: "student1@demo.test").content.decode([MyAllowanceDTO].self)
            #expect(mine.count == 1)
            #expect(mine.first?.balance.free == Credits.parse("8.75")!)
            #expect(mine.first?.balance.usedPercent == 12)
            // The instructor sees each student's use; the course allocation rolls up what students spent.
            let place = try await send(app, .GET, "api/v1/courses/\(course)/credits", as: "instructor@demo.test").content.decode(PlaceCreditsDTO.self)
            #expect(place.allocation.balance.spent == Credits.parse("1.25")!)
            #expect(place.allocation.balance.total == Credits.parse("250.5")!)
            #expect(place.members.first { $0.userID == student }?.balance?.spent == Credits.parse("1.25")!)
            #expect(place.members.count == 32)
            // The statement lists the allowance's entries, newest first.
            let statement = try await send(app, .GET, "api/v1/credits/accounts/\(mine[0].accountID)/entries", as: "student1@demo.test")
            let entries = try statement.content.decode(Page<EntryDTO>.self).items
            #expect(Set(entries.map(\.kind)) == [.allocate, .reserve, .settle, .release])
            #expect(entries.reduce(Credits.zero) { $0 + $1.change } == Credits.parse("8.75")!)
            #expect(try await send(app, .GET, "api/v1/credits/accounts/\(mine[0].accountID)/entries", as: "student2@demo.test").status == .notFound)
            let csv = try await send(app, .GET, "api/v1/credits/accounts/\(mine[0].accountID)/statement.csv", as: "student1@demo.test")
            #expect(csv.headers.contentType?.subType == "csv")
            #expect(csv.body.string.hasPrefix("time,kind,from,to,credits,hold,memo\r\n"))
            #expect(csv.body.string.contains(",settle,Student 1's allowance in CS101,,1.25,"))
            let whole = try await send(app, .GET, "api/v1/programmes/\(programme)/credits/statement.csv", as: "admin@demo.test")
            #expect(whole.body.string.contains(",grant,Nimbus Cloud's grant account,the programme pool,1000,,Nimbus Cloud, first tranche") == false)
            #expect(whole.body.string.contains(#",grant,Nimbus Cloud's grant account,the programme pool,1000,,"Nimbus Cloud, first tranche""#))
            // The partner sees programme totals and no one's name.
            let partner = try await send(app, .GET, "api/v1/programmes/\(programme)/credits", as: "mentor@partner.test")
            #expect(try partner.content.decode(ProgrammeCreditsDTO.self).allocations.first?.balance.spent == Credits.parse("1.25")!)
            #expect(!partner.body.string.contains("Student"))
        }
    }

    @Test func overTheCapIsRefusedNamingTheLevelAndBadAmountsAreRefused() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (programme, course, student) = try await ids(app)
            _ = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/grants", as: "admin@demo.test", ["amount": 20])
            let tooMuch = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/allocations", as: "admin@demo.test",
                                         ["courseID": course.uuidString, "amount": 21])
            #expect(tooMuch.status == .conflict)
            #expect(tooMuch.body.string.contains("The programme pool has 20 credits free; this needs 21."))
            _ = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/allocations", as: "admin@demo.test", ["courseID": course.uuidString, "amount": 5])
            _ = try await send(app, .PUT, "api/v1/courses/\(course)/credits/allowances/\(student)", as: "instructor@demo.test", ["amount": 3])
            let over = try await send(app, .POST, "api/v1/credits/holds", as: "student1@demo.test",
                                      ["courseID": course.uuidString, "amount": 4, "reason": "big run", "idempotencyKey": "r"])
            #expect(over.status == .conflict)
            #expect(over.body.string.contains("Student 1's allowance in CS101 has 3 credits free; this needs 4."))
            #expect(try await LedgerHold.query(on: app.db).count() == 0)
            let float = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/grants", as: "admin@demo.test", ["amount": 0.5])
            #expect(float.status == .badRequest)
            let words = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/grants", as: "admin@demo.test", ["amount": "lots"])
            #expect(words.status == .badRequest)
            for amount: Any in [0, -5, "-0.5"] {
                let notPositive = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/grants", as: "admin@demo.test", ["amount": amount])
                #expect(notPositive.status == .unprocessableEntity)
                #expect(notPositive.body.string.contains("The amount must be more than zero."))
            }
            let typo = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/grants", as: "admin@demo.test", ["amont": 5])
            #expect(typo.status == .unprocessableEntity)
            // Someone else's course, or one the student is not in, answers 404.
            let cs340 = try #require(try await Course.query(on: app.db).filter(\.$code == "CS340").first()).requireID()
            let notMine = try await send(app, .POST, "api/v1/credits/holds", as: "student1@demo.test",
                                         ["courseID": cs340.uuidString, "amount": 1, "reason": "x", "idempotencyKey": "y"])
            #expect(notMine.status == .notFound)
            let notMember = try await send(app, .PUT, "api/v1/courses/\(course)/credits/allowances/\(UUID())", as: "instructor@demo.test", ["amount": 1])
            #expect(notMember.status == .notFound)
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    /// Found by schemathesis (issue 19): an instructor set the default allowance to 999,999,999,999 credits in a course
    /// of 30 students; the sum of what it would take overflowed Int64 and the arithmetic trap stopped the server for
    /// everyone. Now it is refused like any shortfall, the server answers the next request, and nothing moved. A
    /// negative price (which would pay people for use) is refused too.
    @Test func aHugeDefaultAllowanceIsRefusedWithoutStoppingTheServerAndPricesAreNotNegative() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let (programme, course, _) = try await ids(app)
            _ = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/grants", as: "admin@demo.test", ["amount": 100])
            _ = try await send(app, .POST, "api/v1/programmes/\(programme)/credits/allocations", as: "admin@demo.test",
                               ["courseID": course.uuidString, "amount": 50])
            // Ten allowances below the new default: ten times 999,999,999,999 credits is past Int64's micro-credits.
            for number in 1...10 {
                let student = try #require(try await User.query(on: app.db).filter(\.$email == "student\(number)@demo.test").first()).requireID()
                let set = try await send(app, .PUT, "api/v1/courses/\(course)/credits/allowances/\(student)", as: "instructor@demo.test", ["amount": 1])
                #expect(set.status == .ok)
            }
            let before = try await LedgerEntry.query(on: app.db).count()
            let huge = try await send(app, .PUT, "api/v1/courses/\(course)/credits/default-allowance", as: "instructor@demo.test",
                                      ["amount": 999_999_999_999])
            #expect(huge.status == .conflict)
            #expect(try await LedgerEntry.query(on: app.db).count() == before)
            let still = try await send(app, .GET, "api/v1/courses/\(course)/credits", as: "instructor@demo.test")
            #expect(still.status == .ok)
            #expect(try still.content.decode(PlaceCreditsDTO.self).allocation.defaultAllowance != Credits(whole: 999_999_999_999))
            let negative = try await send(app, .POST, "api/v1/credits/prices", as: "admin@demo.test",
                                          ["meter": "sandbox_cpu_second", "price": -1, "effectiveFrom": "2099-01-01"])
            #expect(negative.status == .unprocessableEntity)
            #expect(try await LedgerPrice.query(on: app.db).filter(\.$price < 0).count() == 0)
            try await LedgerStoreTests.expectConserved(app)
        }
    }

    @Test func adminsKeepAVersionedPriceList() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let first = try await send(app, .POST, "api/v1/credits/prices", as: "admin@demo.test",
                                       ["meter": "sandbox_cpu_second", "price": "0.01", "effectiveFrom": "2026-01-01"])
            #expect(first.status == .created)
            _ = try await send(app, .POST, "api/v1/credits/prices", as: "admin@demo.test",
                               ["meter": "sandbox_cpu_second", "price": "0.02", "effectiveFrom": "2026-09-01"])
            let again = try await send(app, .POST, "api/v1/credits/prices", as: "admin@demo.test",
                                       ["meter": "sandbox_cpu_second", "price": "0.03", "effectiveFrom": "2026-09-01"])
            #expect(again.status == .conflict)
            let unknown = try await send(app, .POST, "api/v1/credits/prices", as: "admin@demo.test",
                                         ["meter": "gpu_minutes", "price": "1", "effectiveFrom": "2026-09-01"])
            #expect(unknown.status == .unprocessableEntity)
            #expect(try await send(app, .POST, "api/v1/credits/prices", as: "instructor@demo.test",
                                   ["meter": "lab_hour", "price": "1", "effectiveFrom": "2026-09-01"]).status == .notFound)
            let list = try await Prices.list(on: app.db)
            let august = try #require(InputChecks.parseDay("2026-08-15")), october = try #require(InputChecks.parseDay("2026-10-15"))
            #expect(try list.cost(of: .sandboxCPUSecond, quantity: 90_000, at: august) == Credits.parse("0.9")!)
            #expect(try list.cost(of: .sandboxCPUSecond, quantity: 90_000, at: october) == Credits.parse("1.8")!)
            // A hold settled by measured usage is priced at the list in force when it was made (the 0.02 price now).
            let (_, course, student) = try await ids(app)
            let programme = try #require(try await Programme.query(on: app.db).first())
            _ = try await send(app, .POST, "api/v1/programmes/\(programme.requireID())/credits/grants", as: "admin@demo.test", ["amount": 10])
            _ = try await send(app, .POST, "api/v1/programmes/\(programme.requireID())/credits/allocations", as: "admin@demo.test",
                               ["courseID": course.uuidString, "amount": 10])
            _ = try await send(app, .PUT, "api/v1/courses/\(course)/credits/allowances/\(student)", as: "instructor@demo.test", ["amount": 5])
            let hold = try await send(app, .POST, "api/v1/credits/holds", as: "student1@demo.test",
                                      ["courseID": course.uuidString, "amount": 1, "reason": "run", "idempotencyKey": "u1"]).content.decode(HoldDTO.self)
            let byUsage = try await send(app, .POST, "api/v1/credits/holds/\(hold.id)/settle", as: "student1@demo.test",
                                         ["usage": ["sandbox_cpu_second": 12_345]])
            #expect(try byUsage.content.decode(HoldDTO.self).settled == Credits.parse("0.2469")!)
            let shown = try await send(app, .GET, "api/v1/credits/prices", as: "student1@demo.test").content.decode([CreditsController.PriceDTO].self)
            #expect(shown.map(\.per) == ["second", "second"])
        }
    }
}
