// What the templates of a programme's page are given (their view-models; links come from SitePath).
import Foundation
import Insight
import Vapor

/// A programme's pages and forms.
struct ProgrammeLinks: Encodable {
    var page, credits, report, reportCSV, members, newCourse, newProject, analytics: String
    /// The API's report as JSON (getProgrammeReport).
    var reportJSON: String

    init(_ id: UUID) {
        (page, credits) = (SitePath.programme(.id(id)).url, SitePath.programmeCredits(.id(id)).url)
        (report, reportCSV, members) = (SitePath.programmeReport(.id(id)).url, SitePath.programmeReportCSV(.id(id)).url, SitePath.programmeMembers(.id(id)).url)
        (newCourse, newProject) = (SitePath.programmeCourses(.id(id)).url, SitePath.programmeProjects(.id(id)).url)
        reportJSON = "/api/v1/programmes/\(id)/report"
        analytics = SitePath.programmeAnalytics(.id(id)).url
    }
}

struct ProgrammePage: Encodable {
    struct Course: Encodable { var link: String; var code: String; var title: String; var term: String; var students: String; var staff: String }
    struct Project: Encodable { var link: String; var title: String; var status: String; var members: String }
    struct Member: Encodable { var name: String; var role: String; var remove: String }
    var title: String
    var page: PageContext
    var programme: ProgrammeDTO
    var links: ProgrammeLinks
    var courses: [Course]
    var projects: [Project]
    var members: [Member]
    var canManage: Bool
    /// Managers, and course creators (who become the course's instructor).
    var canCreateCourse: Bool
    /// Managers and partner contacts: the credits, the report and the people.
    var canSeeCredits: Bool
    var form: ProgrammeInput
    var roles = ProgrammeRole.allCases.map(\.rawValue)

    init(title: String, page: PageContext, programme: ProgrammeDTO, members: [MemberDTO], canManage: Bool, canCreateCourse: Bool, canSeeCredits: Bool,
         form: ProgrammeInput) {
        (self.title, self.page, self.programme, self.canManage, self.canCreateCourse, self.form) = (title, page, programme, canManage, canCreateCourse, form)
        self.canSeeCredits = canSeeCredits
        let id = programme.programme.id
        links = ProgrammeLinks(id)
        func shown(_ count: Int?) -> String { count.map(String.init) ?? SmallCells.withheldText }
        courses = programme.courses.map {
            Course(link: SitePath.course(.id($0.id)).url, code: $0.code, title: $0.title, term: $0.term, students: shown($0.students), staff: shown($0.staff))
        }
        projects = programme.projects.map { Project(link: SitePath.project(.id($0.id)).url, title: $0.title, status: $0.status, members: shown($0.members)) }
        self.members = members.map { Member(name: $0.name, role: $0.role, remove: SitePath.removeProgrammeMember(.id(id), user: .id($0.userID)).url) }
    }
}

struct ReportPage: Encodable {
    var title: String
    var page: PageContext
    var report: ProgrammeReportDTO
    var links: ProgrammeLinks
    var chart: String
    struct Count: Encodable { var name: String; var count: Int }
    var statuses: [Count]
    struct Place: Encodable { var name: String; var chart: String }
    var charts: [Place]
    /// Counts of people as shown: "fewer than 5" where withheld.
    var reached: String
    struct CourseRow: Encodable { var line: ProgrammeReportDTO.CourseLine; var students: String }
    struct ProjectRow: Encodable { var line: ProgrammeReportDTO.ProjectLine; var members: String }
    var courses: [CourseRow]
    var projects: [ProjectRow]

    init(title: String, page: PageContext, report: ProgrammeReportDTO, links: ProgrammeLinks, chart: String, statuses: [Count], charts: [Place]) {
        (self.title, self.page, self.report, self.links, self.chart, self.statuses, self.charts) = (title, page, report, links, chart, statuses, charts)
        func shown(_ count: Int?) -> String { count.map(String.init) ?? SmallCells.withheldText }
        reached = shown(report.studentsReached)
        courses = report.courses.map { CourseRow(line: $0, students: shown($0.students)) }
        projects = report.projects.map { ProjectRow(line: $0, members: shown($0.members)) }
    }
}
