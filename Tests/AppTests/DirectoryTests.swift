// Creating and changing people, programmes, courses, projects and single memberships, through the API and the
// pages: good input writes, bad input of any kind is refused with sentences and writes nothing.
import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
@testable import App

@Suite struct DirectoryTests {
    func json(_ object: [String: Any]) throws -> ByteBuffer { ByteBuffer(data: try JSONSerialization.data(withJSONObject: object)) }

    func send(_ app: Application, _ method: HTTPMethod, _ path: String, as email: String, _ body: [String: Any]? = nil) async throws -> TestingHTTPResponse {
        var headers = try await app.bearer(email)
        headers.contentType = .json
        return try await app.testing().sendRequest(method, path, headers: headers, body: try body.map(json))
    }

    func problems(_ response: TestingHTTPResponse) throws -> [String] {
        try response.content.decode(ErrorBody.self).error.problems ?? []
    }

    @Test func anAdminCreatesAProgrammeAndItsManagerAddsACourseAndAProject() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let created = try await send(app, .POST, "api/v1/programmes", as: "admin@demo.test",
                                         ["name": "Edge AI Lab", "partnerOrganisation": "Stratus Systems", "startsOn": "2027-01-01", "endsOn": "2028-12-31"])
            #expect(created.status == .created)
            let programme = try created.content.decode(ProgrammeSummaryDTO.self)
            #expect(programme.startsOn.day == "2027-01-01")
            let manager = try await send(app, .PUT, "api/v1/programmes/\(programme.id)/members", as: "admin@demo.test",
                                         ["email": "Instructor@Demo.test", "role": "manager"])
            #expect(manager.status == .ok)
            #expect(try manager.content.decode(MemberDTO.self).role == "manager")
            // The instructor now manages that programme (and only that one).
            let course = try await send(app, .POST, "api/v1/programmes/\(programme.id)/courses", as: "instructor@demo.test",
                                        ["code": "EAI200", "title": "Edge inference", "term": "Spring 2027", "startsOn": "2027-02-01", "endsOn": "2027-06-30"])
            #expect(course.status == .created)
            let courseID = try course.content.decode(CourseDTO.self).id
            let project = try await send(app, .POST, "api/v1/programmes/\(programme.id)/projects", as: "instructor@demo.test",
                                         ["title": "Tiny models on cameras", "summary": "Quantised vision models."])
            #expect(project.status == .created)
            #expect(try project.content.decode(ProjectDTO.self).status == "draft")
            let demoProgramme = try #require(try await Programme.query(on: app.db).filter(\.$name != "Edge AI Lab").first()).requireID()
            let elsewhere = try await send(app, .POST, "api/v1/programmes/\(demoProgramme)/courses", as: "instructor@demo.test",
                                           ["code": "X1", "title": "X", "term": "T", "startsOn": "2027-02-01", "endsOn": "2027-06-30"])
            #expect(elsewhere.status == .notFound)
            // The same code in the same term twice is refused.
            let again = try await send(app, .POST, "api/v1/programmes/\(programme.id)/courses", as: "instructor@demo.test",
                                       ["code": "EAI200", "title": "Again", "term": "Spring 2027", "startsOn": "2027-02-01", "endsOn": "2027-06-30"])
            #expect(again.status == .conflict)  // taken: it clashes with what exists (409), the input itself is fine
            let changed = try await send(app, .PATCH, "api/v1/courses/\(courseID)", as: "instructor@demo.test", ["title": "Edge inference at scale"])
            #expect(try changed.content.decode(CourseDTO.self).title == "Edge inference at scale")
            #expect(try await Course.find(courseID, on: app.db)?.code == "EAI200")
        }
    }

    @Test func badInputIsRefusedWithEveryProblemAndWritesNothing() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let before = try await Programme.query(on: app.db).count()
            let bad = try await send(app, .POST, "api/v1/programmes", as: "admin@demo.test",
                                     ["name": "  ", "partnerOrganisation": "P", "startsOn": "2027-02-30", "endsOn": "soon"])
            #expect(bad.status == .unprocessableEntity)
            let listed = try problems(bad)
            #expect(listed.contains("name is missing."))
            #expect(listed.contains { $0.contains("'2027-02-30' is not a date") })
            #expect(listed.contains { $0.contains("'soon' is not a date") })
            let backwards = try await send(app, .POST, "api/v1/programmes", as: "admin@demo.test",
                                           ["name": "N", "partnerOrganisation": "P", "startsOn": "2027-02-01", "endsOn": "2027-01-01"])
            #expect(try problems(backwards) == ["the end date is before the start date."])
            let typo = try await send(app, .POST, "api/v1/programmes", as: "admin@demo.test",
                                      ["name": "N", "partnerOrganisation": "P", "startsOn": "2027-02-01", "endsOn": "2027-03-01", "descripton": "x"])
            #expect(typo.status == .unprocessableEntity)
            #expect(typo.body.string.contains("Unknown field 'descripton'"))
            let wrongType = try await send(app, .POST, "api/v1/programmes", as: "admin@demo.test", ["name": 42])
            #expect(wrongType.status == .badRequest)
            #expect(wrongType.body.string.contains("'name' has the wrong type"))
            var headers = try await app.bearer("admin@demo.test")
            headers.contentType = .json
            let broken = try await app.testing().sendRequest(.POST, "api/v1/programmes", headers: headers, body: ByteBuffer(string: "{\"name\": "))
            #expect(broken.status == .badRequest)
            #expect(try await Programme.query(on: app.db).count() == before)
            // A change with one bad field changes nothing at all.
            let id = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first()).requireID()
            let half = try await send(app, .PATCH, "api/v1/courses/\(id)", as: "instructor@demo.test", ["title": "New title", "endsOn": "1999-01-01"])
            #expect(half.status == .unprocessableEntity)
            #expect(try await Course.find(id, on: app.db)?.title == "Introduction to Programming")
        }
    }

    /// Found by schemathesis (issue 19): the same new person added to a course by several requests at once made the
    /// losers answer 500 ("database is locked" on SQLite, a unique violation on PostgreSQL). Each request now waits
    /// its turn to write, and one that finds the person created meanwhile answers 409 or adds them: never 500, and the
    /// person exists once.
    @Test func aNewPersonAddedByManyRequestsAtOnceExistsOnceAndNoRequestFails() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cc-race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // A file, as deployments use (the in-memory test database has a single connection and never meets the lock).
        let database: DatabaseURL? = TestDatabase.postgresServer == nil ? .sqliteFile(path: folder.appendingPathComponent("race.sqlite").path) : nil
        try await withTestApp(database: database) { app in
            try await app.loadDemoData()
            let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first()).requireID()
            var bearer = try await app.bearer("instructor@demo.test")
            bearer.contentType = .json
            let headers = bearer, body = try json(["email": "newcomer@demo.test", "name": "New Comer", "role": "student"])
            let statuses = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await app.testing().sendRequest(.PUT, "api/v1/courses/\(course)/members", headers: headers, body: body).status }
                }
                return try await group.reduce(into: [HTTPStatus]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .ok || $0 == .conflict }, "\(statuses)")
            #expect(statuses.contains(.ok))
            #expect(try await User.query(on: app.db).filter(\.$email == "newcomer@demo.test").count() == 1)
            #expect(try await CourseMember.query(on: app.db).filter(\.$course.$id == course).join(User.self, on: \CourseMember.$user.$id == \User.$id)
                .filter(User.self, \.$email == "newcomer@demo.test").count() == 1)

            // An existing account made a member by many requests at once (as a manager's change races a sign-in's
            // insert): one membership, and a request that lost the race is told so (409), never a 500.
            let programme = try #require(try await Programme.query(on: app.db).first()).requireID()
            var manager = try await app.bearer("admin@demo.test")
            manager.contentType = .json
            let managerHeaders = manager, creator = try json(["email": "ta@demo.test", "role": "course_creator"])
            let raced = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await app.testing().sendRequest(.PUT, "api/v1/programmes/\(programme)/members", headers: managerHeaders, body: creator).status }
                }
                return try await group.reduce(into: [HTTPStatus]()) { $0.append($1) }
            }
            #expect(raced.allSatisfy { $0 == .ok || $0 == .conflict }, "\(raced)")
            #expect(try await ProgrammeMember.query(on: app.db).filter(\.$programme.$id == programme).join(User.self, on: \ProgrammeMember.$user.$id == \User.$id)
                .filter(User.self, \.$email == "ta@demo.test").count() == 1)
        }
    }

    @Test func instructorsAddOnePersonAndTAsCannot() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let id = try #require(try await Course.query(on: app.db).filter(\.$code == "CS340").first()).requireID()
            let path = "api/v1/courses/\(id)/members"
            let nameless = try await send(app, .PUT, path, as: "instructor@demo.test", ["email": "new.student@demo.test", "role": "student"])
            #expect(nameless.status == .conflict)
            #expect(try await User.query(on: app.db).filter(\.$email == "new.student@demo.test").count() == 0)
            let added = try await send(app, .PUT, path, as: "instructor@demo.test",
                                       ["email": "new.student@demo.test", "role": "student", "name": "Nova Student"])
            #expect(added.status == .ok)
            let answer = try added.content.decode(CourseMemberDTO.self)
            #expect(answer.invitation?.contains("/set-password?token=") == true)
            let promoted = try await send(app, .PUT, path, as: "instructor@demo.test", ["email": "new.student@demo.test", "role": "ta"])
            #expect(try promoted.content.decode(CourseMemberDTO.self).member.role == "ta")
            #expect(try promoted.content.decode(CourseMemberDTO.self).invitation == nil)
            let badRole = try await send(app, .PUT, path, as: "instructor@demo.test", ["email": "student1@demo.test", "role": "dean"])
            #expect(try problems(badRole) == ["role 'dean' is not one of instructor, ta, student."])
            let byTA = try await send(app, .PUT, "api/v1/courses/\(try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first()).requireID())/members",
                                      as: "ta@demo.test", ["email": "student1@demo.test", "role": "ta"])
            #expect(byTA.status == .notFound)
            let roster = try await send(app, .GET, "api/v1/courses/\(id)/roster?per=500", as: "instructor@demo.test")
            let entries = try roster.content.decode(Page<Rosters.Entry>.self).items
            #expect(entries.first { $0.email == "new.student@demo.test" }?.role == .ta)
            // Removing takes effect at once; the same removal again is harmless.
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student16@demo.test").first()).requireID()
            #expect(try await send(app, .DELETE, path + "/\(student)", as: "instructor@demo.test").status == .noContent)
            #expect(try await send(app, .DELETE, path + "/\(student)", as: "instructor@demo.test").status == .noContent)
            #expect(try await send(app, .GET, "api/v1/courses/\(id)", as: "student16@demo.test").status == .notFound)
            #expect(try await send(app, .DELETE, path + "/\(UUID())", as: "instructor@demo.test").status == .notFound)
        }
    }

    @Test func projectMembersAreManagedByThePIButNotByTheMentor() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let id = try #require(try await ResearchProject.query(on: app.db).first()).requireID()
            let path = "api/v1/projects/\(id)/members"
            let unknown = try await send(app, .PUT, path, as: "instructor@demo.test", ["email": "nobody@demo.test", "role": "member"])
            #expect(try problems(unknown) == ["Nobody has the email nobody@demo.test. An administrator creates their account first."])
            let added = try await send(app, .PUT, path, as: "instructor@demo.test", ["email": "student20@demo.test", "role": "member"])
            #expect(added.status == .ok)
            #expect(try await send(app, .PUT, path, as: "mentor@partner.test", ["email": "student21@demo.test", "role": "member"]).status == .notFound)
            // The demo project is active: its PI may complete it (the lifecycle's rules apply to PATCH too).
            #expect(try await send(app, .PATCH, "api/v1/projects/\(id)", as: "instructor@demo.test", ["status": "submitted"]).status == .conflict)
            let project = try await send(app, .PATCH, "api/v1/projects/\(id)", as: "instructor@demo.test", ["status": "completed"])
            #expect(try project.content.decode(ProjectDTO.self).status == "completed")
            #expect(try project.content.decode(ProjectDTO.self).members.count == 4)
            let badStatus = try await send(app, .PATCH, "api/v1/projects/\(id)", as: "instructor@demo.test", ["status": "finished"])
            #expect(badStatus.status == .unprocessableEntity)
        }
    }

    @Test func adminsManageAccountsAndADeactivatedPersonIsLockedOutAtOnce() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let created = try await send(app, .POST, "api/v1/users", as: "admin@demo.test", ["email": "Dana@Example.edu", "name": "Dana Scully"])
            #expect(created.status == .created)
            let newUser = try created.content.decode(NewUserDTO.self)
            #expect(newUser.user.email == "dana@example.edu" && !newUser.user.hasPassword)
            #expect(newUser.invitation.contains("/set-password?token="))
            let duplicate = try await send(app, .POST, "api/v1/users", as: "admin@demo.test", ["email": "dana@example.edu", "name": "Again"])
            #expect(duplicate.status == .conflict)
            let search = try await send(app, .GET, "api/v1/users?q=student2&per=5", as: "admin@demo.test")
            let page = try search.content.decode(Page<UserDTO>.self)
            #expect(page.metadata.total == 11)  // student2, student20…29
            #expect(page.items.count == 5)
            // The student's key and session stop working when they are deactivated.
            let studentHeaders = try await app.bearer("student3@demo.test")
            let studentBrowser = try Browser(app)
            try await studentBrowser.signIn("student3@demo.test")
            #expect(try await studentBrowser.get("/dashboard").status == .ok)
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student3@demo.test").first()).requireID()
            let off = try await send(app, .PATCH, "api/v1/users/\(student)", as: "admin@demo.test", ["isActive": false])
            #expect(try off.content.decode(UserDTO.self).isActive == false)
            #expect(try await app.testing().sendRequest(.GET, "api/v1/me", headers: studentHeaders).status == .unauthorized)
            #expect(try await studentBrowser.get("/dashboard").headers.first(name: .location)?.hasPrefix("/signin") == true)
            let signIn = try await Browser(app).signIn("student3@demo.test")
            #expect(signIn.headers.first(name: .location) != "/dashboard")
            // Nobody locks themselves out.
            let admin = try #require(try await User.query(on: app.db).filter(\.$email == "admin@demo.test").first()).requireID()
            let selfOff = try await send(app, .PATCH, "api/v1/users/\(admin)", as: "admin@demo.test", ["isAdmin": false])
            #expect(selfOff.status == .unprocessableEntity)
            #expect(try await User.find(admin, on: app.db)?.isAdmin == true)
        }
    }

    @Test func theFormsWorkWithoutJavaScriptAndShowWhatHappened() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let admin = try Browser(app)
            try await admin.signIn("admin@demo.test")
            _ = try await admin.get("/admin/programmes")
            let created = try await admin.post("/admin/programmes", ["name": "Quantum Pilot", "partnerOrganisation": "Qubit Co",
                                                                      "startsOn": "2027-01-01", "endsOn": "2027-12-31", "description": "A pilot."])
            #expect(created.status == .seeOther)
            let location = try #require(created.headers.first(name: .location))
            let programmePage = try await admin.get(location)
            #expect(programmePage.body.string.contains("Created the programme."))
            #expect(try await admin.get(location).body.string.contains("Created the programme.") == false)  // shown once
            let bad = try await admin.post(location + "/courses", ["code": "Q1", "title": "", "term": "T", "startsOn": "2027-01-01", "endsOn": "2026-01-01"])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("title is missing."))
            #expect(bad.body.string.contains("the end date is before the start date."))
            _ = try await admin.get("/admin/users")
            let person = try await admin.post("/admin/users", ["email": "eve@example.edu", "name": "Eve Example"])
            #expect(person.status == .seeOther)
            let users = try await admin.get("/admin/users?q=eve")
            #expect(users.body.string.contains("Created eve@example.edu. Give them this invitation link"))
            #expect(users.body.string.contains("invitation not used yet"))
            // Without the page's CSRF token nothing happens.
            let forged = try await admin.post("/admin/users", ["email": "mallory@example.edu", "name": "Mallory"], csrf: .some(nil))
            #expect(forged.status == .forbidden)
            #expect(try await User.query(on: app.db).filter(\.$email == "mallory@example.edu").count() == 0)

            let instructor = try Browser(app)
            try await instructor.signIn("instructor@demo.test")
            let course = try #require(try await Course.query(on: app.db).filter(\.$code == "CS340").first()).requireID()
            _ = try await instructor.get("/courses/\(course)")
            let add = try await instructor.post("/courses/\(course)/members", ["email": "walk.in@demo.test", "name": "Walk In", "role": "student"])
            #expect(add.status == .seeOther)
            let page = try await instructor.get("/courses/\(course)")
            #expect(page.body.string.contains("Walk In is now student in CS340. They have no account yet"))
            #expect(page.body.string.contains("walk.in@demo.test"))
        }
    }
}
