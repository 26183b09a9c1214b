// "Student 2" before "Student 10" wherever people are listed: in memory (gradebook, roster, members) and in SQL
// pages ordered by users.sort_key (the admin's people list), on SQLite and on PostgreSQL.
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting
@testable import App

@Suite struct NaturalOrderListingTests {
    /// The positions of the demo's Student 1…12 in `names`, which must be increasing.
    static func inNaturalOrder(_ names: [String]) -> Bool {
        let wanted = (1...12).map { "Student \($0)" }
        let positions = wanted.compactMap { names.firstIndex(of: $0) }
        return positions.count == wanted.count && positions == positions.sorted()
    }

    @Test func everyListOfPeopleReadsStudentTwoBeforeStudentTen() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let course = try await app.course("CS101")
            let id = try course.requireID()
            let admin = try await app.bearer("admin@demo.test"), instructor = try await app.bearer("instructor@demo.test")

            // The admin's people list pages in SQL by the stored key.
            let users = try await app.testing().sendRequest(.GET, "api/v1/users?per=100", headers: admin)
            let names = try users.content.decode(Page<UserDTO>.self).items.map(\.name)
            #expect(Self.inNaturalOrder(names))
            // The gradebook (JSON) and the roster (JSON and page).
            let gradebook = try await app.testing().sendRequest(.GET, "api/v1/courses/\(id)/gradebook", headers: instructor)
            #expect(Self.inNaturalOrder(try gradebook.content.decode(GradebookData.self).rows.map(\.name)))
            let roster = try await app.testing().sendRequest(.GET, "api/v1/courses/\(id)/roster?per=500", headers: instructor)
            let wholeRoster = try roster.content.decode(Page<Rosters.Entry>.self).items
            #expect(Self.inNaturalOrder(wholeRoster.map(\.name)))
            // Its pages, its CSV and the course page's list are one order: staff first, then names as people read them.
            var pagedRoster: [Rosters.Entry] = []
            for number in 1...5 {
                pagedRoster += try await app.testing().sendRequest(.GET, "api/v1/courses/\(id)/roster?page=\(number)&per=7", headers: instructor)
                    .content.decode(Page<Rosters.Entry>.self).items
            }
            #expect(pagedRoster == wholeRoster && wholeRoster.prefix(2).map(\.role) == [.instructor, .ta])
            let browser = try Browser(app)
            _ = try await browser.signIn("instructor@demo.test")
            let csvEmails = try await browser.get(SitePath.courseRosterCSV(.id(id)).url).body.string
                .components(separatedBy: "\r\n").dropFirst().compactMap { $0.split(separator: ",").first.map(String.init) }
            #expect(csvEmails == wholeRoster.map(\.email))
            let page = try await browser.get("/courses/\(id)/gradebook").body.string
            let order = (1...12).compactMap { page.range(of: ">Student \($0)<")?.lowerBound }
            #expect(order.count == 12 && order == order.sorted())

            // A renamed person moves with their new name.
            let eleven = try #require(try await User.query(on: app.db).filter(\.$email == "student11@demo.test").first())
            _ = try await app.testing().sendRequest(.PATCH, "api/v1/users/\(eleven.requireID())", headers: admin) { req in
                try req.content.encode(["name": "Student 1b"], as: .json)
            }
            let renamed = try await app.testing().sendRequest(.GET, "api/v1/users?per=100", headers: admin)
            let after = try renamed.content.decode(Page<UserDTO>.self).items.map(\.name)
            let one = try #require(after.firstIndex(of: "Student 1")), oneB = try #require(after.firstIndex(of: "Student 1b"))
            let two = try #require(after.firstIndex(of: "Student 2"))
            #expect(one < oneB && oneB < two)
        }
    }

    @Test func theStoredKeyFollowsEveryNameChange() async throws {
        try await withTestApp { app in
            let user = User(email: "e@uni.test", displayName: "Émile 10", passwordHash: nil)
            try await user.create(on: app.db)
            let stored = try #require(try await User.find(user.requireID(), on: app.db))
            #expect(stored.sortKey == "emile 0210")
            stored.displayName = "Zoe 2"
            try await stored.save(on: app.db)
            let changed = try #require(try await User.find(user.requireID(), on: app.db))
            #expect(changed.sortKey == "zoe 012")
        }
    }
}

@Suite struct PageFormatTests {
    @Test func pageTimesReadAsADateFormatterWritesThem() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "d MMM yyyy, HH:mm 'UTC'"
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let date = Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000, using: &generator))
            #expect(PageFormat.when(date) == formatter.string(from: date))
        }
        #expect(PageFormat.when(nil) == nil)
    }
}
