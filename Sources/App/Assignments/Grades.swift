// What happens to grades after a run: what each viewer may see of a submission (Gradescope's visibility rules),
// regrades (one, or a whole assignment with progress), staff adjustments kept apart from the autograder's score,
// and the gradebook (students × assignments, the counted attempt with late penalties) with its Canvas CSV.
import Fluent
import Foundation
import Grading
import Insight
import Ledger
import SQLKit
import Vapor

struct SubmissionDTO: Content {
    struct TestDTO: Content {
        var name: String
        var number: String?
        var score: Double?
        var maxScore: Double?
        var status: String?
        var output: String
        var tags: [String]
        var visibility: String?
    }
    struct AdjustmentDTO: Content {
        var points: Double
        var comment: String
        var author: String
        var at: Date
    }
    struct FileDTO: Content { var path: String; var size: Int }

    var id: UUID
    var assignmentID: UUID
    var userID: UUID
    var userName: String?
    var attempt: Int
    var isTestRun: Bool
    var status: String
    var submittedAt: Date
    var gradedAt: Date?
    var lateDays: Int
    /// The autograder's score, when this viewer may see it.
    var autograderScore: Double?
    var maxScore: Double?
    var adjustments: [AdjustmentDTO]
    /// Autograder score + adjustments − late penalty, when the autograder's score is visible.
    var finalScore: Double?
    var tests: [TestDTO]
    /// Tests this viewer cannot see yet.
    var hiddenTests: Int
    var output: String?
    /// Why it could not be graded normally (then the score is 0).
    var problem: String?
    /// The run's standard output and error (staff only).
    var log: String?
    var charged: Credits
    var files: [FileDTO]
}

extension SubmissionDTO: APIBody {
    static let schemaName = "Submission"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "assignmentID": .string(format: "uuid"), "userID": .string(format: "uuid"), "userName": .string(),
        "attempt": .integer(), "isTestRun": .boolean, "status": .choice(SubmissionStatus.self), "submittedAt": .string(format: "date-time"),
        "gradedAt": .string(format: "date-time"), "lateDays": .integer(), "autograderScore": .number(), "maxScore": .number(), "finalScore": .number(),
        "adjustments": .array(.object(["points": .number(), "comment": .string(), "author": .string(), "at": .string(format: "date-time")],
                                      required: ["points", "comment", "author", "at"])),
        "tests": .array(.object(["name": .string(), "number": .string(), "score": .number(), "maxScore": .number(), "status": .string(),
                                 "output": .string(), "tags": .array(.string()), "visibility": .string()], required: ["name", "output", "tags"])),
        "hiddenTests": .integer(), "output": .string(), "problem": .string(), "log": .string(), "charged": .credits,
        "files": .array(.object(["path": .string(), "size": .integer()], required: ["path", "size"])),
    ], required: ["id", "assignmentID", "userID", "attempt", "isTestRun", "status", "submittedAt", "lateDays", "adjustments", "tests", "hiddenTests",
                  "charged", "files"])
    static let samples = [SubmissionDTO(
        id: Sample.id, assignmentID: Sample.id, userID: Sample.id, userName: "Ada", attempt: 2, isTestRun: false, status: "graded",
        submittedAt: Sample.date, gradedAt: Sample.date, lateDays: 1, autograderScore: 8, maxScore: 10,
        adjustments: [AdjustmentDTO(points: 1, comment: "Good style", author: "Ian", at: Sample.date)], finalScore: 8.1,
        tests: [TestDTO(name: "prints hello", number: "1.1", score: 8, maxScore: 10, status: "passed", output: "ok", tags: ["basics"], visibility: "visible")],
        hiddenTests: 1, output: "All good", problem: "none", log: "python3 hello.py", charged: Credits(micro: 12_000),
        files: [FileDTO(path: "hello.py", size: 21)])]
}

