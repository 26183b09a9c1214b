// Creating and changing assignments, and giving them an autograder. The same checked input serves the API (JSON)
// and the page's form; an autograder zip is checked whole before anything is stored, and a new one is set up
// (setup.sh into an environment layer) by a queued job enqueued in the same transaction.
import Fluent
import SQLKit
import Foundation
import Grading
import Vapor

struct AssignmentInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case title, instructions, kind, releaseAt, dueAt, latePolicy, maxSubmissions, requiredFiles, timeLimitSeconds, memoryMB,
             setupDiskMB, counted, pointsPossible, classroomTests
    }
    typealias Fields = CodingKeys
    var title: String?
    var instructions: String?
    var kind: String?
    /// ISO 8601, or YYYY-MM-DDTHH:MM (UTC) as a datetime-local field sends it, or YYYY-MM-DD (midnight UTC).
    var releaseAt: String?
    var dueAt: String?
    var latePolicy: String?
    var maxSubmissions: Int?
    /// Names or patterns, one per line (or comma-separated).
    var requiredFiles: String?
    var timeLimitSeconds: Int?
    var memoryMB: Int?
    /// How much the autograder's setup.sh may write into its environment (MB).
    var setupDiskMB: Int?
    var counted: String?
    var pointsPossible: Double?
    /// For Classroom I/O tests: autograding.json's text.
    var classroomTests: String?

    init() {}
}

extension AssignmentInput: APIInput {
    static var schema: JSONSchema {
        // ISO 8601, or YYYY-MM-DD, or YYYY-MM-DDTHH:MM (UTC); empty clears it (`Assignments.dateTime`).
        let time = JSONSchema.anyOf([.string(format: "date-time"), .string(pattern: "^ *$|^ *[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2})? *$")])
        func range(_ limits: ClosedRange<Int>) -> JSONSchema { .integer(minimum: limits.lowerBound, maximum: limits.upperBound) }
        return .object([
            "title": .text(), "instructions": .string(maxLength: Assignments.maxInstructions), "kind": .choice(AutograderKind.self),
            "releaseAt": time, "dueAt": time,
            "latePolicy": .string(pattern: "^ *$|^ *(none|hard|penalty:([1-9][0-9]?|100)) *$"), "maxSubmissions": range(0...1000), "requiredFiles": .string(),
            "timeLimitSeconds": range(Assignments.timeLimits), "memoryMB": range(Assignments.memoryLimits), "setupDiskMB": range(Assignments.setupDiskLimits),
            "counted": .choice(CountedAttempt.self), "pointsPossible": .number(minimum: 0, maximum: 100_000), "classroomTests": .string(),
        ], required: ["title", "kind"])
    }
}

enum Assignments {
    static let maxInstructions = 100_000
    static let timeLimits = 1...1800
    static let memoryLimits = 32...4096
    static let setupDiskLimits = 64...16384

    /// Creates an assignment from checked input; a Classroom one is ready at once, a Gradescope one waits for its zip.
    static func create(in course: Course, _ input: AssignmentInput, by user: User, on db: any Database) async throws -> Assignment {
        let assignment = Assignment()
        assignment.$course.id = try course.requireID()
        assignment.createdBy = try user.requireID()
        assignment.createdAt = Date()
        assignment.autograderVersion = 0
        assignment.setupStatus = .pending
        try apply(input, to: assignment, creating: true)
        if assignment.kind == .classroom {
            assignment.autograderVersion = 1
            assignment.setupStatus = .notNeeded
        }
        try await assignment.create(on: db)
        return assignment
    }

    /// Changes the fields given. Giving what counts (the counted attempt, late policy or due date), changed or not,
    /// makes the course's kept gradebook rows stale in the same transaction: compared with the copy loaded before,
    /// an unchanged value could still overwrite another request's change committed in between.
    static func update(_ assignment: Assignment, _ input: AssignmentInput, writes: Writes) async throws {
        let before = assignment.classroomTests
        try apply(input, to: assignment, creating: false)
        if assignment.classroomTests != before { assignment.autograderVersion += 1 }
        let bump = input.counted != nil || input.latePolicy != nil || input.dueAt != nil, courseID = assignment.$course.id
        try await writes.transaction { tx in
            try await assignment.save(on: tx)
            if bump { try await GradebookRows.bump(courseID: courseID, on: tx) }
        }
    }

