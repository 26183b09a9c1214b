// What the templates of the landing page and the dashboard are given (their view-models; links come from SitePath).
import Foundation
import Vapor

struct DashboardPage: Encodable {
    var title = "Dashboard"
    var page: PageContext
    var name: String
    var isAdmin: Bool
    var memberships: MembershipsDTO
    var notices: [NoticeDTO]
}
