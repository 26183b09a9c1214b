// The grading pages: an assignment (instructions, hand-in, own submissions; for staff its settings, autograder,
// set-up log, every submission, regrade-all with progress, publishing), a submission (its result as the viewer may
// see it; for staff the log, adjustments and regrade), and the course's gradebook. Forms go through
// `req.formAction`: success → redirect with a notice, bad input → the page again with every problem.
import Fluent
import Foundation
import Grading
import Vapor

enum AssignmentPageController {

    static func score(_ dto: SubmissionDTO) -> String {
        switch dto.status {
        case "queued", "running": return dto.status == "queued" ? "waiting" : "grading…"
        default:
            guard let final = dto.finalScore else { return dto.hiddenTests > 0 ? "not yet visible" : "—" }
            return Gradebook.number(final) + (dto.maxScore.map { " / " + Gradebook.number($0) } ?? "")
        }
    }

    @Sendable static func page(req: Request) async throws -> View {
        let found = try await req.assignment(for: Policy.Action.viewCourse)
        let assignment = found.assignment, course = found.course, user = found.user, access = found.access
        return try await render(req, assignment, course, user, access)
    }

    static func render(_ req: Request, _ assignment: Assignment, _ course: Course, _ user: User, _ access: CourseAccess,
                       page: PageContext? = nil) async throws -> View {
        let staff = Policy.allows(user, .grade(access))
        let id = try assignment.requireID()
        func rows(_ submissions: [Submission]) async throws -> [AssignmentPage.Row] {
            try await Grades.views(submissions, assignment: assignment, staff: staff, now: req.now, on: req.db).map { dto in
                .init(link: SitePath.submission(.id(dto.id)).url, who: dto.userName ?? "", attempt: dto.attempt,
                      submittedAt: PageFormat.when(dto.submittedAt) ?? "", status: dto.status, score: score(dto), testRun: dto.isTestRun)
            }
        }
        let mine = try await Submission.query(on: req.db).filter(\.$assignment.$id == id).filter(\.$user.$id == user.requireID())
            .sort(\.$submittedAt, .descending).all()
        var everyone: [AssignmentPage.Row]?, progress: Grades.RegradeProgress?, inLMS = false
        if staff {
            // The latest 200 hand-ins; the API pages through all of them.
            everyone = try await rows(try await Submission.query(on: req.db).filter(\.$assignment.$id == id).with(\.$user)
                .sort(\.$submittedAt, .descending).limit(200).all())
            progress = try await Grades.progress(assignment, on: req.db)
            inLMS = try await LTILineItem.known(for: id, on: req.db)
        }
        let view = AssignmentPage(
            title: assignment.title, page: page ?? PageContext(req), course: try CourseDTO(course, access: access),
            courseLink: SitePath.course(.id(try course.requireID())).url,
            assignment: try AssignmentDTO(assignment, staff: staff), links: AssignmentLinks(id), instructionsHTML: Markdown.html(assignment.instructions),
            due: PageFormat.when(assignment.dueAt), staff: staff, canManage: Policy.allows(user, .manageCourse(access)),
            mine: try await rows(mine), everyone: everyone, progress: progress, inLMS: inLMS)
        return try await req.view.render("assignment", view)
    }

