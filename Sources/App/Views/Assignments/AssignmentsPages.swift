// What the templates of assignment, hand-in and gradebook pages are given (their view-models; links come from SitePath).
import Foundation
import Vapor

/// An assignment's page and forms.
struct AssignmentLinks: Encodable {
    var page, handIn, autograder, publish, regrade, lmsScores, similarity: String

    init(_ id: UUID) {
        (lmsScores, similarity) = (SitePath.lmsScores(.id(id)).url, SitePath.assignmentSimilarity(.id(id)).url)
        (page, handIn) = (SitePath.assignment(.id(id)).url, SitePath.handIn(.id(id)).url)
        (autograder, publish, regrade) = (SitePath.autograder(.id(id)).url, SitePath.publishGrades(.id(id)).url, SitePath.regradeAssignment(.id(id)).url)
    }
}

struct AssignmentPage: Encodable {
    struct Row: Encodable {
        var link: String
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
    var courseLink: String
    var assignment: AssignmentDTO
    var links: AssignmentLinks
    var instructionsHTML: String
    var due: String?
    var staff: Bool
    var canManage: Bool
    var mine: [Row]
    var everyone: [Row]?
    var progress: Grades.RegradeProgress?
    /// An LMS link opens it with a grade column (staff then see its scores there).
    var inLMS = false
}

struct SubmissionPage: Encodable {
    var title: String
    var page: PageContext
    var assignment: AssignmentDTO
    var assignmentLink: String
    var submission: SubmissionDTO
    var files: String, adjust: String, regrade: String
    var staff: Bool
    var finished: Bool
    /// "7 / 10", or why there is no score to show yet.
    var scoreText: String
}

struct GradebookPage: Encodable {
    var pager: Pager
    var title: String
    var page: PageContext
    var course: CourseDTO
    var links: CourseLinks
    /// The table's head and rows, escaped (`GradebookRows.Page`): through Leaf's loops they were most of the page's time.
    var head: String
    var body: String
}

struct MyGradesPage: Encodable {
    struct Row: Encodable { var link: String; var title: String; var due: String; var attempts: Int; var score: String; var note: String }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var courseLink: String
    var rows: [Row]
}
