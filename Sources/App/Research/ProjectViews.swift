// A research project as the API and its pages show it: its fields and its members, PI first.
import Fluent
import Insight
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
    /// The Slurm cluster its jobs go to; nil: the platform's own workers.
    var slurmCluster: UUID?
    var members: [Member]
}

extension ProjectDTO.Member: APIBody {
    static let schemaName = "ProjectMember"
    static let schema = JSONSchema.object(["userID": .string(format: "uuid"), "name": .string(), "role": .choice(ProjectRole.self)], required: ["userID", "name", "role"])
    static let samples = [Self(userID: Sample.id, name: "Ada", role: "pi")]
}

extension ProjectDTO: APIBody {
    static let schemaName = "Project"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "programmeID": .string(format: "uuid"), "title": .string(), "summary": .string(), "status": .choice(ProjectStatus.self),
        "startsOn": .string(format: "date-time"), "endsOn": .string(format: "date-time"), "tags": .array(.string()), "jobNetwork": .boolean,
        "slurmCluster": .string(format: "uuid"), "members": .array(.ref(Member.self)),
    ], required: ["id", "programmeID", "title", "summary", "status", "tags", "jobNetwork", "members"])
    static var parts: [any APIBody.Type] { [Member.self] }
    static let samples = [ProjectDTO(id: Sample.id, programmeID: Sample.id, title: "Protein folding", summary: "Folding at scale.", status: "active",
                                     startsOn: Sample.date, endsOn: Sample.date, tags: ["biology"], jobNetwork: false, slurmCluster: Sample.id,
                                     members: Member.samples)]
}

enum ProjectViews {
    static func project(_ project: ResearchProject, on db: any Database) async throws -> ProjectDTO {
        let members = try await ProjectMember.query(on: db).filter(\.$project.$id == project.requireID()).with(\.$user).all()
        let order: [ProjectRole: Int] = [.pi: 0, .mentor: 1, .member: 2]
        return ProjectDTO(id: try project.requireID(), programmeID: project.$programme.id, title: project.title, summary: project.summary,
                          status: project.status, startsOn: project.startsOn, endsOn: project.endsOn,
                          tags: project.tags.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
                          jobNetwork: project.jobNetwork, slurmCluster: project.slurmClusterID, members: members.naturallySorted(group: { order[$0.role]! }, by: \.user.displayName)
                              .map { .init(userID: $0.$user.id, name: $0.user.displayName, role: $0.role.rawValue) })
    }
}