    @Sendable static func create(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.manageCourse)
        return try await req.formAction(back: .course(.id(try course.requireID())), at: "assignments",
                                        render: { try await CourseController.render(req, course, user, access, page: $0) }) {
            let assignment = try await Assignments.create(in: course, try req.input(AssignmentInput.self), by: user, on: req.db)
            return assignment.kind == .gradescope
                ? "Created “\(assignment.title)”. Open it to upload its autograder zip; students can hand in once its setup.sh has run."
                : "Created “\(assignment.title)”."
        }
    }

    @Sendable static func update(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.manageCourse)
        let assignment = found.assignment, course = found.course, user = found.user, access = found.access
        return try await req.formAction(back: .assignment(.id(try assignment.requireID())), render: { try await render(req, assignment, course, user, access, page: $0) }) {
            var input = try req.input(AssignmentInput.self)
            input.kind = nil
            try await Assignments.update(assignment, input, writes: req.writes)
            return "Saved the assignment."
        }
    }

    @Sendable static func uploadAutograder(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.manageCourse)
        let assignment = found.assignment, course = found.course, user = found.user, access = found.access
        return try await req.formAction(back: .assignment(.id(try assignment.requireID())), render: { try await render(req, assignment, course, user, access, page: $0) }) {
            guard let zip = try MultipartForm(req)?.all(named: "autograder").first, !zip.data.isEmpty else {
                throw InputRejection("Choose the autograder zip to upload.")
            }
            try await Assignments.setAutograder(assignment, zip: zip.data, at: req.now, on: req.db)
            return "Uploaded autograder version \(assignment.autograderVersion); its setup.sh runs now (reload to see how it went)."
        }
    }

    @Sendable static func submit(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.submitWork)
        let assignment = found.assignment, course = found.course, user = found.user, access = found.access
        let back = SitePath.assignment(.id(try assignment.requireID()))
        do {
            guard let form = try MultipartForm(req) else { throw InputRejection("Choose the files to hand in.") }
            let files = try Uploads.files(from: form.handIn, limits: Submissions.limits)
            let submission = try await Submissions.submit(files, to: assignment, course: course, by: user, access: access, on: req.application, db: req.db)
            req.session.data[PageContext.noticeKey] = "Handed in (attempt \(submission.attempt)). This page shows the result when it is graded."
            return req.redirect(to: .submission(.id(try submission.requireID())))
        } catch let rejection as InputRejection {
            return try await render(req, assignment, course, user, access, page: PageContext(req, problems: rejection.problems))
                .encodeResponse(status: .unprocessableEntity, for: req)
        } catch let refusal as Refusal {
            return try await render(req, assignment, course, user, access, page: PageContext(req, problems: [refusal.reason]))
                .encodeResponse(status: .conflict, for: req)
        } catch let abort as AbortError where abort.status == .payloadTooLarge {
            req.session.data[PageContext.noticeKey] = "The files are too large (12 MB at most)."
            return req.redirect(to: back)
        }
    }

    @Sendable static func regradeAll(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.grade)
        let assignment = found.assignment, course = found.course, user = found.user
        let progress: Grades.RegradeProgress
        do {
            progress = try await Grades.regradeAll(assignment, course: course, by: user, on: req.application, db: req.db)
            req.session.data[PageContext.noticeKey] = "Regrading: \(progress.waiting) submission(s) queued. Progress shows below."
        } catch let refusal as Refusal {
            req.session.data[PageContext.noticeKey] = refusal.reason
        }
        return req.redirect(to: .assignment(.id(try assignment.requireID())), at: "regrade")
    }

    @Sendable static func publish(req: Request) async throws -> Response {
        let assignment = try await req.assignment(for: Policy.Action.manageCourse).assignment
        struct Form: Decodable { var published: String? }
        let publish = (try? req.content.decode(Form.self))?.published == "true"
        try await Assignments.publishGrades(assignment, publish, app: req.application, on: req.db)
        req.session.data[PageContext.noticeKey] = publish ? "Grades published: results marked after_published are now visible to students." : "Grades withdrawn."
        return req.redirect(to: .assignment(.id(try assignment.requireID())))
    }

    // MARK: Submissions

    @Sendable static func submission(req: Request) async throws -> View {
        let found = try await req.submission(grading: false)
        let submission = found.submission, assignment = found.assignment, course = found.course, user = found.user, access = found.access
        return try await renderSubmission(req, submission, assignment, course, user, access)
    }

    static func renderSubmission(_ req: Request, _ submission: Submission, _ assignment: Assignment, _ course: Course, _ user: User,
                                 _ access: CourseAccess, page: PageContext? = nil) async throws -> View {
        let staff = Policy.allows(user, .grade(access))
        let dto = try await Grades.load(submission, assignment: assignment, staff: staff, now: req.now, on: req.db)
        return try await req.view.render("submission", SubmissionPage(
            title: "\(assignment.title): attempt \(submission.attempt)", page: page ?? PageContext(req),
            assignment: try AssignmentDTO(assignment, staff: staff), assignmentLink: SitePath.assignment(.id(dto.assignmentID)).url, submission: dto,
            files: SitePath.submissionFiles(.id(dto.id)).url, adjust: SitePath.adjustments(.id(dto.id)).url, regrade: SitePath.regradeSubmission(.id(dto.id)).url,
            staff: staff, finished: submission.isFinished,
            scoreText: score(dto)))
    }

    @Sendable static func regrade(req: Request) async throws -> Response {
        let found = try await req.submission(grading: true)
        let submission = found.submission, assignment = found.assignment, course = found.course, user = found.user, access = found.access
        let back = SitePath.submission(.id(try submission.requireID()))
        do {
            try await Grades.regrade(submission, assignment: assignment, course: course, by: user, on: req.application, db: req.db)
            req.session.data[PageContext.noticeKey] = "Queued for regrading."
        } catch let refusal as Refusal {
            return try await renderSubmission(req, submission, assignment, course, user, access, page: PageContext(req, problems: [refusal.reason]))
                .encodeResponse(status: .conflict, for: req)
        }
        return req.redirect(to: back)
    }

    @Sendable static func adjust(req: Request) async throws -> Response {
        let found = try await req.submission(grading: true)
        let submission = found.submission, assignment = found.assignment, course = found.course, user = found.user, access = found.access
        return try await req.formAction(back: .submission(.id(try submission.requireID())),
                                        render: { try await renderSubmission(req, submission, assignment, course, user, access, page: $0) }) {
            let adjustment = try await Grades.adjust(submission, try req.input(Grades.AdjustmentInput.self), by: user, app: req.application, on: req.db)
            return "Adjusted the score by \(Gradebook.number(adjustment.points)) point(s)."
        }
    }

    // MARK: Gradebook

    /// A person's own grades in the course (what students see; staff see their own test runs' course too).
    @Sendable static func myGrades(req: Request) async throws -> View {
        let (course, user, access) = try await req.course(for: Policy.Action.viewCourse)
        let grades = try await Grades.mine(in: course, user: user, now: req.now, on: req.db)
        return try await req.view.render("grades", MyGradesPage(
            title: "\(course.code): my grades", page: PageContext(req), course: try CourseDTO(course, access: access),
            courseLink: SitePath.course(.id(try course.requireID())).url,
            rows: grades.map { grade in
                var notes: [String] = []
                if grade.waiting > 0 { notes.append("\(grade.waiting) waiting to be graded") }
                if grade.hiddenAttempts > 0 { notes.append("\(grade.hiddenAttempts) score(s) not visible yet") }
                let score = grade.score.map { Gradebook.number($0) + (grade.pointsPossible.map { " / " + Gradebook.number($0) } ?? "") } ?? "—"
                return .init(link: SitePath.assignment(.id(grade.assignmentID)).url, title: grade.title, due: PageFormat.when(grade.dueAt) ?? "no due date", attempts: grade.attempts,
                             score: score, note: notes.joined(separator: "; "))
            }))
    }

    @Sendable static func gradebook(req: Request) async throws -> View {
        let (course, _, access) = try await req.course(for: Policy.Action.grade)
        let number = Pager.number(req), courseID = try course.requireID()
        let page = try await GradebookRows.page(course, number: number, per: Pager.perPage, writes: req.writes)
        return try await req.view.render("gradebook", GradebookPage(
            pager: Pager(path: SitePath.gradebook(.id(courseID)).url, number: number, total: page.total, noun: "students"),
            title: "\(course.code) gradebook", page: PageContext(req), course: try CourseDTO(course, access: access), links: CourseLinks(courseID),
            head: page.tableHead { SitePath.assignment(.id($0)).url }, body: page.tableBody { SitePath.courseStudent(.id(courseID), user: .id($0)).url }))
    }
}
