// What the templates of the landing page and the dashboard are given (their view-models; links come from SitePath).
import Foundation
import Vapor

struct DashboardPage: Encodable {
    var title = "Dashboard"
    var page: PageContext
    var name: String
    var courses: [Place]
    var projects: [Place]
    var programmes: [Place]
    var notices: [NoticeRow]
    var credits = SitePath.credits.url

    struct Place: Encodable { var name: String; var role: String; var link: String }
    struct NoticeRow: Encodable { var message: String; var link: String?; var markRead: String }

    init(page: PageContext, name: String, memberships: MembershipsDTO, notices: [NoticeDTO]) {
        (self.page, self.name) = (page, name)
        courses = memberships.courses.map { Place(name: $0.name, role: $0.role, link: SitePath.course(.id($0.id)).url) }
        projects = memberships.projects.map { Place(name: $0.name, role: $0.role, link: SitePath.project(.id($0.id)).url) }
        programmes = memberships.programmes.map { Place(name: $0.name, role: $0.role, link: SitePath.programme(.id($0.id)).url) }
        self.notices = notices.map { NoticeRow(message: $0.message, link: $0.link, markRead: SitePath.readNotice(.id($0.id)).url) }
    }
}
