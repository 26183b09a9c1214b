// Who holds which role where. One table per kind of place keeps foreign keys real and queries simple.
import Fluent
import Foundation

enum ProgrammeRole: String, Codable, CaseIterable, Sendable { case manager, partnerContact = "partner_contact", courseCreator = "course_creator" }
enum CourseRole: String, Codable, CaseIterable, Sendable { case instructor, ta, student }
enum ProjectRole: String, Codable, CaseIterable, Sendable { case pi, member, mentor }

final class ProgrammeMember: Model, @unchecked Sendable {
    static let schema = "programme_members"
    @ID(key: .id) var id: UUID?
    @Parent(key: "programme_id") var programme: Programme
    @Parent(key: "user_id") var user: User
    @Field(key: "role") var role: ProgrammeRole
    /// The single sign-on provider whose claim → role rule gave the role (nil: given by hand).
    @OptionalField(key: "granted_by_provider") var grantedByProvider: UUID?

    init() {}
    init(programmeID: UUID, userID: UUID, role: ProgrammeRole) {
        self.$programme.id = programmeID
        self.$user.id = userID
        self.role = role
    }
}

final class CourseMember: Model, @unchecked Sendable {
    static let schema = "course_members"
    @ID(key: .id) var id: UUID?
    @Parent(key: "course_id") var course: Course
    @Parent(key: "user_id") var user: User
    @Field(key: "role") var role: CourseRole
    /// When they left the course at its LMS: kept (their work and grades stay) but no longer let in.
    @OptionalField(key: "left_at") var leftAt: Date?
    /// The LMS course (LTI context) that admitted them; nil when the course's staff did. Only those an LMS course
    /// admitted can be marked as having left it.
    @OptionalField(key: "lti_context_id") var admittedBy: UUID?
    /// When they joined (nil for memberships older than this column): the risk rules count a late joiner's quiet
    /// days from here.
    @Timestamp(key: "joined_at", on: .create) var joinedAt: Date?

    init() {}
    init(courseID: UUID, userID: UUID, role: CourseRole) {
        self.$course.id = courseID
        self.$user.id = userID
        self.role = role
    }
}

final class ProjectMember: Model, @unchecked Sendable {
    static let schema = "project_members"
    @ID(key: .id) var id: UUID?
    @Parent(key: "project_id") var project: ResearchProject
    @Parent(key: "user_id") var user: User
    @Field(key: "role") var role: ProjectRole

    init() {}
    init(projectID: UUID, userID: UUID, role: ProjectRole) {
        self.$project.id = projectID
        self.$user.id = userID
        self.role = role
    }
}
