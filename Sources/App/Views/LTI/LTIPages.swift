// The administrators' LTI page.
import Foundation

struct AdminLTIPage: Encodable {
    var title = "LTI (LMS)"
    var page: PageContext
    struct Row: Encodable {
        var registration: LTIRegistrationDTO
        /// Where its form adding a deployment posts.
        var addDeployment: String
    }
    var rows: [Row]
    struct Choice: Encodable { var id: UUID; var name: String }
    var programmes: [Choice]
    var loginURL: String
    var launchURL: String
    var addRegistration = SitePath.adminLTIRegistrations.url

    init(page: PageContext, registrations: [LTIRegistrationDTO], programmes: [Choice], loginURL: String, launchURL: String) {
        self.page = page
        rows = registrations.map { Row(registration: $0, addDeployment: SitePath.adminLTIDeployments(.id($0.id)).url) }
        (self.programmes, self.loginURL, self.launchURL) = (programmes, loginURL, launchURL)
    }
}