enum Grades {
    /// What `viewer` may see of one submission.
    static func view(_ submission: Submission, assignment: Assignment, owner: User?, staff: Bool, adjustments: [(GradeAdjustment, String)],
                     files: [SubmissionDTO.FileDTO], now: Date) throws -> SubmissionDTO {
        let viewer = Viewer(isStaff: staff, now: now, dueDate: assignment.dueAt, gradesPublished: assignment.gradesPublished)
        var tests: [SubmissionDTO.TestDTO] = [], hidden = 0, output: String?, score: Double?, maximum = submission.maxScore
        if let text = submission.results, case .success(let results) = GradescopeResults.parse(Data(text.utf8)) {
            let view = results.view(for: viewer)
            tests = view.tests.map { .init(name: $0.name, number: $0.number, score: $0.score, maxScore: $0.maxScore, status: $0.status,
                                          output: $0.output, tags: $0.tags, visibility: $0.visibility?.rawValue) }
            hidden = view.hiddenTests
            score = view.score.map { _ in submission.score ?? 0 }
            if view.score == nil { maximum = staff ? maximum : nil }
            if viewer.sees(results.stdoutVisibility) { output = submission.log }
            if let text = view.output { output = text + (output.map { "\n\n" + $0 } ?? "") }
            if staff { score = submission.score }
        } else if submission.isFinished {
            score = submission.score ?? 0  // could not be graded: 0, with the problem shown
        }
        let adjustment = adjustments.reduce(0) { $0 + $1.0.points }
        let final = score.map {
            GradedAttempt(submittedAt: submission.submittedAt, autograderScore: $0, adjustment: adjustment)
                .score(late: assignment.latePolicy, due: assignment.dueAt)
        }
        return SubmissionDTO(
            id: try submission.requireID(), assignmentID: submission.$assignment.id, userID: submission.$user.id, userName: owner?.displayName,
            attempt: submission.attempt, isTestRun: submission.isTestRun, status: submission.status.rawValue, submittedAt: submission.submittedAt,
            gradedAt: submission.gradedAt, lateDays: LatePolicy.daysLate(submittedAt: submission.submittedAt, due: assignment.dueAt),
            autograderScore: score, maxScore: maximum,
            adjustments: adjustments.map { .init(points: $0.0.points, comment: $0.0.comment, author: $0.1, at: $0.0.createdAt) },
            finalScore: final, tests: tests, hiddenTests: hidden, output: output, problem: submission.problem,
            log: staff ? submission.log : nil, charged: Credits(micro: submission.charged), files: files)
    }

    /// Loads what `view` needs for one submission (three queries).
    static func load(_ submission: Submission, assignment: Assignment, staff: Bool, now: Date, on db: any Database) async throws -> SubmissionDTO {
        let id = try submission.requireID()
        let adjustments = try await GradeAdjustment.query(on: db).filter(\.$submission.$id == id).sort(\.$createdAt).with(\.$author).all()
        let files = try await SubmissionFile.query(on: db).filter(\.$submission.$id == id).all()
        let owner = try await User.find(submission.$user.id, on: db)
        return try view(submission, assignment: assignment, owner: owner, staff: staff, adjustments: adjustments.map { ($0, $0.author.displayName) },
                        files: fileList(files.map { ($0.path, $0.contents.count) }), now: now)
    }

