// One hand-in of an assignment and its grading: the files are kept (SubmissionFile), the autograder's result is
// stored as Gradescope's results.json text (both kinds), staff adjustments apart (GradeAdjustment).
import Fluent
import SQLKit
import Foundation

enum SubmissionStatus: String, Codable, Sendable, CaseIterable { case queued, running, graded, failed }

final class Submission: Model, @unchecked Sendable {
    static let schema = "submissions"
    @ID(key: .id) var id: UUID?
    @Parent(key: "assignment_id") var assignment: Assignment
    /// Whose submission it is (for a staff test run, the staff member).
    @Parent(key: "user_id") var user: User
    /// A run by course staff to try the autograder: charged to the course, left out of the gradebook.
    @Field(key: "is_test_run") var isTestRun: Bool
    /// 1, 2, … per person and assignment; unique, so concurrent hand-ins cannot exceed the maximum.
    @Field(key: "attempt") var attempt: Int
    @Field(key: "status") var status: SubmissionStatus
    @Field(key: "submitted_at") var submittedAt: Date
    @OptionalField(key: "graded_at") var gradedAt: Date?
    @OptionalField(key: "score") var score: Double?
    @OptionalField(key: "max_score") var maxScore: Double?
    /// results.json (Gradescope's form), for viewers filtered by visibility.
    @OptionalField(key: "results") var results: String?
    /// Why it could not be graded normally (the score is then 0).
    @OptionalField(key: "problem") var problem: String?
    /// The run's output and error, capped: for staff.
    @OptionalField(key: "log") var log: String?
    @Field(key: "cpu_ms") var cpuMs: Int
    @Field(key: "wall_ms") var wallMs: Int
    @OptionalField(key: "hold_id") var holdID: UUID?
    /// Micro-credits charged over all runs.
    @Field(key: "charged") var charged: Int64
    /// How many grading runs were asked for (1 + regrades).
    @Field(key: "runs") var runs: Int
    @OptionalField(key: "job_id") var jobID: UUID?

    init() {}

    var isFinished: Bool { status == .graded || status == .failed }
}

final class SubmissionFile: Model, @unchecked Sendable {
    static let schema = "submission_files"
    @ID(key: .id) var id: UUID?
    @Parent(key: "submission_id") var submission: Submission
    @Field(key: "path") var path: String
    @Field(key: "contents") var contents: Data

    init() {}
    init(submissionID: UUID, path: String, contents: Data) {
        self.$submission.id = submissionID
        self.path = path
        self.contents = contents
    }
}

/// A manual change to a submission's score by an instructor or TA, with its reason. Never edited or deleted: a
/// correction is another adjustment, so the list is the audit trail.
final class GradeAdjustment: Model, @unchecked Sendable {
    static let schema = "grade_adjustments"
    @ID(key: .id) var id: UUID?
    @Parent(key: "submission_id") var submission: Submission
    @Parent(key: "author_id") var author: User
    @Field(key: "points") var points: Double
    @Field(key: "comment") var comment: String
    @Field(key: "created_at") var createdAt: Date

    init() {}
    init(submissionID: UUID, authorID: UUID, points: Double, comment: String, at time: Date) {
        self.$submission.id = submissionID
        self.$author.id = authorID
        self.points = points
        self.comment = comment
        createdAt = time
    }
}

extension SubmissionFile {
    /// A hand-in's files in one INSERT (one statement, whatever the number of files).
    static func insert(_ files: [String: Data], of submissionID: UUID, on db: any Database) async throws {
        guard !files.isEmpty else { return }
        guard let sql = db as? any SQLDatabase else {
            for (path, data) in files.sorted(by: { $0.key < $1.key }) {
                try await SubmissionFile(submissionID: submissionID, path: path, contents: data).create(on: db)
            }
            return
        }
        var insert = sql.insert(into: schema).columns("id", "submission_id", "path", "contents")
        for (path, data) in files.sorted(by: { $0.key < $1.key }) {
            insert = insert.values(SQLBind(UUID()), SQLBind(submissionID), SQLBind(path), SQLBind(data))
        }
        try await insert.run()
    }
}
