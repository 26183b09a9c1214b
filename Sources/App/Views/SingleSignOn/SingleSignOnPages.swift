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
        /// The claim → role rule's values, and the programmes to choose from (its own selected).
        var roleValues: String
        var programmes: [Choice]
    }
    struct Choice: Encodable { var id: UUID; var name: String; var selected: Bool }
    var rows: [Row]
    var addProvider = SitePath.adminSSOProviders.url

    init(page: PageContext, providers: [IdentityProviderDTO], programmes: [(id: UUID, name: String)]) {
        self.page = page
        rows = providers.map { provider in
            Row(provider: provider, change: SitePath.adminSSOProvider(.id(provider.id)).url, domains: provider.emailDomains.joined(separator: ", "),
                roleValues: provider.roleValues.joined(separator: ", "),
                programmes: programmes.map { Choice(id: $0.id, name: $0.name, selected: $0.id == provider.courseCreatorsProgrammeID) })
        }
    }
}
