import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
@testable import App

@Suite struct RosterParsingTests {
    @Test func aGoodFileWithBOMQuotesAndCommasIsRead() throws {
        let text = "\u{FEFF}email,name,role\r\nAda@Example.edu,\"Lovelace, Ada\",student\r\nbob@example.edu,\"Bob \"\"the TA\"\" Smith\",TA\r\n\r\n"
        let rows = try Rosters.parse(Data(text.utf8)).get()
        #expect(rows == [RosterRow(line: 2, email: "ada@example.edu", name: "Lovelace, Ada", role: .student),
                         RosterRow(line: 3, email: "bob@example.edu", name: "Bob \"the TA\" Smith", role: .ta)])
    }

    @Test func everyBadLineIsListed() {
        let text = "email,name,role\n,No Email,student\nx@example.edu,,student\ny@example.edu,Y,teacher\nx@example.edu,X again,student\nnot-an-email,Z,ta\n"
        guard case .failure(let rejected) = Rosters.parse(Data(text.utf8)) else { Issue.record("accepted a bad file"); return }
        #expect(rejected.problems == [
            "line 2: email is missing",
            "line 3: name is missing",
            "line 4: role 'teacher' is not one of instructor, ta, student",
            "line 5: x@example.edu is already on line 3",
            "line 6: 'not-an-email' is not an email address",
        ])
    }

    @Test(arguments: [
        ("name,email,role\na@b.c,A,student\n", "line 1: the header must be email,name,role"),
        ("email,name,role\n", "no rows"),
        ("email,name,role\n\"a@b.c,A,student\n", "line 2: expected 3 fields"),  // an unclosed quote swallows the row
        ("email,name,role\na@b.c,A\n", "expected 3 fields"),
    ])
    func brokenFilesSayWhatIsWrong(text: String, says: String) {
        guard case .failure(let rejected) = Rosters.parse(Data(text.utf8)) else { Issue.record("accepted: \(text)"); return }
        #expect(rejected.problems.joined().contains(says), "\(rejected.problems)")
    }

    @Test func notUTF8IsRefused() {
        guard case .failure(let rejected) = Rosters.parse(Data([0x65, 0x6D, 0xFF, 0xFE, 0x00, 0xC3])) else { Issue.record("accepted"); return }
        #expect(rejected.problems.first?.contains("UTF-8") == true)
    }

    @Test func exportedRostersReadBackTheSame() throws {
        let id = UUID()
        let entries = [Rosters.Entry(userID: id, email: "a@b.c", name: "Doe, \"Jo\"", role: .student),
                       Rosters.Entry(userID: id, email: "t@b.c", name: "T", role: .ta)]
        let rows = try Rosters.parse(Data(Rosters.csv(entries).utf8)).get()
        #expect(rows.map { Rosters.Entry(userID: id, email: $0.email, name: $0.name, role: $0.role) } == entries)
    }
}

@Suite struct RosterRouteTests {
    func courseID(_ app: Application, _ code: String) async throws -> UUID {
        try #require(try await Course.query(on: app.db).filter(\.$code == code).first()).requireID()
    }

