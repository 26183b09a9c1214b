// A person's roles across the platform, loaded with a fixed number of queries (no query per membership).
import Fluent
import Insight
import Vapor

struct MembershipsDTO: Content {
    struct Place: Content, Equatable {
        var id: UUID
        var name: String
        var role: String
    }
    var programmes: [Place]
    var courses: [Place]
    var projects: [Place]

    static func of(_ user: User, on db: any Database) async throws -> MembershipsDTO {
        let id = try user.requireID()
        let programmes = try await ProgrammeMember.query(on: db).filter(\.$user.$id == id).with(\.$programme).all()
        let courses = try await CourseMember.query(on: db).filter(\.$user.$id == id).filter(\.$leftAt == nil).with(\.$course).all()
        let projects = try await ProjectMember.query(on: db).filter(\.$user.$id == id).with(\.$project).all()
        return MembershipsDTO(
            programmes: try programmes.map { Place(id: try $0.programme.requireID(), name: $0.programme.name, role: $0.role.rawValue) }
                .naturallySorted(by: \.name),
            courses: try courses.map { Place(id: try $0.course.requireID(), name: "\($0.course.code) \($0.course.title)", role: $0.role.rawValue) }
                .naturallySorted(by: \.name),
            projects: try projects.map { Place(id: try $0.project.requireID(), name: $0.project.title, role: $0.role.rawValue) }
                .naturallySorted(by: \.name))
    }
}

