// Finds the place named in the path (`:programmeID`, `:courseID`, `:projectID`), the caller's roles that bear on
// it, and asks the policy; a place that does not exist and a place the caller may not act on both answer 404.
import Fluent
import SQLKit
import Vapor

extension CourseAccess {
    static func load(_ user: User, _ course: Course, on db: any Database) async throws -> CourseAccess {
        // A member who left the course at its LMS is no longer let in (their rows stay).
        let (courseRole, programmeRole) = try await roles(of: try user.requireID(), place: (CourseMember.schema, "course_id", try course.requireID(), true),
                                                         programme: course.$programme.id, as: CourseRole.self, on: db)
        return CourseAccess(courseRole: courseRole, programmeRole: programmeRole)
    }
}

extension CourseAccess {
    /// The course with this id and the person's access to it, in one statement (every course page and call asks).
    static func course(_ id: UUID, for user: User, on db: any Database) async throws -> (Course, CourseAccess)? {
        let userID = try user.requireID()
        guard let row = try await db.sqlDatabase().raw("""
            SELECT c.*,
              (SELECT role FROM course_members WHERE course_id = c.id AND user_id = \(bind: userID) AND left_at IS NULL) AS place_role,
              (SELECT role FROM programme_members WHERE programme_id = c.programme_id AND user_id = \(bind: userID)) AS programme_role
            FROM courses c WHERE c.id = \(bind: id)
            """).first() else { return nil }
        let access = CourseAccess(courseRole: try row.decode(column: "place_role", as: String?.self).flatMap(CourseRole.init(rawValue:)),
                                  programmeRole: try row.decode(column: "programme_role", as: String?.self).flatMap(ProgrammeRole.init(rawValue:)))
        return (try row.decode(fluentModel: Course.self), access)
    }
}

extension ProjectAccess {
    static func load(_ user: User, _ project: ResearchProject, on db: any Database) async throws -> ProjectAccess {
        let (projectRole, programmeRole) = try await roles(of: try user.requireID(), place: (ProjectMember.schema, "project_id", try project.requireID(), false),
                                                          programme: project.$programme.id, as: ProjectRole.self, on: db)
        return ProjectAccess(projectRole: projectRole, programmeRole: programmeRole)
    }
}

/// A person's role in a course or project (`place`: its members table, the column naming it, its id, whether its
/// members can have left) and in its programme, in one statement: every request on a place asks.
private func roles<Role: RawRepresentable<String>>(of userID: UUID, place: (table: String, column: String, id: UUID, canLeave: Bool), programme programmeID: UUID,
                                                  as: Role.Type, on db: any Database) async throws -> (Role?, ProgrammeRole?) {
    let sql = try db.sqlDatabase()
    let stayed: SQLQueryString = place.canLeave ? " AND left_at IS NULL" : ""
    let row = try await sql.raw("""
        SELECT (SELECT role FROM \(ident: place.table) WHERE \(ident: place.column) = \(bind: place.id) AND user_id = \(bind: userID)\(stayed)) AS place_role,
          (SELECT role FROM programme_members WHERE programme_id = \(bind: programmeID) AND user_id = \(bind: userID)) AS programme_role
        """).first()
    let placeRole = try row?.decode(column: "place_role", as: String?.self).flatMap(Role.init(rawValue:))
    let programmeRole = try row?.decode(column: "programme_role", as: String?.self).flatMap(ProgrammeRole.init(rawValue:))
    return (placeRole, programmeRole)
}

extension Request {
    /// The course named by `:courseID`, the signed-in user, and their access.
    func course(for action: (CourseAccess) -> Policy.Action) async throws -> (Course, User, CourseAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("courseID", as: UUID.self), let (course, access) = try await CourseAccess.course(id, for: user, on: db) else {
            throw Abort(.notFound)
        }
        try Policy.require(user, can: action(access))
        return (course, user, access)
    }

    /// The programme named by `:programmeID`, the signed-in user, and their role in it.
    func programme(for action: (ProgrammeRole?) -> Policy.Action) async throws -> (Programme, User, ProgrammeRole?) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("programmeID", as: UUID.self), let programme = try await Programme.find(id, on: db) else { throw Abort(.notFound) }
        let role = try await ProgrammeMember.query(on: db).filter(\.$programme.$id == id).filter(\.$user.$id == user.requireID()).first()?.role
        try Policy.require(user, can: action(role))
        return (programme, user, role)
    }

    /// The research project named by `:projectID`, the signed-in user, and their access.
    func project(for action: (ProjectAccess) -> Policy.Action) async throws -> (ResearchProject, User, ProjectAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("projectID", as: UUID.self), let project = try await ResearchProject.find(id, on: db) else { throw Abort(.notFound) }
        let access = try await ProjectAccess.load(user, project, on: db)
        try Policy.require(user, can: action(access))
        return (project, user, access)
    }

    /// The allocation request named by `:requestID`, its project, and the signed-in user, who must be allowed to
    /// decide it (a manager of the project's programme); 404 otherwise.
    func allocationRequestToDecide() async throws -> AllocationRequestInContext {
        let user = try auth.require(User.self)
        guard let id = parameters.get("requestID", as: UUID.self), let request = try await AllocationRequest.find(id, on: db),
              let project = try await ResearchProject.find(request.$project.id, on: db) else { throw Abort(.notFound) }
        let access = try await ProjectAccess.load(user, project, on: db)
        try Policy.require(user, can: .manageProgramme(access.programmeRole))
        return AllocationRequestInContext(request: request, project: project, user: user, access: access)
    }

    /// `:userID` from the path; 404 when it is not an id.
    func userIDParameter() throws -> UUID {
        guard let id = parameters.get("userID", as: UUID.self) else { throw Abort(.notFound) }
        return id
    }
}