    @Test func anInstructorImportsARosterFileAndSeesTheStudentsOnTheCoursePage() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let id = try await courseID(app, "CS340")
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            #expect(try await browser.get("/courses/\(id)").status == .ok)
            let file = "\u{FEFF}email,name,role\nnew.student@uni.edu,\"García, Lucía\",student\nstudent1@demo.test,Student 1,student\n"
            let response = try await browser.upload("/courses/\(id)/roster", field: "roster", filename: "roster.csv", contents: Data(file.utf8))
            #expect(response.status == .ok)
            #expect(response.body.string.contains("Roster imported: 2 rows, 2 added"))
            let page = try await browser.get("/courses/\(id)")
            #expect(page.body.string.contains("García, Lucía"))
            let newcomer = try #require(try await User.query(on: app.db).filter(\.$email == "new.student@uni.edu").first())
            #expect(newcomer.passwordHash == nil)  // invited, not yet able to sign in
            #expect(try await CourseMember.query(on: app.db).filter(\.$course.$id == id).count() == 18)
        }
    }

    @Test func aBadFileIsRejectedWithEveryLineAndWritesNothing() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let id = try await courseID(app, "CS101")
            let users = try await User.query(on: app.db).count(), members = try await CourseMember.query(on: app.db).count()
            let file = "email,name,role\ngood@uni.edu,Good,student\n,Missing,student\nbad@uni.edu,Bad,professor\n"
            let response = try await app.testing().sendRequest(.POST, "api/v1/courses/\(id)/roster",
                                                              headers: try await app.bearer("instructor@demo.test").adding("Content-Type", "text/csv"),
                                                              body: ByteBuffer(string: file))
            #expect(response.status == .unprocessableEntity)
            let body = try response.content.decode(ErrorBody.self)
            #expect(body.error.problems == ["line 3: email is missing", "line 4: role 'professor' is not one of instructor, ta, student"])
            #expect(try await User.query(on: app.db).count() == users)
            #expect(try await CourseMember.query(on: app.db).count() == members)
            // The web form says the same on the page.
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            try await browser.get("/courses/\(id)")
            let page = try await browser.upload("/courses/\(id)/roster", field: "roster", filename: "r.csv", contents: Data(file.utf8))
            #expect(page.status == .unprocessableEntity)
            #expect(page.body.string.contains("line 4: role &#39;professor&#39;") || page.body.string.contains("line 4: role 'professor'"))
        }
    }

    @Test func whoMaySeeAndChangeARoster() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let cs101 = try await courseID(app, "CS101")
            let orphan = Course(programmeID: try #require(try await Programme.query(on: app.db).first()).requireID(),
                                code: "CS999", title: "Nobody's", term: "2027", startsOn: Date(), endsOn: Date())
            try await orphan.create(on: app.db)
            let csv = "email,name,role\nx@uni.edu,X,student\n"
            func call(_ method: HTTPMethod, _ path: String, as email: String) async throws -> HTTPStatus {
                var headers = try await app.bearer(email)
                headers.add(name: .contentType, value: "text/csv")
                return try await app.testing().sendRequest(method, path, headers: headers, body: method == .POST ? ByteBuffer(string: csv) : nil).status
            }
            let roster = "api/v1/courses/\(cs101)/roster"
            #expect(try await call(.GET, roster, as: "ta@demo.test") == .ok)
            #expect(try await call(.POST, roster, as: "ta@demo.test") == .notFound)
            #expect(try await call(.GET, roster, as: "student1@demo.test") == .notFound)
            #expect(try await call(.GET, "api/v1/courses/\(cs101)", as: "student1@demo.test") == .ok)
            #expect(try await call(.GET, roster, as: "mentor@partner.test") == .notFound)
            #expect(try await call(.GET, "api/v1/courses/\(orphan.requireID())", as: "instructor@demo.test") == .notFound)
            #expect(try await call(.GET, "api/v1/courses/\(UUID())/roster", as: "admin@demo.test") == .notFound)
            #expect(try await call(.GET, "api/v1/courses/\(orphan.requireID())/roster", as: "admin@demo.test") == .ok)
            // The web page: a student sees the course but not the roster, and cannot download it.
            let browser = try Browser(app)
            try await browser.signIn("student1@demo.test")
            let page = try await browser.get("/courses/\(cs101)")
            #expect(page.status == .ok)
            #expect(!page.body.string.contains("student2@demo.test"))
            #expect(try await browser.get("/courses/\(cs101)/roster.csv").status == .notFound)
        }
    }

    @Test func rostersPageAndExport() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let id = try await courseID(app, "CS101")
            let headers = try await app.bearer("instructor@demo.test")
            let first = try await app.testing().sendRequest(.GET, "api/v1/courses/\(id)/roster?per=10", headers: headers)
            let page = try first.content.decode(Page<Rosters.Entry>.self)
            #expect(page.items.count == 10)
            #expect(page.metadata.total == 32)
            #expect(page.items.first?.role == .instructor)
            let browser = try Browser(app)
            try await browser.signIn("instructor@demo.test")
            let export = try await browser.get("/courses/\(id)/roster.csv")
            #expect(export.headers.contentType?.subType == "csv")
            let rows = try Rosters.parse(Data(export.body.readableBytesView)).get()
            #expect(rows.count == 32)
            // A name that a spreadsheet would run as a formula is exported neutralised.
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student2@demo.test").first())
            student.displayName = "=HYPERLINK(\"http://evil.example\",\"x\")"
            try await student.save(on: app.db)
            let hostile = try await browser.get("/courses/\(id)/roster.csv").body.string
            #expect(hostile.contains("\"'=HYPERLINK(") && !hostile.contains(",=HYPERLINK(") && !hostile.contains(",\"=HYPERLINK("))
        }
    }
}

extension HTTPHeaders {
    func adding(_ name: String, _ value: String) -> HTTPHeaders {
        var copy = self
        copy.add(name: name, value: value)
        return copy
    }
}
