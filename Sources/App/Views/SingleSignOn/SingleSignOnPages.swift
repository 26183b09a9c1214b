// The administrators' single sign-on page.
import Foundation

struct AdminSSOPage: Encodable {
    var title = "Single sign-on"
    var page: PageContext
    struct Row: Encodable {
        var provider: IdentityProviderDTO
        /// Where its form changing its rules posts.
        var change: String
        var domains: String
    }
    var rows: [Row]
    var addProvider = SitePath.adminSSOProviders.url

    init(page: PageContext, providers: [IdentityProviderDTO]) {
        self.page = page
        rows = providers.map { Row(provider: $0, change: SitePath.adminSSOProvider(.id($0.id)).url, domains: $0.emailDomains.joined(separator: ", ")) }
    }
}
