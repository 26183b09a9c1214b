// What the templates of a course's page are given (their view-models; links come from SitePath).
import Foundation
import Vapor

struct CoursePage: Encodable {
    var title: String
    var page: PageContext
    var course: CourseDTO
    var roster: [Rosters.Entry]?
    var canManage: Bool
    var problems: [String]?
    var summary: RosterImportSummary?
    var form: CourseInput
    var roles = CourseRole.allCases.map(\.rawValue)
    var assignments: [AssignmentLink]
    var canGrade: Bool
    var kinds = ["classroom", "gradescope"]
}

struct AssignmentLink: Encodable {
    var id: UUID
    var title: String
    var kind: String
    var due: String?
    var released: Bool
    var setupStatus: String
}
