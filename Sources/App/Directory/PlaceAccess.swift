// Finds the place named in the path (`:programmeID`, `:courseID`, `:projectID`), the caller's roles that bear on
// it, and asks the policy; a place that does not exist and a place the caller may not act on both answer 404.
import Fluent
import Vapor

extension CourseAccess {
    static func load(_ user: User, _ course: Course, on db: any Database) async throws -> CourseAccess {
        let userID = try user.requireID()
        let member = try await CourseMember.query(on: db).filter(\.$course.$id == course.requireID()).filter(\.$user.$id == userID).first()
        return CourseAccess(courseRole: member?.role, programmeRole: try await roleInProgramme(of: userID, in: course.$programme.id, on: db))
    }
}

extension ProjectAccess {
    static func load(_ user: User, _ project: ResearchProject, on db: any Database) async throws -> ProjectAccess {
        let userID = try user.requireID()
        let member = try await ProjectMember.query(on: db).filter(\.$project.$id == project.requireID()).filter(\.$user.$id == userID).first()
        return ProjectAccess(projectRole: member?.role, programmeRole: try await roleInProgramme(of: userID, in: project.$programme.id, on: db))
    }
}

private func roleInProgramme(of userID: UUID, in programmeID: UUID, on db: any Database) async throws -> ProgrammeRole? {
    try await ProgrammeMember.query(on: db).filter(\.$programme.$id == programmeID).filter(\.$user.$id == userID).first()?.role
}

extension Request {
    /// The course named by `:courseID`, the signed-in user, and their access.
    func course(for action: (CourseAccess) -> Policy.Action) async throws -> (Course, User, CourseAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("courseID", as: UUID.self), let course = try await Course.find(id, on: db) else { throw Abort(.notFound) }
        let access = try await CourseAccess.load(user, course, on: db)
        try Policy.require(user, can: action(access))
        return (course, user, access)
    }

    /// The programme named by `:programmeID`, the signed-in user, and their role in it.
    func programme(for action: (ProgrammeRole?) -> Policy.Action) async throws -> (Programme, User, ProgrammeRole?) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("programmeID", as: UUID.self), let programme = try await Programme.find(id, on: db) else { throw Abort(.notFound) }
        let role = try await roleInProgramme(of: user.requireID(), in: id, on: db)
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
    func allocationRequestToDecide() async throws -> (AllocationRequest, ResearchProject, User, ProjectAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("requestID", as: UUID.self), let request = try await AllocationRequest.find(id, on: db),
              let project = try await ResearchProject.find(request.$project.id, on: db) else { throw Abort(.notFound) }
        let access = try await ProjectAccess.load(user, project, on: db)
        try Policy.require(user, can: .manageProgramme(access.programmeRole))
        return (request, project, user, access)
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
    func assignment(for action: (CourseAccess) -> Policy.Action) async throws -> (Assignment, Course, User, CourseAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("assignmentID", as: UUID.self), let assignment = try await Assignment.find(id, on: db),
              let course = try await Course.find(assignment.$course.id, on: db) else { throw Abort(.notFound) }
        let access = try await CourseAccess.load(user, course, on: db)
        try Policy.require(user, can: action(access))
        if !assignment.isReleased { try Policy.require(user, can: .grade(access)) }
        return (assignment, course, user, access)
    }

    /// The submission named by `:submissionID`: its owner sees it, and those who grade its course; `grading`
    /// asks for the latter.
    func submission(grading: Bool) async throws -> (Submission, Assignment, Course, User, CourseAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("submissionID", as: UUID.self), let submission = try await Submission.find(id, on: db),
              let assignment = try await Assignment.find(submission.$assignment.id, on: db),
              let course = try await Course.find(assignment.$course.id, on: db) else { throw Abort(.notFound) }
        let access = try await CourseAccess.load(user, course, on: db)
        try Policy.require(user, can: grading ? .grade(access) : .viewSubmission(access, ownerID: submission.$user.id))
        return (submission, assignment, course, user, access)
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
    func researchJob() async throws -> (ResearchJob, ResearchProject, User, ProjectAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("jobID", as: UUID.self), let job = try await ResearchJob.find(id, on: db),
              let project = try await ResearchProject.find(job.$project.id, on: db) else { throw Abort(.notFound) }
        let access = try await ProjectAccess.load(user, project, on: db)
        try Policy.require(user, can: .viewProject(access))
        return (job, project, user, access)
    }

    /// The research job named by `:jobID`, which the caller may cancel (who submitted it, or who manages its
    /// project); 404 otherwise.
    func researchJobToCancel() async throws -> (ResearchJob, ResearchProject, User, ProjectAccess) {
        let (job, project, user, access) = try await researchJob()
        try Policy.require(user, can: .cancelProjectJob(access, submittedBy: job.$submittedBy.id))
        return (job, project, user, access)
    }
}
