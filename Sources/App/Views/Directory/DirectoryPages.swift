// What the templates of the administrators' people and programme lists are given (their view-models; links come from SitePath).
import Fluent
import Foundation
import Vapor

struct AdminUsersPage: Encodable {
    var title = "People"
    var page: PageContext
    struct Row: Encodable { var user: UserDTO; var change: String }
    var users: Page<Row>
    var search: String
    var previousPage: String?
    var nextPage: String?
    /// The search (GET) and the new-person form (POST) both go to the people page.
    var usersLink = SitePath.adminUsers.url

    init(page: PageContext, users: Page<UserDTO>, search: String, previous: Int?, next: Int?) {
        (self.page, self.search) = (page, search)
        self.users = users.map { Row(user: $0, change: SitePath.adminUser(.id($0.id)).url) }
        let query = search.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        previousPage = previous.map { SitePath.adminUsers.url + "?q=\(query)&page=\($0)" }
        nextPage = next.map { SitePath.adminUsers.url + "?q=\(query)&page=\($0)" }
    }
}

struct AdminProgrammesPage: Encodable {
    var title = "Programmes"
    var page: PageContext
    struct Row: Encodable { var link: String; var name: String; var partnerOrganisation: String; var period: String }
    var programmes: Page<Row>
    var previousPage: String?
    var nextPage: String?
    var create = SitePath.adminProgrammes.url

    init(page: PageContext, programmes: Page<Row>, previous: Int?, next: Int?) {
        (self.page, self.programmes) = (page, programmes)
        previousPage = previous.map { SitePath.adminProgrammes.url + "?page=\($0)" }
        nextPage = next.map { SitePath.adminProgrammes.url + "?page=\($0)" }
    }
}
