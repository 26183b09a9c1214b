// One feature area of the platform (courses, grading, credits, research, the AI gateway, …) registers its pages and
// its JSON API in one file next to its controllers; `routes.swift` only lists the areas.
import Vapor

protocol PlatformArea {
    /// Web pages. `pages.open` has sessions and CSRF checks; `pages.signedIn` also sends strangers to /signin.
    static func pages(_ pages: PageRoutes)
    /// JSON routes under /api/v1, each declared with its OpenAPI description (`APIRoutes.on`).
    static func api(_ api: APIRoutes)
}

extension PlatformArea {
    static func pages(_ pages: PageRoutes) {}
    static func api(_ api: APIRoutes) {}
}

/// The page groups areas register into.
struct PageRoutes {
    let open: any RoutesBuilder
    let signedIn: any RoutesBuilder
    /// Signed in, without the forms' CSRF field: for what relays another program's own requests (the lab proxy),
    /// which checks that a request that changes anything comes from the platform's own pages (its Origin) itself.
    let relayed: any RoutesBuilder
    /// Sessions without the forms' CSRF field: only for what another site posts by design — an LMS's LTI login and
    /// launch, which carry their own single-use state and nonce.
    let crossSite: any RoutesBuilder
}
