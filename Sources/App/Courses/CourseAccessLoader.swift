// Finds a course by the id in the path and the caller's roles for it (two queries).
import Fluent
import Vapor

extension CourseAccess {
    static func load(_ user: User, _ course: Course, on db: any Database) async throws -> CourseAccess {
        let userID = try user.requireID()
        let member = try await CourseMember.query(on: db).filter(\.$course.$id == course.requireID()).filter(\.$user.$id == userID).first()
        let programme = try await ProgrammeMember.query(on: db).filter(\.$programme.$id == course.$programme.id).filter(\.$user.$id == userID).first()
        return CourseAccess(courseRole: member?.role, programmeRole: programme?.role)
    }
}

extension Request {
    /// The course named by `:courseID`, the signed-in user, and their access; 404 when it does not exist or the
    /// policy says `action` is not theirs.
    func course(for action: (CourseAccess) -> Policy.Action) async throws -> (Course, User, CourseAccess) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("courseID", as: UUID.self), let course = try await Course.find(id, on: db) else { throw Abort(.notFound) }
        let access = try await CourseAccess.load(user, course, on: db)
        try Policy.require(user, can: action(access))
        return (course, user, access)
    }
}
