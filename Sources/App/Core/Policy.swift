// Who may do what: the one place that decides. Every route asks it. A refusal about something the person may not
// even know exists answers 404, so ids leak nothing.
import Foundation
import Labs
import Ledger
import Vapor

enum Policy {
    enum Action: Equatable {
        /// See or change one's own profile and memberships.
        case viewSelf
        /// See or revoke an API key.
        case manageKey(ownerID: UUID)
        /// See a course's page (title, term, one's own role).
        case viewCourse(CourseAccess)
        /// See who is in a course (personal data: staff only).
        case viewRoster(CourseAccess)
        /// Change a course: its details, its roster (import, export) and single memberships.
        case manageCourse(CourseAccess)
        /// See a course's students at risk and dismiss their flags: its teachers (instructors, the programme's
        /// managers, administrators); not TAs, never students.
        case watchStudents(CourseAccess)
        /// See people in a programme's figures — counts of fewer than 5, who did what in an events export —
        /// (administrators, the university's roles in it); its partner contacts see such counts withheld
        /// (`SmallCells`) and each person as a pseudonym of that export alone.
        case seePeople(ProgrammeRole?)
        /// See a programme's page: its courses and projects with counts, never students' names.
        case viewProgramme(ProgrammeRole?)
        /// See a research project and its members.
        case viewProject(ProjectAccess)
        /// Change a programme: its details, its managers and partner contacts, new courses and projects in it.
        /// Create a course in the programme (managers; course creators, who become its instructor).
        case createCourse(ProgrammeRole?)
        case manageProgramme(ProgrammeRole?)
        /// Change a research project's details and members.
        case manageProject(ProjectAccess)
        /// List every programme, not only one's own.
        case listEveryProgramme
        /// Run the platform: people's accounts, new programmes, the admin pages, the price list.
        case administerPlatform
        /// See a programme's credits: the pool and each course's and project's allocation (totals, no names).
        case viewProgrammeCredits(ProgrammeRole?)
        /// Spend from one's own allowance in a course or project.
        case spendOwnAllowance(courseRole: CourseRole?, projectRole: ProjectRole?)
        /// Charge a course's or project's allocation itself (staff test runs, shared jobs).
        case chargeAllocation(CourseAccess?, ProjectAccess?)
        /// Read or mark one's own notices.
        case readNotice(ownerID: UUID)
        /// Settle or void a hold: only one a person opened (the platform's holds are closed by the platform alone).
        case closeHold(createdBy: UUID?, origin: HoldOrigin)
        /// Read one ledger account's statement.
        case viewStatement(StatementAccess)
        /// Hand in work for a course's assignments: students; staff hand-ins are test runs charged to the course.
        case submitWork(CourseAccess)
        /// Grade: every submission and its log, regrades, score adjustments, the gradebook, unreleased assignments.
        case grade(CourseAccess)
        /// See one submission: one's own, or any as grading staff.
        case viewSubmission(CourseAccess, ownerID: UUID)
        /// Hold AI gateway keys paid by one's allowance in the course: its members.
        case useAI(CourseAccess)
        /// Hold AI gateway keys paid by one's allowance in a research project: its members (PI, researchers, mentors).
        case useAIInProject(ProjectAccess)
        /// Set the course's AI policy: its instructors (and managers, admins).
        case setAIPolicy(CourseAccess)
        /// See the course's AI usage per student and model: its staff.
        case viewAIUsage(CourseAccess)
        /// Run batch jobs in a research project (paid from one's allowance in it): its members.
        case runProjectJob(ProjectAccess)
        /// Cancel a project's job: whoever submitted it, and those who manage the project.
        case cancelProjectJob(ProjectAccess, submittedBy: UUID)
        /// Record an output of the project (a publication, dataset, …): its members.
        case recordProjectOutput(ProjectAccess)
        /// Remove a recorded output: whoever recorded it, and those who manage the project.
        case removeProjectOutput(ProjectAccess, recordedBy: UUID)
        /// See a course's lab environment: its staff (who grade) always, to prepare and try it; its students once
        /// it is open to them.
        case viewLab(CourseAccess, openTo: LabAudience)
        /// Create and change a course's lab environments and run their set-up: those who manage the course.
        case manageLabs(CourseAccess)
        /// Open, use and stop a lab session: only the person whose session it is (their files and terminal).
        case useLabSession(ownerID: UUID)
    }

