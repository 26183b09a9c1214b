// What the templates of assignment, hand-in and gradebook pages are given (their view-models; links come from SitePath).
import Foundation
import Grading
import Vapor

struct AssignmentPage: Encodable {
    struct Row: Encodable {
        var id: UUID
        var who: String
        var attempt: Int
        var submittedAt: String
        var status: String
        var score: String
        var testRun: Bool
    }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var assignment: AssignmentDTO
    var instructionsHTML: String
    var due: String?
    var staff: Bool
    var canManage: Bool
    var mine: [Row]
    var everyone: [Row]?
    var progress: Grades.RegradeProgress?
    var kinds = AutograderKind.allCases.map(\.rawValue)
}

struct SubmissionPage: Encodable {
    var title: String
    var page: PageContext
    var assignment: AssignmentDTO
    var submission: SubmissionDTO
    var staff: Bool
    var finished: Bool
    /// "7 / 10", or why there is no score to show yet.
    var scoreText: String
}

struct GradebookPage: Encodable {
    struct Row: Encodable { var name: String; var email: String; var cells: [String] }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var columns: [GradebookData.Column]
    var rows: [Row]
}