    /// A hand-in's files as shown: by path, byte by byte (the same on every database, whatever its collation).
    static func fileList(_ files: [(path: String, size: Int)]) -> [SubmissionDTO.FileDTO] {
        files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }.map { .init(path: $0.path, size: $0.size) }
    }

    /// Views of a page of submissions (owners loaded with them or not) with their adjustments: one query whatever its size.
    static func views(_ submissions: [Submission], assignment: Assignment?, assignments: [UUID: Assignment] = [:], staff: Bool,
                      now: Date, on db: any Database) async throws -> [SubmissionDTO] {
        let ids = submissions.compactMap(\.id)
        let adjustments = ids.isEmpty ? [] : try await GradeAdjustment.query(on: db).filter(\.$submission.$id ~~ ids).with(\.$author).sort(\.$createdAt).all()
        let bySubmission = Dictionary(grouping: adjustments, by: { $0.$submission.id })
        return try submissions.map { submission in
            guard let assignment = assignment ?? assignments[submission.$assignment.id] else { throw Abort(.internalServerError) }
            return try view(submission, assignment: assignment, owner: submission.$user.value, staff: staff,
                     adjustments: (bySubmission[submission.id!] ?? []).map { ($0, $0.author.displayName) }, files: [], now: now)
        }
    }

    /// One student's grades in a course as they may see them: per released assignment, the counted attempt among
    /// those whose score is visible to them (Gradescope's visibility rules), after adjustments and late penalty.
    struct MyGrade: Content {
        var assignmentID: UUID
        var title: String
        var dueAt: Date?
        var pointsPossible: Double?
        var counted: String
        var attempts: Int
        /// The counted score; nil when nothing visible was graded yet.
        var score: Double?
        /// Graded attempts whose score the student cannot see yet (hidden, or until the due date or publication).
        var hiddenAttempts: Int
        var waiting: Int
    }

    /// Four queries whatever the number of assignments and attempts.
    static func mine(in course: Course, user: User, now: Date, on db: any Database) async throws -> [MyGrade] {
        let assignments = try await Assignment.query(on: db).filter(\.$course.$id == course.requireID()).sort(\.$dueAt).sort(\.$createdAt).all()
            .filter { $0.isReleased(at: now) }
        let ids = assignments.compactMap(\.id)
        let submissions = ids.isEmpty ? [] : try await Submission.query(on: db).filter(\.$assignment.$id ~~ ids)
            .filter(\.$user.$id == user.requireID()).sort(\.$attempt).all()
        let byAssignment = Dictionary(grouping: submissions, by: { $0.$assignment.id })
        var views: [UUID: [SubmissionDTO]] = [:]
        let allViews = try await Grades.views(submissions, assignment: nil, assignments: Dictionary(uniqueKeysWithValues: assignments.map { ($0.id!, $0) }),
                                              staff: false, now: now, on: db)
        for view in allViews { views[view.assignmentID, default: []].append(view) }
        return assignments.map { assignment in
            let mine = views[assignment.id!] ?? []
            let graded = mine.filter { $0.status == SubmissionStatus.graded.rawValue || $0.status == SubmissionStatus.failed.rawValue }
            let visible = graded.filter { $0.autograderScore != nil }
            let counted = Gradebook.counted(visible.map { GradedAttempt(submittedAt: $0.submittedAt, autograderScore: $0.autograderScore,
                                                                         adjustment: $0.adjustments.reduce(0) { $0 + $1.points }) },
                                            rule: assignment.counted, late: assignment.latePolicy, due: assignment.dueAt)
            return MyGrade(assignmentID: assignment.id!, title: assignment.title, dueAt: assignment.dueAt, pointsPossible: assignment.pointsPossible,
                           counted: assignment.counted.rawValue, attempts: byAssignment[assignment.id!]?.count ?? 0, score: counted,
                           hiddenAttempts: graded.count - visible.count, waiting: mine.count - graded.count)
        }
    }

    // MARK: Regrades

    /// Runs one submission again with the assignment's current autograder, charged to the course (staff asked).
    static func regrade(_ submission: Submission, assignment: Assignment, course: Course, by user: User,
                        on app: Application, db: any Database) async throws {
        guard submission.isFinished else { throw Refusal("This submission is already waiting to be graded.") }
        switch assignment.setupStatus {
        case .ready, .notNeeded: break
        case .pending, .failed: throw Refusal("The autograder is not set up (\(assignment.setupStatus.rawValue)); it cannot regrade yet.")
        }
        let run = submission.runs + 1, id = try submission.requireID()
        let hold = try await Submissions.reserve(for: assignment, course: course, user: user, staff: true, key: "submission:\(id):run:\(run)", on: app, db: db)
        do {
            try await app.writeTransaction(on: db) { tx in
                submission.runs = run
                submission.status = .queued
                submission.holdID = hold?.id
                submission.jobID = try await GradingJobs.enqueueGrade(id, run: run, at: app.clock.now(), on: tx).id
                try await submission.save(on: tx)
                try await GradebookRows.changed(submission: id, on: tx)  // a waiting attempt does not count
            }
        } catch {
            if let hold { _ = try? await app.ledger(on: db).void(hold.requireID()) }
            throw error
        }
        app.jobBell.ring()
    }

    struct RegradeProgress: Content {
        var total: Int
        var waiting: Int
        var done: Int
        var startedAt: Date?
    }

    /// Regrades every finished submission of the assignment (test runs too); stops, saying so, if the course's
    /// credits run out part-way.
    static func regradeAll(_ assignment: Assignment, course: Course, by user: User, on app: Application, db: any Database) async throws -> RegradeProgress {
        let submissions = try await Submission.query(on: db).filter(\.$assignment.$id == assignment.requireID())
            .filter(\.$status ~~ [.graded, .failed]).sort(\.$submittedAt).all()
        assignment.regradeStartedAt = app.clock.now()
        try await assignment.save(on: db)
        var queued = 0
        for submission in submissions {
            do {
                try await regrade(submission, assignment: assignment, course: course, by: user, on: app, db: db)
                queued += 1
            } catch let refusal as Refusal {
                throw Refusal("Queued \(queued) of \(submissions.count) regrades, then stopped: \(refusal.reason)")
            }
        }
        return try await progress(assignment, on: db)
    }

    static func progress(_ assignment: Assignment, on db: any Database) async throws -> RegradeProgress {
        let id = try assignment.requireID()
        let total = try await Submission.query(on: db).filter(\.$assignment.$id == id).count()
        let waiting = try await Submission.query(on: db).filter(\.$assignment.$id == id).filter(\.$status ~~ [.queued, .running]).count()
        return RegradeProgress(total: total, waiting: waiting, done: total - waiting, startedAt: assignment.regradeStartedAt)
    }

    // MARK: Adjustments

    struct AdjustmentInput: APIInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case points, comment }
        typealias Fields = CodingKeys
        var points: Double?
        var comment: String?
        static let schema = JSONSchema.object(["points": .number(minimum: -10_000, maximum: 10_000), "comment": .text(max: 2000)],
                                              required: ["points", "comment"])
    }

    /// Adds an adjustment (never edits one): the list is the audit trail of who changed the score, when and why.
    static func adjust(_ submission: Submission, _ input: AdjustmentInput, by user: User, app: Application, on db: any Database) async throws -> GradeAdjustment {
        var checks = InputChecks()
        let comment = checks.text(input.comment, "comment", max: 2000)
        if let points = input.points {
            if !points.isFinite || abs(points) > 10_000 { checks.add("points must be between -10000 and 10000.") }
        } else {
            checks.add("points is missing (a number, negative to take points away).")
        }
        try checks.finish()
        let adjustment = GradeAdjustment(submissionID: try submission.requireID(), authorID: try user.requireID(), points: input.points!,
                                         comment: comment!, at: Date())
        try await app.writeTransaction(on: db) { tx in
            try await adjustment.create(on: tx)
            try await app.gradeChanged(.submission(try submission.requireID()), on: tx)
            try await GradebookRows.changed(submission: try submission.requireID(), on: tx)
        }
        return adjustment
    }
}

