// What a programme and a research project look like to the people allowed to see them, loaded with a fixed number
// of queries. A programme's view has counts per course, never names: partner contacts see it.
import Fluent
import Insight
import Vapor

struct ProgrammeSummaryDTO: Content {
    var id: UUID
    var name: String
    var partnerOrganisation: String
    var startsOn: Date
    var endsOn: Date
}

struct ProgrammeDTO: Content {
    struct CourseLine: Content { var id: UUID; var code: String; var title: String; var term: String; var students: Int?; var staff: Int? }
    struct ProjectLine: Content { var id: UUID; var title: String; var status: String; var members: Int? }
    var programme: ProgrammeSummaryDTO
    var description: String
    var yourRole: String?
    var courses: [CourseLine]
    var projects: [ProjectLine]
}

extension ProgrammeSummaryDTO: APIBody {
    static let schemaName = "ProgrammeSummary"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "partnerOrganisation": .string(),
                                           "startsOn": .string(format: "date-time"), "endsOn": .string(format: "date-time")],
                                          required: ["id", "name", "partnerOrganisation", "startsOn", "endsOn"])
    static let samples = [ProgrammeSummaryDTO(id: Sample.id, name: "Cloud for Learning", partnerOrganisation: "Example Cloud", startsOn: Sample.date, endsOn: Sample.date)]
}

extension ProgrammeDTO: APIBody {
    static let schemaName = "Programme"
    static let schema = JSONSchema.object([
        "programme": .ref(ProgrammeSummaryDTO.self), "description": .string(), "yourRole": .choice(ProgrammeRole.self),
        "courses": .array(.object(["id": .string(format: "uuid"), "code": .string(), "title": .string(), "term": .string(), "students": .integer(),
                                   "staff": .integer()], required: ["id", "code", "title", "term"])),
        "projects": .array(.object(["id": .string(format: "uuid"), "title": .string(), "status": .choice(ProjectStatus.self), "members": .integer()],
                                    required: ["id", "title", "status"])),
    ], required: ["programme", "description", "courses", "projects"])
    static var parts: [any APIBody.Type] { [ProgrammeSummaryDTO.self] }
    static let samples = [ProgrammeDTO(programme: ProgrammeSummaryDTO.samples[0], description: "Credits for teaching and research.", yourRole: "manager",
                                       courses: [CourseLine(id: Sample.id, code: "CS101", title: "Programming", term: "2026 Autumn", students: 120, staff: 3)],
                                       projects: [ProjectLine(id: Sample.id, title: "Protein folding", status: "active", members: 4)])]
}

enum ProgrammeViews {
    static func summary(_ programme: Programme) throws -> ProgrammeSummaryDTO {
        ProgrammeSummaryDTO(id: try programme.requireID(), name: programme.name, partnerOrganisation: programme.partnerOrganisation,
                            startsOn: programme.startsOn, endsOn: programme.endsOn)
    }

    /// Four queries whatever the programme's size.
    /// `withholdSmallCells`: counts of 1 to 4 people are left out (nil), for those who may not see people.
    static func programme(_ programme: Programme, role: ProgrammeRole?, withholdSmallCells: Bool, on db: any Database) async throws -> ProgrammeDTO {
        let id = try programme.requireID()
        func shown(_ count: Int) -> Int? { SmallCells.shown(count, withheld: withholdSmallCells) }
        let courses = try await Course.query(on: db).filter(\.$programme.$id == id).all().naturallySorted(by: \.code)
        let courseMembers = try await CourseMember.query(on: db).filter(\.$course.$id ~~ courses.map { try $0.requireID() }).all()
        let projects = try await ResearchProject.query(on: db).filter(\.$programme.$id == id).all().naturallySorted(by: \.title)
        let projectMembers = try await ProjectMember.query(on: db).filter(\.$project.$id ~~ projects.map { try $0.requireID() }).all()
        let byCourse = Dictionary(grouping: courseMembers, by: { $0.$course.id })
        let byProject = Dictionary(grouping: projectMembers, by: { $0.$project.id })
        return ProgrammeDTO(
            programme: try summary(programme), description: programme.description, yourRole: role?.rawValue,
            courses: try courses.map { course in
                let members = byCourse[try course.requireID()] ?? []
                return .init(id: try course.requireID(), code: course.code, title: course.title, term: course.term,
                             students: shown(members.filter { $0.role == .student }.count), staff: shown(members.filter { $0.role != .student }.count))
            },
            projects: try projects.map { .init(id: try $0.requireID(), title: $0.title, status: $0.status, members: shown(byProject[try $0.requireID()]?.count ?? 0)) })
    }
}
