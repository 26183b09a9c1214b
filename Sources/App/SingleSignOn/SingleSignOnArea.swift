// Single sign-on through the university's OpenID Connect providers: the sign-in's start (a form on /signin) and its
// way back, and the providers (administrators, page and API).
import Vapor

enum SingleSignOnArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.open.post(.ssoStart(.key), use: SingleSignOnController.start)
        pages.open.get(.ssoCallback(.key), use: SingleSignOnController.callback)
        pages.signedIn.get(.adminSSO, use: SingleSignOnController.adminPage)
        pages.signedIn.post(.adminSSOProviders, use: SingleSignOnController.addFromPage)
        pages.signedIn.post(.adminSSOProvider(.key), use: SingleSignOnController.changeFromPage)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "identity-providers", id: "listIdentityProviders",
               summary: "Single sign-on providers (admins): issuer, client id, the NAME of the variable holding the secret, rules, redirect URI.",
               tag: "people", response: .list(IdentityProviderDTO.self), errors: [404: "Not an admin."], use: SingleSignOnController.list)
        api.on(.POST, "identity-providers", id: "addIdentityProvider",
               summary: "Add an OpenID Connect provider (admins); its discovery document is read and checked first.", tag: "people",
               request: .input(IdentityProviderInput.self), response: .one(IdentityProviderDTO.self), status: 201,
               errors: [404: "Not an admin.", 409: "The name, or the issuer and client id, are registered already.",
                        422: "The input, or the provider's discovery document, is not acceptable."],
               use: SingleSignOnController.add)
        api.on(.PATCH, "identity-providers/:providerID", id: "changeIdentityProvider",
               summary: "Switch a provider off or on, or change its domains and rules (admins); the fields given change.", tag: "people",
               request: .input(IdentityProviderChange.self), response: .one(IdentityProviderDTO.self),
               errors: [404: "Not an admin, or no such provider.", 422: "The rules would lock people out or reach beyond the provider's domains."],
               use: SingleSignOnController.change)
    }
}
