// Assignments, submissions and grades over the JSON API: decode → authorise (PlaceAccess asks the policy) → call
// Assignments / Submissions / Grades → encode.
import Fluent
import Foundation
import Grading
import Ledger
import Vapor

struct AssignmentDTO: Content {
    var id: UUID
    var courseID: UUID
    var title: String
    var instructions: String
    var kind: String
    var releaseAt: Date?
    var dueAt: Date?
    var latePolicy: String
    var maxSubmissions: Int?
    var requiredFiles: [String]
    var timeLimitSeconds: Int
    var memoryMB: Int
    var setupDiskMB: Int
    var counted: String
    var pointsPossible: Double?
    var gradesPublished: Bool
    var autograderVersion: Int
    var setupStatus: String
    /// Staff only: the set-up's log and the Classroom tests (expected outputs are not for students).
    var setupLog: String?
    var classroomTests: String?

    init(_ assignment: Assignment, staff: Bool) throws {
        id = try assignment.requireID()
        courseID = assignment.$course.id
        title = assignment.title
        instructions = assignment.instructions
        kind = assignment.kind.rawValue
        releaseAt = assignment.releaseAt
        dueAt = assignment.dueAt
        latePolicy = assignment.latePolicyText
        maxSubmissions = assignment.maxSubmissions
        requiredFiles = assignment.requiredFiles
        timeLimitSeconds = assignment.timeLimitSeconds
        memoryMB = assignment.memoryMB
        setupDiskMB = assignment.setupDiskMB
        counted = assignment.counted.rawValue
        pointsPossible = assignment.pointsPossible
        gradesPublished = assignment.gradesPublished
        autograderVersion = assignment.autograderVersion
        setupStatus = assignment.setupStatus.rawValue
        setupLog = staff ? assignment.setupLog : nil
        classroomTests = staff ? assignment.classroomTests : nil
    }
}

extension AssignmentDTO: APIBody {
    static let schemaName = "Assignment"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "courseID": .string(format: "uuid"), "title": .string(), "instructions": .string(), "kind": .choice(AutograderKind.self),
        "releaseAt": .string(format: "date-time"), "dueAt": .string(format: "date-time"), "latePolicy": .string(), "maxSubmissions": .integer(),
        "requiredFiles": .array(.string()), "timeLimitSeconds": .integer(), "memoryMB": .integer(), "setupDiskMB": .integer(),
        "counted": .choice(CountedAttempt.self), "pointsPossible": .number(), "gradesPublished": .boolean, "autograderVersion": .integer(),
        "setupStatus": .choice(SetupStatus.self), "setupLog": .string(), "classroomTests": .string(),
    ], required: ["id", "courseID", "title", "instructions", "kind", "latePolicy", "requiredFiles", "timeLimitSeconds", "memoryMB", "setupDiskMB",
                  "counted", "gradesPublished", "autograderVersion", "setupStatus"])
    static var samples: [AssignmentDTO] {
        let assignment = Assignment()
        assignment.id = Sample.id
        assignment.$course.id = Sample.id
        (assignment.title, assignment.instructions, assignment.kind) = ("Lab 1", "Write hello.py.", .gradescope)
        (assignment.releaseAt, assignment.dueAt, assignment.latePolicyText) = (Sample.date, Sample.date, "penalty:10")
        (assignment.maxSubmissions, assignment.requiredFilesText) = (5, "hello.py")
        (assignment.timeLimitSeconds, assignment.memoryMB, assignment.setupDiskMB) = (60, 512, 2048)
        (assignment.counted, assignment.pointsPossible, assignment.gradesPublishedAt) = (.best, 10, Sample.date)
        (assignment.autograderVersion, assignment.setupStatus, assignment.setupLog) = (2, .ready, "setup.sh: ok")
        assignment.classroomTests = "{\"tests\": []}"
        return [try! AssignmentDTO(assignment, staff: true)]
    }
}

extension MultipartForm {
    /// A hand-in's files: the parts named `files` (or `files[]`), or a single `file`.
    var handIn: [(name: String, data: Data)] {
        (all(named: "files") + all(named: "file")).map { ($0.filename ?? "", $0.data) }
    }
}