    static func allows(_ user: User, _ action: Action) -> Bool {
        guard user.isActive else { return false }
        switch action {
        case .viewSelf: return true
        case .manageKey(let ownerID): return user.id == ownerID
        case .viewCourse(let access):
            return user.isAdmin || access.programmeRole == .manager || access.courseRole != nil
        case .viewRoster(let access):
            return user.isAdmin || access.programmeRole == .manager || access.courseRole == .instructor || access.courseRole == .ta
        case .manageCourse(let access):
            return user.isAdmin || access.programmeRole == .manager || access.courseRole == .instructor
        case .viewProgramme(let role):
            return user.isAdmin || role != nil
        case .viewProject(let access):
            return user.isAdmin || access.programmeRole == .manager || access.projectRole != nil
        case .manageProgramme(let role):
            return user.isAdmin || role == .manager
        case .createCourse(let role):
            return user.isAdmin || role == .manager || role == .courseCreator
        case .manageProject(let access):
            return user.isAdmin || access.programmeRole == .manager || access.projectRole == .pi
        case .listEveryProgramme, .administerPlatform:
            return user.isAdmin
        case .viewProgrammeCredits(let role):
            return user.isAdmin || role == .manager || role == .partnerContact
        case .seePeople(let role):
            return user.isAdmin || role == .manager || role == .courseCreator
        case .spendOwnAllowance(let courseRole, let projectRole):
            return courseRole != nil || projectRole != nil
        case .chargeAllocation(let course, let project):
            if user.isAdmin { return true }
            if let course { return allows(user, .manageCourse(course)) || course.courseRole == .ta }
            if let project { return allows(user, .manageProject(project)) }
            return false
        case .readNotice(let ownerID):
            return user.id == ownerID
        case .closeHold(let creator, let origin):
            return origin == .person && (user.isAdmin || (creator != nil && creator == user.id))
        case .viewStatement(let access):
            if user.isAdmin || access.programmeRole == .manager { return true }
            if access.isOwnAllowance { return true }
            if let course = access.course { return allows(user, .viewRoster(course)) }
            if let project = access.project { return project.projectRole == .pi }
            return false
        case .submitWork(let access):
            return allows(user, .viewCourse(access))
        case .grade(let access):
            return allows(user, .viewRoster(access))
        case .viewSubmission(let access, let ownerID):
            return (user.id == ownerID && access.courseRole != nil) || allows(user, .grade(access))
        case .useAI(let access):
            return access.courseRole != nil
        case .useAIInProject(let access):
            return access.projectRole != nil
        case .setAIPolicy(let access):
            return allows(user, .manageCourse(access))
        case .viewAIUsage(let access):
            return allows(user, .viewRoster(access))
        case .runProjectJob(let access), .recordProjectOutput(let access):
            return access.projectRole != nil
        case .cancelProjectJob(let access, let owner), .removeProjectOutput(let access, let owner):
            return (user.id == owner && access.projectRole != nil) || allows(user, .manageProject(access))
        case .viewLab(let access, let audience):
            return allows(user, .grade(access)) || (audience == .students && access.courseRole != nil)
        case .manageLabs(let access), .watchStudents(let access):
            return allows(user, .manageCourse(access))
        case .useLabSession(let ownerID):
            return user.id == ownerID
        }
    }

    static func require(_ user: User, can action: Action) throws {
        guard allows(user, action) else { throw Abort(.notFound) }
    }
}

/// A person's roles that bear on one course: in the course itself and in its programme.
struct CourseAccess: Equatable, Sendable {
    var courseRole: CourseRole?
    var programmeRole: ProgrammeRole?
}

/// A person's roles that bear on one research project: in the project and in its programme.
struct ProjectAccess: Equatable, Sendable {
    var projectRole: ProjectRole?
    var programmeRole: ProgrammeRole?
}

/// What bears on reading one ledger account's statement: whose allowance it is, and the reader's roles in its
/// place and programme.
struct StatementAccess: Equatable, Sendable {
    var isOwnAllowance: Bool
    var course: CourseAccess?
    var project: ProjectAccess?
    var programmeRole: ProgrammeRole?
}