    /// Checks every field given (all problems at once) and copies them; on create, title and kind are required.
    private static func apply(_ input: AssignmentInput, to assignment: Assignment, creating: Bool) throws {
        var checks = InputChecks()
        if creating || input.title != nil, let title = checks.text(input.title, "title") { assignment.title = title }
        if creating || input.instructions != nil {
            let text = input.instructions ?? ""
            if text.count > maxInstructions { checks.add("instructions are longer than \(maxInstructions) characters.") } else { assignment.instructions = text }
        }
        // Read once: a model's field must not be read before it is set (an invalid kind on create leaves it unset).
        let kind: AutograderKind?
        if creating {
            kind = checks.choice(input.kind, "kind", as: AutograderKind.self)
            if let kind { assignment.kind = kind }
        } else {
            kind = assignment.kind
            if let given = input.kind, given.lowercased() != assignment.kind.rawValue {
                checks.add("kind cannot change once the assignment exists (make a new assignment).")
            }
        }
        if creating || input.releaseAt != nil { assignment.releaseAt = InputChecks.dateTime(input.releaseAt, "releaseAt", &checks) }
        if creating || input.dueAt != nil { assignment.dueAt = InputChecks.dateTime(input.dueAt, "dueAt", &checks) }
        if let release = assignment.releaseAt, let due = assignment.dueAt, due < release { checks.add("the due date is before the release date.") }
        if creating || input.latePolicy != nil {
            if let policy = LatePolicy(text: input.latePolicy ?? "none") { assignment.latePolicyText = policy.text } else {
                checks.add("latePolicy '\(input.latePolicy!)' is not one of none, hard, penalty:N (N percent per started day, 1 to 100).")
            }
        }
        if let max = input.maxSubmissions {
            if max < 0 || max > 1000 { checks.add("maxSubmissions must be 0 (no limit) to 1000.") } else { assignment.maxSubmissions = max == 0 ? nil : max }
        }
        if creating || input.requiredFiles != nil {
            let patterns = (input.requiredFiles ?? "").split(whereSeparator: { $0.isNewline || $0 == "," })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if patterns.count > 50 || patterns.contains(where: { $0.count > 200 || $0.hasPrefix("/") || $0.contains("..") }) {
                checks.add("requiredFiles: at most 50 relative names or patterns, each under 200 characters.")
            } else {
                assignment.requiredFilesText = patterns.joined(separator: "\n")
            }
        }
        let time = input.timeLimitSeconds ?? (creating ? 60 : assignment.timeLimitSeconds)
        if timeLimits.contains(time) { assignment.timeLimitSeconds = time } else { checks.add("timeLimitSeconds must be \(timeLimits.lowerBound) to \(timeLimits.upperBound).") }
        let memory = input.memoryMB ?? (creating ? 512 : assignment.memoryMB)
        if memoryLimits.contains(memory) { assignment.memoryMB = memory } else { checks.add("memoryMB must be \(memoryLimits.lowerBound) to \(memoryLimits.upperBound).") }
        let setupDisk = input.setupDiskMB ?? (creating ? 4096 : assignment.setupDiskMB)
        if setupDiskLimits.contains(setupDisk) { assignment.setupDiskMB = setupDisk } else {
            checks.add("setupDiskMB must be \(setupDiskLimits.lowerBound) to \(setupDiskLimits.upperBound).")
        }
        if creating || input.counted != nil {
            if let counted = checks.choice(input.counted ?? "latest", "counted", as: CountedAttempt.self) { assignment.counted = counted }
        }
        if let points = input.pointsPossible {
            if points.isFinite, points >= 0, points <= 100_000 { assignment.pointsPossible = points == 0 ? nil : points } else { checks.add("pointsPossible must be 0 to 100000.") }
        }
        if let text = input.classroomTests, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if kind != .classroom { checks.add("classroomTests are for assignments of kind classroom.") } else {
                switch ClassroomSpec.parse(Data(text.utf8)) {
                case .success(let tests):
                    assignment.classroomTests = text
                    if input.pointsPossible == nil { assignment.pointsPossible = Double(tests.reduce(0) { $0 + $1.points }) }
                case .failure(let problem): checks.add(problem.message + ".")
                }
            }
        } else if creating, kind == .classroom {
            checks.add("classroomTests (the text of autograding.json) are missing.")
        }
        try checks.finish()
    }


    /// Stores a new Gradescope autograder zip (checked whole: the format, links, escapes, bombs), bumps the version
    /// and enqueues its set-up, all in one transaction.
    static func setAutograder(_ assignment: Assignment, zip: Data, at now: Date, on db: any Database) async throws {
        guard assignment.kind == .gradescope else { throw InputRejection("This assignment uses Classroom tests; it takes no autograder zip.") }
        let files = try Uploads.checkedZip(zip, limits: GradescopeRun.bundleLimits, refused: "The autograder zip was refused")
        if case .failure(let problem) = GradescopeRun.bundle(files) { throw InputRejection("The autograder zip was refused: \(problem.message).") }
        try await db.transaction { tx in
            assignment.autograderZip = zip
            assignment.autograderVersion += 1
            assignment.setupStatus = .pending
            assignment.setupLog = nil
            try await assignment.save(on: tx)
            try await GradingJobs.enqueueSetup(of: assignment, at: now, on: tx)
        }
    }

    /// The autograder's files: the zip's (read from the database, checked when it was stored), or nothing for
    /// Classroom tests.
    static func autograderFiles(_ assignment: GradingAssignment, on db: any Database) async throws -> [String: Data] {
        guard assignment.kind == .gradescope, let sql = db as? any SQLDatabase,
              let zip = try await sql.raw("SELECT autograder_zip FROM assignments WHERE id = \(bind: assignment.id)")
                .first()?.decode(column: "autograder_zip", as: Data?.self) else { return [:] }
        let files = try SafeArchive.read(zip, limits: GradescopeRun.bundleLimits)
        return try GradescopeRun.bundle(files).get()
    }

    static func classroomTests(_ assignment: Assignment) throws -> [ClassroomTest] { try classroomTests(assignment.classroomTests) }

    /// An assignment's `autograding.json` text (nil: none) as tests.
    static func classroomTests(_ text: String?) throws -> [ClassroomTest] {
        try ClassroomSpec.parse(Data((text ?? "").utf8)).get()
    }

    /// Publishes (or withdraws) grades: results marked after_published become visible to students.
    /// Publishing tells whatever mirrors grades (the LMS), in the same transaction.
    static func publishGrades(_ assignment: Assignment, _ publish: Bool, app: Application, on db: any Database) async throws {
        try await db.transaction { tx in
            assignment.gradesPublishedAt = publish ? app.clock.now() : nil
            try await assignment.save(on: tx)
            if publish { try await app.gradeChanged(.assignment(try assignment.requireID()), on: tx) }
        }
    }
}
