import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
@testable import App

@Suite struct ProgrammeTests {
    @Test func thePartnerSeesCountsPerCourseButNoStudentsName() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let id = try #require(try await Programme.query(on: app.db).first()).requireID()
            let response = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(id)", headers: try await app.bearer("mentor@partner.test"))
            #expect(response.status == .ok)
            let programme = try response.content.decode(ProgrammeDTO.self)
            #expect(programme.yourRole == "partner_contact")
            #expect(programme.courses.map(\.code) == ["CS101", "CS340"])
            #expect(programme.courses.map(\.students) == [30, 15])
            // Counts of 1 to 4 people are withheld from the partner (the university's staff see them).
            #expect(programme.courses.map(\.staff) == [nil, nil])
            #expect(programme.projects.map(\.members) == [nil])
            let full = try await app.testing().sendRequest(.GET, "api/v1/programmes/\(id)", headers: try await app.bearer("admin@demo.test")).content.decode(ProgrammeDTO.self)
            #expect(full.courses.map(\.staff) == [2, 1] && full.projects.map(\.members) == [3])
            #expect(!response.body.string.contains("Student 1"))
            #expect(!response.body.string.contains("@demo.test"))
            let browser = try Browser(app)
            try await browser.signIn("mentor@partner.test")
            let page = try await browser.get("/programmes/\(id)")
            #expect(page.status == .ok)
            #expect(!page.body.string.contains("Student 1<"))
        }
    }

    @Test func programmeListsShowOnlyOnesOwnExceptForAdmins() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let other = Programme(name: "Another partnership", partnerOrganisation: "Other Co", startsOn: Date(), endsOn: Date(), description: "")
            try await other.create(on: app.db)
            let forMentor = try await app.testing().sendRequest(.GET, "api/v1/programmes", headers: try await app.bearer("mentor@partner.test"))
            #expect(try forMentor.content.decode(Page<ProgrammeSummaryDTO>.self).items.map(\.partnerOrganisation) == ["Nimbus Cloud"])
            let forAdmin = try await app.testing().sendRequest(.GET, "api/v1/programmes", headers: try await app.bearer("admin@demo.test"))
            #expect(try forAdmin.content.decode(Page<ProgrammeSummaryDTO>.self).metadata.total == 2)
            let forStudent = try await app.testing().sendRequest(.GET, "api/v1/programmes", headers: try await app.bearer("student1@demo.test"))
            #expect(try forStudent.content.decode(Page<ProgrammeSummaryDTO>.self).items.isEmpty)
        }
    }

    @Test func aProjectShowsItsMembersToThemAndToNobodyElse() async throws {
        try await withTestApp { app in
            try await app.loadDemoData()
            let id = try #require(try await ResearchProject.query(on: app.db).first()).requireID()
            let response = try await app.testing().sendRequest(.GET, "api/v1/projects/\(id)", headers: try await app.bearer("ta@demo.test"))
            let project = try response.content.decode(ProjectDTO.self)
            #expect(project.members.map(\.role) == ["pi", "mentor", "member"])
            let outsider = try await app.testing().sendRequest(.GET, "api/v1/projects/\(id)", headers: try await app.bearer("student9@demo.test"))
            #expect(outsider.status == .notFound)
        }
    }
}
