// Handing in work. Everything that could refuse is checked before anything is written: the files (a zip is
// checked whole), the assignment's rules (released, deadline, maximum, required files), the autograder being
// ready, and the credits (reserved before the run: the student's allowance, or the course's allocation for a
// staff test run). The submission, its files and its grading job are then written in ONE transaction.
import Fluent
import SQLKit
import Foundation
import Grading
import Ledger
import Vapor

enum Submissions {
    /// What one hand-in may hold.
    static let limits = ArchiveLimits(maxArchiveBytes: 10 << 20, maxFiles: 200, maxTotalBytes: 20 << 20, maxFileBytes: 10 << 20)
    static let maxUploadBody: ByteCount = "12mb"
    /// How long a grading run's credits stay held while it waits in the queue.
    static let holdLifetime: TimeInterval = 24 * 3600

    /// Hands in `files` for `user`: checks, reserves credits, then writes the submission, its files and its job.
    static func submit(_ files: [String: Data], to assignment: Assignment, course: Course, by user: User, access: CourseAccess,
                       on app: Application, db: any Database) async throws -> Submission {
        let now = app.clock.now()
        let isStaff = Policy.allows(user, .grade(access))
        let userID = try user.requireID(), assignmentID = try assignment.requireID()
        if !isStaff {
            guard assignment.isReleased(at: now) else { throw Abort(.notFound) }
            guard assignment.latePolicy.accepts(submittedAt: now, due: assignment.dueAt) else {
                throw Refusal("The deadline for “\(assignment.title)” has passed and it takes no late work.")
            }
        }
        switch assignment.setupStatus {
        case .ready, .notNeeded: break
        case .pending: throw Refusal("The autograder for “\(assignment.title)” is still being set up; try again in a few minutes.")
        case .failed: throw Refusal("The autograder for “\(assignment.title)” could not be set up; the course staff have been shown why.")
        }
        let missing = RequiredFiles.missing(assignment.requiredFiles, in: Array(files.keys))
        guard missing.isEmpty else {
            throw InputRejection(missing.map { "The hand-in has no file matching '\($0)', which this assignment requires." })
        }
        // The attempt count and the run's estimate (a price read) on one leased connection: a statement through the
        // pool costs several times one on a held connection. The reservation writes after it is released: the ledger's
        // write queue is only ever taken before a connection, never while one is held.
        let submissionID = UUID()
        let (earlier, estimate): (Int, Credits) = try await db.withConnection { db in
            let earlier = try await attempts(of: userID, at: assignmentID, on: db)
            return (earlier, try await Self.estimate(for: assignment, on: db, at: now))
        }
        if !isStaff, let max = assignment.maxSubmissions, earlier >= max {
            throw Refusal("You have handed in “\(assignment.title)” \(earlier) times, the most it allows.")
        }
        let hold = try await reserve(estimate, for: assignment, course: course, user: user, staff: isStaff, key: "submission:\(submissionID):run:1", on: app, db: db)
        let submission = Submission()
        submission.id = submissionID
        submission.$assignment.id = assignmentID
        submission.$user.id = userID
        submission.isTestRun = isStaff
        submission.attempt = earlier + 1
        submission.status = .queued
        submission.submittedAt = now
        submission.cpuMs = 0
        submission.wallMs = 0
        submission.charged = 0
        submission.runs = 1
        submission.holdID = hold?.id
        do {
            try await app.writeTransaction(on: db) { tx in
                submission.jobID = try await GradingJobs.enqueueGrade(submissionID, run: 1, at: now, on: tx).id
                try await insert(submission, on: tx)
                try await SubmissionFile.insert(files, of: submissionID, on: tx)
            }
        } catch {
            if let hold { _ = try? await app.ledger(on: db).void(hold.requireID(), memo: "the hand-in was not stored") }
            if Writes.isUniqueViolation(error) {
                throw Refusal("Another hand-in of yours for this assignment arrived at the same moment; look at your submissions and try again if needed.")
            }
            throw error
        }
        app.jobBell.ring()
        return submission
    }

    /// How many times `userID` has handed in the assignment (one plain statement: every hand-in asks).
    static func attempts(of userID: UUID, at assignmentID: UUID, on db: any Database) async throws -> Int {
        guard let sql = db as? any SQLDatabase else {
            return try await Submission.query(on: db).filter(\.$assignment.$id == assignmentID).filter(\.$user.$id == userID).count()
        }
        let row = try await sql.raw("SELECT count(*) AS n FROM submissions WHERE assignment_id = \(bind: assignmentID) AND user_id = \(bind: userID)").first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Writes a new submission's row with one plain INSERT (a model's create costs more than the statement).
    static func insert(_ submission: Submission, on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return try await submission.create(on: db) }
        try await sql.raw("""
            INSERT INTO submissions (id, assignment_id, user_id, is_test_run, attempt, status, submitted_at, cpu_ms, wall_ms, hold_id, charged, runs, job_id)
            VALUES (\(bind: submission.id), \(bind: submission.$assignment.id), \(bind: submission.$user.id), \(bind: submission.isTestRun),
              \(bind: submission.attempt), \(bind: submission.status.rawValue), \(bind: submission.submittedAt), \(bind: submission.cpuMs),
              \(bind: submission.wallMs), \(bind: submission.holdID), \(bind: submission.charged), \(bind: submission.runs), \(bind: submission.jobID))
            """).run()
        submission.$id.exists = true
    }

    /// The most a run may cost: its CPU and wall time limits at today's prices (nothing when those meters have no price).
    static func estimate(for assignment: Assignment, on db: any Database, at time: Date) async throws -> Credits {
        try await SandboxCharges.estimate(seconds: try runSeconds(assignment), on: db, at: time)
    }

    /// The run's time limit in seconds (a Classroom run is every test's time).
    static func runSeconds(_ assignment: Assignment) throws -> Int {
        switch assignment.kind {
        case .gradescope: assignment.timeLimitSeconds
        case .classroom: ClassroomRun.wallSeconds(tests: try Assignments.classroomTests(assignment), limit: assignment.timeLimitSeconds)
        }
    }

    /// Reserves a run's estimated cost: from the student's allowance, or the course's allocation for staff. nil
    /// when the run costs nothing. A refusal says what is left and who can raise it.
    static func reserve(_ amount: Credits? = nil, for assignment: Assignment, course: Course, user: User, staff: Bool, key: String,
                        on app: Application, db: any Database) async throws -> LedgerHold? {
        var amount = amount
        if amount == nil { amount = try await estimate(for: assignment, on: db, at: app.clock.now()) }
        guard let amount else { return nil }
        guard amount > .zero else { return nil }
        let ledger = app.ledger(on: db)
        do {
            let account = staff ? try await ledger.allocation(of: .course(course)) : try await ledger.allowance(of: user, in: .course(course))
            return try await ledger.reserve(account, amount: amount, reason: "grading “\(assignment.title)”", key: key,
                                            lifetime: holdLifetime, actor: user.id)
        } catch let refusal as LedgerRefusal {
            throw Refusal("Not graded: \(refusal.description) A grading run of “\(assignment.title)” may cost up to \(amount) credits. "
                                    + (staff ? "A programme manager can allocate more credits to \(course.code)."
                                             : try await LedgerPlace.course(course).whoToAsk(on: db)))
        }
    }
}