enum AssignmentController {
    @Sendable static func list(req: Request) async throws -> [AssignmentDTO] {
        let (course, user, access) = try await req.course(for: Policy.Action.viewCourse)
        let staff = Policy.allows(user, .grade(access))
        return try await Assignment.query(on: req.db).filter(\.$course.$id == course.requireID()).sort(\.$dueAt).sort(\.$createdAt).all()
            .filter { [now = req.now] in staff || $0.isReleased(at: now) }.map { try AssignmentDTO($0, staff: staff) }
    }

    @Sendable static func create(req: Request) async throws -> Response {
        let (course, user, _) = try await req.course(for: Policy.Action.manageCourse)
        let assignment = try await Assignments.create(in: course, try req.input(AssignmentInput.self), by: user, on: req.db)
        return try await AssignmentDTO(assignment, staff: true).encodeResponse(status: .created, for: req)
    }

    @Sendable static func show(req: Request) async throws -> AssignmentDTO {
        let found = try await req.assignment(for: Policy.Action.viewCourse)
        let assignment = found.assignment, user = found.user, access = found.access
        return try AssignmentDTO(assignment, staff: Policy.allows(user, .grade(access)))
    }

    @Sendable static func update(req: Request) async throws -> AssignmentDTO {
        let assignment = try await req.assignment(for: Policy.Action.manageCourse).assignment
        try await Assignments.update(assignment, try req.input(AssignmentInput.self), writes: req.writes)
        return try AssignmentDTO(assignment, staff: true)
    }

    /// PUT …/autograder with the zip as the body (application/zip).
    @Sendable static func uploadAutograder(req: Request) async throws -> AssignmentDTO {
        let assignment = try await req.assignment(for: Policy.Action.manageCourse).assignment
        guard let body = req.body.data, body.readableBytes > 0 else {
            throw Abort(.badRequest, reason: "Send the autograder zip as the request body (Content-Type: application/zip).")
        }
        try await Assignments.setAutograder(assignment, zip: Data(buffer: body), at: req.now, on: req.db)
        return try AssignmentDTO(assignment, staff: true)
    }

