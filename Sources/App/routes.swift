// The platform's areas, each registering its pages and JSON API next to its controllers (see API/PlatformArea.swift).
import Vapor

public enum PlatformVersion {
    public static let current = "0.1.0"
}

/// Every area, in the order a newcomer would read them.
var platformAreas: [any PlatformArea.Type] { [
    OperationsArea.self, HomeArea.self, AccountArea.self, SingleSignOnArea.self, LTIArea.self, PeopleArea.self, ProgrammesArea.self, CoursesArea.self,
    CreditsArea.self, GradingArea.self, CodeSimilarityArea.self, AIArea.self, ResearchArea.self, LabsArea.self, InsightArea.self,
] }

func routes(_ app: Application) throws {
    OperationsArea.routes(app)
    // The OpenAI-compatible gateway: its own keys and OpenAI's formats (documented in the README, not in /api/v1's).
    AIArea.gatewayRoutes(app.grouped("v1"))

    // Pages: sessions, the signed-in person, and CSRF checks on every form.
    let sessions = webSessions(app)
    let web = sessions.grouped(ActiveUserSessionAuthenticator(), CSRFMiddleware())
    let toSignIn = User.redirectMiddleware { req in
        SitePath.signIn.url + "?next=" + (req.url.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")
    }
    let signedIn = web.grouped(toSignIn)
    let relayed = sessions.grouped(ActiveUserSessionAuthenticator(), toSignIn)
    let crossSite = sessions.grouped(ActiveUserSessionAuthenticator())
    let pages = PageRoutes(open: web, signedIn: signedIn, relayed: relayed, crossSite: crossSite)

    // JSON API under /api/v1: each route is declared with its OpenAPI description.
    let api = APIRoutes(app.routes, prefix: ["api", "v1"])
    for area in platformAreas {
        area.pages(pages)
        area.api(api)
    }
    app.openAPIDocument = api.document(version: PlatformVersion.current)
    app.documentedBodies = Array(api.bodies.values)
    app.documentedInputs = api.inputs
}

/// Every route of the site's pages starts here: the session cookie sent again only when it has something to say
/// (`SessionCookieRule`), then the sessions.
func webSessions(_ app: Application) -> any RoutesBuilder {
    app.grouped(SessionCookieRule(cookieName: app.sessions.configuration.cookieName), app.sessions.middleware)
}

extension Application {
    private struct OpenAPIKey: StorageKey { typealias Value = OpenAPIDocument }
    var openAPIDocument: OpenAPIDocument {
        get { storage[OpenAPIKey.self]! }
        set { storage[OpenAPIKey.self] = newValue }
    }

    private struct BodiesKey: StorageKey { typealias Value = [DocumentedBody] }
    private struct InputsKey: StorageKey { typealias Value = [DocumentedInput] }
    /// Every route's checked input (for the contract test).
    var documentedInputs: [DocumentedInput] {
        get { storage[InputsKey.self] ?? [] }
        set { storage[InputsKey.self] = newValue }
    }
    /// The bodies the document names, with their samples (for the contract test).
    var documentedBodies: [DocumentedBody] {
        get { storage[BodiesKey.self] ?? [] }
        set { storage[BodiesKey.self] = newValue }
    }
}