extension Request {
    /// The assignment named by `:assignmentID`, its course, the signed-in user and their access. An assignment
    /// not yet released is only there for those who grade.
    func assignment(for action: (CourseAccess) -> Policy.Action) async throws -> AssignmentInContext {
        try await assignment(parameters.get("assignmentID", as: UUID.self), for: action)
    }

    /// The same for an assignment named by its id (reached through a record of it: a similarity check, a pair).
    func assignment(_ id: UUID?, for action: (CourseAccess) -> Policy.Action) async throws -> AssignmentInContext {
        let user = try auth.require(User.self)
        guard let id, let assignment = try await Assignment.find(id, on: db),
              let course = try await Course.find(assignment.$course.id, on: db) else { throw Abort(.notFound) }
        let access = try await CourseAccess.load(user, course, on: db)
        try Policy.require(user, can: action(access))
        if !assignment.isReleased(at: now) { try Policy.require(user, can: .grade(access)) }
        return AssignmentInContext(assignment: assignment, course: course, user: user, access: access)
    }

    /// The submission named by `:submissionID`: its owner sees it, and those who grade its course; `grading`
    /// asks for the latter.
    func submission(grading: Bool) async throws -> SubmissionInContext {
        let user = try auth.require(User.self)
        guard let id = parameters.get("submissionID", as: UUID.self), let submission = try await Submission.find(id, on: db),
              let assignment = try await Assignment.find(submission.$assignment.id, on: db),
              let course = try await Course.find(assignment.$course.id, on: db) else { throw Abort(.notFound) }
        let access = try await CourseAccess.load(user, course, on: db)
        try Policy.require(user, can: grading ? .grade(access) : .viewSubmission(access, ownerID: submission.$user.id))
        return SubmissionInContext(submission: submission, assignment: assignment, course: course, user: user, access: access)
    }
}

extension Request {
    /// The output named by `:outputID` in the project named by `:projectID`, which the caller may remove; 404 otherwise.
    func projectOutputToRemove() async throws -> (ProjectOutput, ResearchProject) {
        let (project, user, access) = try await self.project(for: Policy.Action.viewProject)
        guard let id = parameters.get("outputID", as: UUID.self), let output = try await ProjectOutput.find(id, on: db),
              output.$project.id == project.id else { throw Abort(.notFound) }
        try Policy.require(user, can: .removeProjectOutput(access, recordedBy: output.$recordedBy.id))
        return (output, project)
    }

    /// The research job named by `:jobID`, its project, the caller and their access; 404 unless the caller may
    /// see the project.
    func researchJob() async throws -> ResearchJobInContext {
        let user = try auth.require(User.self)
        guard let id = parameters.get("jobID", as: UUID.self), let job = try await ResearchJob.find(id, on: db),
              let project = try await ResearchProject.find(job.$project.id, on: db) else { throw Abort(.notFound) }
        let access = try await ProjectAccess.load(user, project, on: db)
        try Policy.require(user, can: .viewProject(access))
        return ResearchJobInContext(job: job, project: project, user: user, access: access)
    }

    /// The research job named by `:jobID`, which the caller may cancel (who submitted it, or who manages its
    /// project); 404 otherwise.
    func researchJobToCancel() async throws -> ResearchJobInContext {
        let found = try await researchJob()
        try Policy.require(found.user, can: .cancelProjectJob(found.access, submittedBy: found.job.$submittedBy.id))
        return found
    }
}

/// What a handler finds behind an id in the path: the thing, where it belongs, who asks, and their roles there.
struct AssignmentInContext {
    let assignment: Assignment
    let course: Course
    let user: User
    let access: CourseAccess
}

struct SubmissionInContext {
    let submission: Submission
    let assignment: Assignment
    let course: Course
    let user: User
    let access: CourseAccess
}

struct ResearchJobInContext {
    let job: ResearchJob
    let project: ResearchProject
    let user: User
    let access: ProjectAccess
}

struct AllocationRequestInContext {
    let request: AllocationRequest
    let project: ResearchProject
    let user: User
    let access: ProjectAccess
}
