// View-model of the landing page: the programmes with their partner and how many courses and projects each runs.
import Fluent

struct LandingPage: Encodable {
    struct ProgrammeSummary: Encodable {
        var name: String
        var partner: String
        var courses: Int
        var projects: Int
    }
    var title = "CampusCloud"
    var page: PageContext
    var programmes: [ProgrammeSummary]

    /// Three queries whatever the number of programmes (no query per row).
    static func load(page: PageContext, on db: any Database) async throws -> LandingPage {
        let programmes = try await Programme.query(on: db).sort(\.$name).all()
        let courses = try await Course.query(on: db).all(\.$programme.$id)
        let projects = try await ResearchProject.query(on: db).all(\.$programme.$id)
        let courseCounts = Dictionary(grouping: courses, by: { $0 }).mapValues(\.count)
        let projectCounts = Dictionary(grouping: projects, by: { $0 }).mapValues(\.count)
        return LandingPage(page: page, programmes: programmes.map { programme in
            let id = programme.id!
            return ProgrammeSummary(name: programme.name, partner: programme.partnerOrganisation,
                                    courses: courseCounts[id] ?? 0, projects: projectCounts[id] ?? 0)
        })
    }
}