/// The course's gradebook: students × assignments, loaded in a fixed number of queries whatever the size.
struct GradebookData: Content {
    struct Column: Content {
        var assignmentID: UUID
        var title: String
        var pointsPossible: Double?
        var dueAt: Date?
        var counted: String
    }
    struct Row: Content {
        var userID: UUID
        var name: String
        var email: String
        /// One per column: the counted score after adjustments and late penalties; nil when nothing was handed in.
        var scores: [Double?]
        var submissions: [Int]
    }
    var columns: [Column]
    var rows: [Row]
    /// Which page of the students this is (the API's book comes in pages); nil for a whole book or one student.
    var metadata: PageMetadata?

    static func load(_ course: Course, onlyUser: UUID? = nil, on db: any Database) async throws -> GradebookData {
        try await load(course, onlyUser.map { .one($0) } ?? .all, on: db)
    }

    /// Whose rows: everyone's, a page of the students (in name order), or one student's (the gradebook page reads
    /// kept rows: `GradebookRows`).
    enum Students { case all, page(number: Int, per: Int), one(UUID) }

    /// Three statements whatever the course's size (four for a page past the last student): the assignments
    /// (without their autograders), the students (in the order of users.sort_key; a page of them with their count),
    /// and their hand-ins with each one's adjustments summed — joined on the course, with the ids of at most a page
    /// of students, never the ids of every hand-in.
    static func load(_ course: Course, _ which: Students, on db: any Database) async throws -> GradebookData {
        let courseID = try course.requireID()
        let assignments = try await columns(of: courseID, on: db)
        // Plain SQL decoded column by column: Fluent's model decoding (reflection per row) cost 45 µs a row.
        let sql = try db.sqlDatabase()
        let (filter, window): (SQLQueryString, SQLQueryString) = switch which {
        case .all: ("", "")
        case .one(let id): ("AND u.id = \(bind: id)", "")
        case .page(let number, let per): ("", "LIMIT \(literal: per) OFFSET \(literal: (number - 1) * per)")
        }
        let found = try await sql.raw("""
            SELECT u.id, u.display_name, u.email,
              (SELECT count(*) FROM course_members WHERE course_id = \(bind: courseID) AND role = 'student') AS total
            FROM course_members m JOIN users u ON u.id = m.user_id
            WHERE m.course_id = \(bind: courseID) AND m.role = 'student' \(filter) ORDER BY u.sort_key, u.email \(window)
            """).all()
        let students = try found.map { row in
            (id: try row.decode(column: "id", as: UUID.self), name: try row.decode(column: "display_name", as: String.self),
             email: try row.decode(column: "email", as: String.self))
        }
        var metadata: PageMetadata?
        if case .page(let number, let per) = which {
            // The count comes with the page's rows; a page past the last student counts them on its own.
            let total = if let first = found.first { try first.decode(column: "total", as: Int.self) } else {
                try await CourseMember.query(on: db).filter(\.$course.$id == courseID).filter(\.$role == .student).count()
            }
            metadata = PageMetadata(page: number, per: per, total: total)
        }
        let byCell = try await handIns(courseID: courseID, assignments: assignments, users: students.map(\.id),
                                       onlyThem: { if case .all = which { false } else { true } }(), on: db)
        let rows = students.map { student in
            var scores: [Double?] = [], counts: [Int] = []
            for assignment in assignments {
                let attempts = byCell[Cell(user: student.id, assignment: assignment.id!)] ?? []
                counts.append(attempts.count)
                scores.append(counted(attempts, assignment: assignment))
            }
            return Row(userID: student.id, name: student.name, email: student.email, scores: scores, submissions: counts)
        }
        return GradebookData(columns: try assignments.map {
            Column(assignmentID: try $0.requireID(), title: $0.title, pointsPossible: $0.pointsPossible, dueAt: $0.dueAt, counted: $0.counted.rawValue)
        }, rows: rows, metadata: metadata)
    }

