// One student in a course, for its staff: each assignment's counted score (as the gradebook counts it), attempts,
// the tests their latest graded attempt failed, credits used and left, AI use by model and lab minutes. A fixed
// number of statements; someone who is not a student of the course is not found.
import Fluent
import Foundation
import Insight
import Ledger
import SQLKit
import Vapor

struct StudentOverviewDTO: Content {
    struct AssignmentLine: Content, Equatable {
        var assignmentID: UUID
        var title: String
        var dueAt: Date?
        var pointsPossible: Double?
        var score: Double?
        var attempts: Int
        var latestSubmissionID: UUID?
        var lastHandIn: Date?
        /// Tests the latest graded attempt failed, in results.json's order.
        var failing: [String]
        var testsRun: Int
    }
    var courseID: UUID
    var userID: UUID
    var name: String
    var email: String
    var assignments: [AssignmentLine]
    var creditsUsed: Credits
    var creditsFree: Credits?
    var aiByModel: [CourseOverviewDTO.ModelUse]
    var labMinutes: Int
}

enum StudentInsights {
    static func overview(_ course: Course, userID: UUID, now: Date, on db: any Database) async throws -> StudentOverviewDTO {
        let courseID = try course.requireID(), sql = try db.sqlDatabase()
        // 1–4. Their row of the gradebook.
        let gradebook = try await GradebookData.load(course, onlyUser: userID, on: db)
        guard let row = gradebook.rows.first else { throw Abort(.notFound, reason: "No such student in this course.") }
        // 5. Their counted hand-ins, newest first.
        let handIns = try await Submission.query(on: db).join(Assignment.self, on: \Submission.$assignment.$id == \Assignment.$id)
            .filter(Assignment.self, \.$course.$id == courseID).filter(\.$user.$id == userID).filter(\.$isTestRun == false)
            .sort(\.$attempt, .descending).field(\.$id).field(\.$assignment.$id).field(\.$attempt).field(\.$status).field(\.$submittedAt).all()
        let byAssignment = Dictionary(grouping: handIns, by: { $0.$assignment.id })
        // 6. The tests of their latest graded attempt of each assignment.
        var tests: [UUID: [(position: Int, name: String, passed: Bool)]] = [:]
        for test in try await sql.raw("""
            SELECT s.assignment_id AS assignment, t.position AS position, t.name AS name, t.passed AS passed
            FROM submission_tests t JOIN submissions s ON s.id = t.submission_id JOIN assignments a ON a.id = s.assignment_id
            WHERE a.course_id = \(bind: courseID) AND s.user_id = \(bind: userID) AND \(CourseInsights.latestGraded)
            """).all() {
            tests[try test.decode(column: "assignment", as: UUID.self), default: []].append(
                (try test.decode(column: "position", as: Int.self), try test.decode(column: "name", as: String.self), try test.decode(column: "passed", as: Bool.self)))
        }
        let lines = gradebook.columns.enumerated().map { index, column in
            let mine = byAssignment[column.assignmentID] ?? [], ran = (tests[column.assignmentID] ?? []).sorted { $0.position < $1.position }
            return StudentOverviewDTO.AssignmentLine(
                assignmentID: column.assignmentID, title: column.title, dueAt: column.dueAt, pointsPossible: column.pointsPossible, score: row.scores[index],
                attempts: mine.count, latestSubmissionID: mine.first?.id, lastHandIn: mine.map(\.submittedAt).max(),
                failing: ran.filter { !$0.passed }.map(\.name), testsRun: ran.count)
        }
        // 7. Their allowance in the course.
        let allowance = try await LedgerAccount.query(on: db).filter(\.$courseID == courseID).filter(\.$userID == userID).filter(\.$kind == .allowance).first()
        // 8. Their AI use by model.
        let ai = try await CourseInsights.aiByModel(.course(courseID, person: userID), on: db).map(\.use)
        // 9. Their lab minutes.
        let minutes = try await CourseInsights.labMinutes(courseID: courseID, userID: userID, now: now, on: db)
        return StudentOverviewDTO(courseID: courseID, userID: userID, name: row.name, email: row.email, assignments: lines,
                                  creditsUsed: Credits(micro: allowance?.spent ?? 0), creditsFree: allowance.map { Credits(micro: $0.balance) },
                                  aiByModel: ai, labMinutes: minutes[userID] ?? 0)
    }
}
