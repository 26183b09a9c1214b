// The administrators' single sign-on page.
import Foundation

struct AdminSSOPage: Encodable {
    var title = "Single sign-on"
    var page: PageContext
    var providers: [IdentityProviderDTO]
    var addProvider = SitePath.adminSSOProviders.url
}
