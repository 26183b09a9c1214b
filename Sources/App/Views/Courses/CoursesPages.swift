// What the templates of a course's page are given (their view-models; links come from SitePath).
import Foundation
import Labs
import Vapor

/// A course's pages and forms, for the templates that link to them.
struct CourseLinks: Encodable {
    var page, credits, ai, aiKeys, aiPolicy, grades, gradebook, gradebookCSV, newAssignment, newLab, members, roster, rosterCSV, overview, atRisk: String

    init(_ id: UUID) {
        func url(_ path: SitePath) -> String { path.url }
        (page, credits) = (url(.course(.id(id))), url(.courseCredits(.id(id))))
        (ai, aiKeys, aiPolicy) = (url(.courseAI(.id(id))), url(.courseAIKeys(.id(id))), url(.courseAIPolicy(.id(id))))
        (grades, gradebook, newAssignment) = (url(.myGrades(.id(id))), url(.gradebook(.id(id))), url(.courseAssignments(.id(id))))
        (newLab, overview, atRisk) = (url(.courseLabs(.id(id))), url(.courseOverview(.id(id))), url(.courseRiskFlags(.id(id))))
        (members, roster, rosterCSV) = (url(.courseMembers(.id(id))), url(.courseRoster(.id(id))), url(.courseRosterCSV(.id(id))))
        gradebookCSV = "/api/v1/courses/\(id)/gradebook.csv"  // the API's download (getGradebookCSV)
    }
}

struct CoursePage: Encodable {
    struct Member: Encodable {
        var name: String, email: String, role: CourseRole, remove: String
        /// Left the course at its LMS (no longer let in).
        var left: String?
        init(_ entry: Rosters.Entry, course: UUID) {
            (name, email, role) = (entry.name, entry.email, entry.role)
            left = entry.leftAt.flatMap(PageFormat.when)
            remove = SitePath.removeCourseMember(.id(course), user: .id(entry.userID)).url
        }
    }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var links: CourseLinks
    /// A page of the roster (50 people).
    var roster: [Member]?
    var rosterPager: Pager?
    var canManage: Bool
    var problems: [String]?
    var summary: RosterImportSummary?
    var form: CourseInput
    var roles = CourseRole.allCases.map(\.rawValue)
    var assignments: [AssignmentLink]
    var canGrade: Bool
    var labs: [LabRow]
    var canManageLabs: Bool
    var labKinds = LabKind.allCases.map(\.rawValue)
}

struct AssignmentLink: Encodable {
    var link: String
    var title: String
    var kind: String
    var due: String?
    var released: Bool
    var setupStatus: String
}

/// A lab environment in the course page's list.
struct LabRow: Encodable {
    var link: String
    var name: String
    var kind: String
    var openTo: String
    var setupStatus: String
}