    /// The course's assignments as the gradebook's columns (by due date, then creation), with what counting needs
    /// and without their autograders.
    static func columns(of courseID: UUID, on db: any Database) async throws -> [Assignment] {
        try await Assignment.query(on: db).filter(\.$course.$id == courseID).sort(\.$dueAt).sort(\.$createdAt).sort(\.$id)
            .field(\.$id).field(\.$course.$id).field(\.$title).field(\.$pointsPossible).field(\.$dueAt).field(\.$counted).field(\.$latePolicyText)
            .field(\.$releaseAt).field(\.$createdAt).field(\.$gradesPublishedAt).all()
    }

    struct Cell: Hashable { var user: UUID; var assignment: UUID }

    /// The hand-ins (not test runs) of `users` in the course's `assignments`, each attempt with its adjustments
    /// summed, by cell and in attempt order; one statement. `onlyThem` names the users in the statement (a page of
    /// them); otherwise it reads the course's and keeps theirs.
    static func handIns(courseID: UUID, assignments: [Assignment], users: [UUID], onlyThem: Bool, on db: any Database) async throws -> [Cell: [HandIn]] {
        guard !assignments.isEmpty, !users.isEmpty else { return [:] }
        let people: SQLQueryString = onlyThem ? "AND s.user_id IN (\(SQLList(users.map { SQLBind($0) })))" : ""
        // Reached through the course's assignments and the (assignment, user) index: SQLite, without statistics,
        // otherwise scans every hand-in of the platform (with its logs) and filters. Ids come back as lower-case
        // text, looked up among the assignments' and students' (parsing 10,000 UUIDs a page was a fifth of its time).
        let assignmentIndex = Dictionary(uniqueKeysWithValues: try assignments.map { (try $0.requireID().uuidString.lowercased(), $0.id!) })
        let studentIndex = Dictionary(users.map { ($0.uuidString.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        let handedIn = try await db.sqlDatabase().raw("""
            SELECT lower(CAST(s.assignment_id AS TEXT)) AS assignment, lower(CAST(s.user_id AS TEXT)) AS person, s.attempt, s.submitted_at, s.score, s.status,
                (SELECT sum(g.points) FROM grade_adjustments g WHERE g.submission_id = s.id) AS adjustment
            FROM assignments a CROSS JOIN submissions s
            WHERE s.assignment_id = a.id AND a.course_id = \(bind: courseID) AND s.is_test_run = \(bind: false) \(people)
            """).all().compactMap { row -> HandIn? in
            guard let assignment = assignmentIndex[try row.decode(column: "assignment", as: String.self)],
                  let person = studentIndex[try row.decode(column: "person", as: String.self)] else { return nil }
            return HandIn(assignmentID: assignment, userID: person, attempt: try row.decode(column: "attempt", as: Int.self),
                          submittedAt: try row.decode(column: "submitted_at", as: Date.self),
                          score: try row.decode(column: "score", as: Double?.self),
                          status: SubmissionStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .queued,
                          adjustment: try row.decode(column: "adjustment", as: Double?.self) ?? 0)
        }
        return Dictionary(grouping: handedIn, by: { Cell(user: $0.userID, assignment: $0.assignmentID) }).mapValues { $0.sorted { $0.attempt < $1.attempt } }
    }

    /// What counting a hand-in needs of it.
    struct HandIn: Sendable {
        var assignmentID: UUID
        var userID: UUID
        var attempt: Int
        var submittedAt: Date
        var score: Double?
        var status: SubmissionStatus
        /// The sum of its adjustments' points.
        var adjustment: Double
    }

    /// The counted score of one student's attempts (in attempt order: of two handed in at the same instant, the later
    /// attempt is the latest): graded ones, with their adjustments, by the assignment's rule and late policy.
    static func counted(_ attempts: [HandIn], assignment: Assignment) -> Double? {
        let graded = attempts.filter { $0.status == .graded || $0.status == .failed }.map {
            GradedAttempt(submittedAt: $0.submittedAt, autograderScore: $0.score, adjustment: $0.adjustment)
        }
        return Gradebook.counted(graded, rule: assignment.counted, late: assignment.latePolicy, due: assignment.dueAt)
    }

    /// One student's grade on one assignment, as the gradebook counts it, and where grading stands.
    struct StudentGrade: Sendable {
        var score: Double?
        var handedIn: Bool
        /// No attempt is waiting for or in grading.
        var final: Bool
        var lastHandIn: Date?
        /// Out of: the assignment's points, else what the autograder's latest result was out of.
        var maximum: Double?
    }

    /// Two queries.
    static func grade(of userID: UUID, on assignment: Assignment, db: any Database) async throws -> StudentGrade {
        let attempts = try await Submission.query(on: db).filter(\.$assignment.$id == assignment.requireID()).filter(\.$user.$id == userID)
            .filter(\.$isTestRun == false).sort(\.$attempt).all()
        let ids = attempts.compactMap(\.id)
        let adjustments = ids.isEmpty ? [] : try await GradeAdjustment.query(on: db).filter(\.$submission.$id ~~ ids).all()
        let adjusted = Dictionary(grouping: adjustments, by: { $0.$submission.id }).mapValues { $0.reduce(0) { $0 + $1.points } }
        let handIns = try attempts.map {
            HandIn(assignmentID: $0.$assignment.id, userID: $0.$user.id, attempt: $0.attempt, submittedAt: $0.submittedAt, score: $0.score, status: $0.status,
                   adjustment: adjusted[try $0.requireID()] ?? 0)
        }
        return StudentGrade(score: counted(handIns, assignment: assignment), handedIn: !attempts.isEmpty,
                            final: attempts.allSatisfy { $0.status == .graded || $0.status == .failed }, lastHandIn: attempts.last?.submittedAt,
                            maximum: assignment.pointsPossible ?? attempts.last(where: { $0.maxScore != nil })?.maxScore)
    }

    /// The CSV Canvas imports (rows matched by SIS Login ID = the university email).
    func canvasCSV(section: String) -> String {
        Gradebook.canvasCSV(columns: columns.map { .init(title: "\($0.title) (\($0.assignmentID.uuidString.prefix(8).lowercased()))", pointsPossible: $0.pointsPossible) },
                            rows: rows.map { .init(name: $0.name, login: $0.email, section: section, scores: $0.scores) })
    }
}

extension Grades.MyGrade: APIBody {
    static let schemaName = "MyGrade"
    static let schema = JSONSchema.object([
        "assignmentID": .string(format: "uuid"), "title": .string(), "dueAt": .string(format: "date-time"), "pointsPossible": .number(),
        "counted": .choice(CountedAttempt.self), "attempts": .integer(), "score": .number(), "hiddenAttempts": .integer(), "waiting": .integer(),
    ], required: ["assignmentID", "title", "counted", "attempts", "hiddenAttempts", "waiting"])
    static let samples = [Self(assignmentID: Sample.id, title: "Lab 1", dueAt: Sample.date, pointsPossible: 10, counted: "best", attempts: 3,
                               score: 9, hiddenAttempts: 1, waiting: 0)]
}

extension Grades.RegradeProgress: APIBody {
    static let schemaName = "RegradeProgress"
    static let schema = JSONSchema.object(["total": .integer(), "waiting": .integer(), "done": .integer(), "startedAt": .string(format: "date-time")],
                                          required: ["total", "waiting", "done"])
    static let samples = [Self(total: 120, waiting: 20, done: 100, startedAt: Sample.date)]
}

extension GradebookData: APIBody {
    static let schemaName = "Gradebook"
    static let schema = JSONSchema.object([
        "columns": .array(.object(["assignmentID": .string(format: "uuid"), "title": .string(), "pointsPossible": .number(),
                                   "dueAt": .string(format: "date-time"), "counted": .choice(CountedAttempt.self)], required: ["assignmentID", "title", "counted"])),
        "rows": .array(.object(["userID": .string(format: "uuid"), "name": .string(), "email": .string(), "scores": .array(.nullableNumber),
                                "submissions": .array(.integer())], required: ["userID", "name", "email", "scores", "submissions"])),
        "metadata": .object(["page": .integer(), "per": .integer(), "total": .integer()], required: ["page", "per", "total"]),
    ], required: ["columns", "rows"])
    static let samples = [GradebookData(
        columns: [Column(assignmentID: Sample.id, title: "Lab 1", pointsPossible: 10, dueAt: Sample.date, counted: "best")],
        rows: [Row(userID: Sample.id, name: "Ada", email: "ada@uni.test", scores: [9.5, nil], submissions: [3, 0])],
        metadata: PageMetadata(page: 1, per: 50, total: 1))]
}
