// A coding assignment in a course: instructions, dates, rules, limits, and one autograder (a Gradescope zip or
// Classroom I/O tests). The autograder's files live in the database so workers on any machine can grade.
import Fluent
import Foundation
import Grading
import SQLKit

enum SetupStatus: String, Codable, Sendable, CaseIterable {
    /// Classroom tests need no set-up.
    case notNeeded = "not_needed"
    case pending, ready, failed
}

final class Assignment: Model, @unchecked Sendable {
    static let schema = "assignments"
    @ID(key: .id) var id: UUID?
    @Parent(key: "course_id") var course: Course
    @Field(key: "title") var title: String
    /// Markdown, rendered with Ink and sanitised when shown.
    @Field(key: "instructions") var instructions: String
    @Field(key: "kind") var kind: AutograderKind
    @OptionalField(key: "release_at") var releaseAt: Date?
    @OptionalField(key: "due_at") var dueAt: Date?
    /// `none`, `hard`, or `penalty:N` (N percent per started day).
    @Field(key: "late_policy") var latePolicyText: String
    @OptionalField(key: "max_submissions") var maxSubmissions: Int?
    /// Names or patterns, one per line.
    @Field(key: "required_files") var requiredFilesText: String
    @Field(key: "time_limit_seconds") var timeLimitSeconds: Int
    @Field(key: "memory_mb") var memoryMB: Int
    /// How much the autograder's setup.sh may write into its environment layer (MB); over it the setup fails.
    @Field(key: "setup_disk_mb") var setupDiskMB: Int
    @Field(key: "counted") var counted: CountedAttempt
    @OptionalField(key: "points_possible") var pointsPossible: Double?
    @OptionalField(key: "grades_published_at") var gradesPublishedAt: Date?
    /// Goes up with each new autograder; a layer is built per version.
    @Field(key: "autograder_version") var autograderVersion: Int
    @OptionalField(key: "autograder_zip") var autograderZip: Data?
    @OptionalField(key: "classroom_tests") var classroomTests: String?
    @Field(key: "setup_status") var setupStatus: SetupStatus
    @OptionalField(key: "setup_log") var setupLog: String?
    @OptionalField(key: "regrade_started_at") var regradeStartedAt: Date?
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date

    init() {}

    var latePolicy: LatePolicy { LatePolicy(text: latePolicyText) ?? .none }
    var requiredFiles: [String] { requiredFilesText.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    var layerID: String { grading.layerID }
    func isReleased(at now: Date) -> Bool { releaseAt.map { $0 <= now } ?? true }
    var gradesPublished: Bool { gradesPublishedAt != nil }
}

/// An assignment as a grading run sees it: its limits, what its metadata names, and its autograder without the
/// zip (up to 50 MB, read by `Assignments.autograderFiles` only where a layer must be built). Workers load it
/// with the submission in one statement (`GradeRunHandler`); `Assignment.grading` gives it for a loaded model.
struct GradingAssignment: Sendable {
    var id: UUID
    var courseID: UUID
    var title: String
    var kind: AutograderKind
    var releaseAt: Date?
    var dueAt: Date?
    var timeLimitSeconds: Int
    var memoryMB: Int
    var setupDiskMB: Int
    var pointsPossible: Double?
    var autograderVersion: Int
    var classroomTests: String?

    /// The environment layer of this autograder version (one per version, built by its setup.sh).
    var layerID: String { "ag-\(id.uuidString.lowercased())-v\(autograderVersion)" }

    /// The columns `init(row:prefix:)` reads, for a SELECT of `table` (the assignments table or its alias).
    static func columns(of table: String) -> String {
        ["id", "course_id", "title", "kind", "release_at", "due_at", "time_limit_seconds", "memory_mb", "setup_disk_mb", "points_possible",
         "autograder_version", "classroom_tests"].map { "\(table).\($0) AS a_\($0)" }.joined(separator: ", ")
    }

    init(row: any SQLRow) throws {
        func column<T: Decodable>(_ name: String, _ type: T.Type) throws -> T { try row.decode(column: "a_" + name, as: T.self) }
        id = try column("id", UUID.self)
        courseID = try column("course_id", UUID.self)
        title = try column("title", String.self)
        kind = try column("kind", AutograderKind.self)
        releaseAt = try column("release_at", Date?.self)
        dueAt = try column("due_at", Date?.self)
        timeLimitSeconds = try column("time_limit_seconds", Int.self)
        memoryMB = try column("memory_mb", Int.self)
        setupDiskMB = try column("setup_disk_mb", Int.self)
        pointsPossible = try column("points_possible", Double?.self)
        autograderVersion = try column("autograder_version", Int.self)
        classroomTests = try column("classroom_tests", String?.self)
    }

    init(_ assignment: Assignment) {
        id = assignment.id!
        courseID = assignment.$course.id
        title = assignment.title
        kind = assignment.kind
        releaseAt = assignment.releaseAt
        dueAt = assignment.dueAt
        timeLimitSeconds = assignment.timeLimitSeconds
        memoryMB = assignment.memoryMB
        setupDiskMB = assignment.setupDiskMB
        pointsPossible = assignment.pointsPossible
        autograderVersion = assignment.autograderVersion
        classroomTests = assignment.classroomTests
    }
}

extension Assignment {
    /// What a grading run needs of this assignment (the model must have its id).
    var grading: GradingAssignment { GradingAssignment(self) }
}
