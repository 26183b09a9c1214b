// A research project as the API and its pages show it: its fields and its members, PI first.
import Fluent
import Vapor

struct ProjectDTO: Content {
    struct Member: Content { var userID: UUID; var name: String; var role: String }
    var id: UUID
    var programmeID: UUID
    var title: String
    var summary: String
    var status: String
    var startsOn: Date?
    var endsOn: Date?
    var tags: [String]
    /// Whether the project's jobs may use the network.
    var jobNetwork: Bool
    var members: [Member]
}

enum ProjectViews {
    static func project(_ project: ResearchProject, on db: any Database) async throws -> ProjectDTO {
        let members = try await ProjectMember.query(on: db).filter(\.$project.$id == project.requireID()).with(\.$user).all()
        let order: [ProjectRole: Int] = [.pi: 0, .mentor: 1, .member: 2]
        return ProjectDTO(id: try project.requireID(), programmeID: project.$programme.id, title: project.title, summary: project.summary,
                          status: project.status, startsOn: project.startsOn, endsOn: project.endsOn,
                          tags: project.tags.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
                          jobNetwork: project.jobNetwork, members: members.sorted { (order[$0.role]!, $0.user.displayName) < (order[$1.role]!, $1.user.displayName) }
                              .map { .init(userID: $0.$user.id, name: $0.user.displayName, role: $0.role.rawValue) })
    }
}
