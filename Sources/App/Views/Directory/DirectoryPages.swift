// What the templates of the administrators' people and programme lists are given (their view-models; links come from SitePath).
import Fluent
import Foundation
import Vapor

struct AdminUsersPage: Encodable {
    var title = "People"
    var page: PageContext
    var users: Page<UserDTO>
    var search: String
    /// `search` encoded for the page links.
    var searchQuery: String
    var previousPage: Int?
    var nextPage: Int?
}

struct AdminProgrammesPage: Encodable {
    var title = "Programmes"
    var page: PageContext
    struct Row: Encodable { var id: UUID; var name: String; var partnerOrganisation: String; var period: String }
    var programmes: Page<Row>
    var previousPage: Int?
    var nextPage: Int?
}