    struct PublishInput: APIInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case published }
        typealias Fields = CodingKeys
        var published: Bool
        static let schema = JSONSchema.object(["published": .boolean], required: ["published"])
    }

    @Sendable static func publish(req: Request) async throws -> AssignmentDTO {
        let assignment = try await req.assignment(for: Policy.Action.manageCourse).assignment
        try await Assignments.publishGrades(assignment, try req.input(PublishInput.self).published, app: req.application, on: req.db)
        return try AssignmentDTO(assignment, staff: true)
    }

    /// POST …/submissions, multipart: `files` (one or more, or one .zip).
    @Sendable static func submit(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.submitWork)
        let assignment = found.assignment, course = found.course, user = found.user, access = found.access
        guard let form = try MultipartForm(req) else {
            throw Abort(.unsupportedMediaType, reason: "Send the files as multipart/form-data in a field named files (one or more, or one .zip).")
        }
        let files = try Uploads.files(from: form.handIn, limits: Submissions.limits)
        let submission = try await Submissions.submit(files, to: assignment, course: course, by: user, access: access, on: req.application, db: req.db)
        // What was just written, shown without reading it back: no adjustment yet, the files as handed in, the caller's.
        let dto = try Grades.view(submission, assignment: assignment, owner: user, staff: Policy.allows(user, .grade(access)), adjustments: [],
                                  files: Grades.fileList(files.map { ($0.key, $0.value.count) }), now: req.now)
        return try await dto.encodeResponse(status: .created, for: req)
    }

    /// GET …/submissions: the caller's own (students), or everyone's (staff); newest first, paginated.
    @Sendable static func submissions(req: Request) async throws -> Page<SubmissionDTO> {
        let found = try await req.assignment(for: Policy.Action.viewCourse)
        let assignment = found.assignment, user = found.user, access = found.access
        let staff = Policy.allows(user, .grade(access))
        var query = Submission.query(on: req.db).filter(\.$assignment.$id == (try assignment.requireID())).sort(\.$submittedAt, .descending)
        if !staff { query = query.filter(\.$user.$id == (try user.requireID())) }
        let page = try await query.with(\.$user).paginate(for: req)
        let views = try await Grades.views(page.items, assignment: assignment, staff: staff, now: req.now, on: req.db)
        return Page(items: views, metadata: page.metadata)
    }

    @Sendable static func submission(req: Request) async throws -> SubmissionDTO {
        let found = try await req.submission(grading: false)
        let submission = found.submission, assignment = found.assignment, user = found.user, access = found.access
        return try await Grades.load(submission, assignment: assignment, staff: Policy.allows(user, .grade(access)), now: req.now, on: req.db)
    }

    /// GET …/submissions/{id}/files.zip: the handed-in files as one zip (their owner and the course staff).
    @Sendable static func download(req: Request) async throws -> Response {
        let found = try await req.submission(grading: false)
        let submission = found.submission, assignment = found.assignment
        let files = try await SubmissionFile.query(on: req.db).filter(\.$submission.$id == submission.requireID()).all()
        let zip = try SafeArchive.make(Dictionary(files.map { ($0.path, $0.contents) }, uniquingKeysWith: { first, _ in first }))
        let owner = try await User.find(submission.$user.id, on: req.db)
        return .download(zip, type: .zip, filename: "\(assignment.title)-\(owner?.email ?? "submission")-attempt-\(submission.attempt).zip")
    }

    @Sendable static func regrade(req: Request) async throws -> SubmissionDTO {
        let found = try await req.submission(grading: true)
        let submission = found.submission, assignment = found.assignment, course = found.course, user = found.user
        try await Grades.regrade(submission, assignment: assignment, course: course, by: user, on: req.application, db: req.db)
        return try await Grades.load(submission, assignment: assignment, staff: true, now: req.now, on: req.db)
    }

    @Sendable static func regradeAll(req: Request) async throws -> Grades.RegradeProgress {
        let found = try await req.assignment(for: Policy.Action.grade)
        let assignment = found.assignment, course = found.course, user = found.user
        return try await Grades.regradeAll(assignment, course: course, by: user, on: req.application, db: req.db)
    }

    @Sendable static func regradeProgress(req: Request) async throws -> Grades.RegradeProgress {
        let assignment = try await req.assignment(for: Policy.Action.grade).assignment
        return try await Grades.progress(assignment, on: req.db)
    }

    @Sendable static func adjust(req: Request) async throws -> Response {
        let found = try await req.submission(grading: true)
        let submission = found.submission, assignment = found.assignment, user = found.user
        _ = try await Grades.adjust(submission, try req.input(Grades.AdjustmentInput.self), by: user, app: req.application, on: req.db)
        return try await Grades.load(submission, assignment: assignment, staff: true, now: req.now, on: req.db).encodeResponse(status: .created, for: req)
    }

    /// GET …/gradebook?page=1&per=50: a page of the students (at most 500), in name order.
    @Sendable static func gradebook(req: Request) async throws -> GradebookData {
        let (course, _, _) = try await req.course(for: Policy.Action.grade)
        let (number, per) = try req.listPage()
        return try await GradebookData.load(course, .page(number: number, per: per), on: req.db)
    }

    /// One student's row (staff).
    @Sendable static func studentGrades(req: Request) async throws -> GradebookData {
        let (course, _, _) = try await req.course(for: Policy.Action.grade)
        return try await GradebookData.load(course, onlyUser: try req.userIDParameter(), on: req.db)
    }

    /// GET /courses/{id}/grades: the caller's own grades in the course, as they may see them.
    @Sendable static func myGrades(req: Request) async throws -> [Grades.MyGrade] {
        let (course, user, _) = try await req.course(for: Policy.Action.viewCourse)
        return try await Grades.mine(in: course, user: user, now: req.now, on: req.db)
    }

    @Sendable static func gradebookCSV(req: Request) async throws -> Response {
        let (course, _, _) = try await req.course(for: Policy.Action.grade)
        let csv = try await GradebookData.load(course, on: req.db).canvasCSV(section: "\(course.code) \(course.term)")
        return .csvDownload(csv, filename: "\(course.code)-\(course.term)-grades-canvas.csv")
    }
}
