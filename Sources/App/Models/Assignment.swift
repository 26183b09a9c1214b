// A coding assignment in a course: instructions, dates, rules, limits, and one autograder (a Gradescope zip or
// Classroom I/O tests). The autograder's files live in the database so workers on any machine can grade.
import Fluent
import Foundation
import Grading

enum SetupStatus: String, Codable, Sendable {
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
    var layerID: String { "ag-\(id!.uuidString.lowercased())-v\(autograderVersion)" }
    var isReleased: Bool { releaseAt.map { $0 <= Date() } ?? true }
    var gradesPublished: Bool { gradesPublishedAt != nil }
}

extension Assignment {
    /// The assignment without its autograder zip (up to 50 MB, needed only to set the autograder up, and then read
    /// by `Assignments.autograderFiles`): what a grading run loads.
    static func forGrading(_ id: UUID, on db: any Database) async throws -> Assignment? {
        let query = Assignment.query(on: db).filter(\.$id == id)
        query.query.fields = Assignment.keys.filter { $0 != "autograder_zip" }.map { .path([$0], schema: Assignment.schema) }
        return try await query.first()
    }
}
