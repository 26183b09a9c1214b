// Every route of the platform, in one place: pages, operational endpoints, and the JSON API under /api/v1.
import Vapor

public enum PlatformVersion {
    public static let current = "0.1.0"
}

func routes(_ app: Application) throws {
    // Operations: probes and metrics for the people who run the platform.
    app.get("healthz", use: HealthController.check)
    app.get("metrics", use: MetricsController.exposition)

    // Pages: sessions, the signed-in person, and CSRF checks on every form.
    let web = app.grouped(app.sessions.middleware, User.sessionAuthenticator(), CSRFMiddleware())
    web.get(use: PageController.landing)
    web.get("signin", use: AuthController.signInPage)
    web.post("signin", use: AuthController.signIn)
    web.post("signout", use: AuthController.signOut)
    let signedIn = web.grouped(User.redirectMiddleware { req in "/signin?next=" + (req.url.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/") })
    signedIn.get("dashboard", use: DashboardController.page)
    signedIn.get("profile", use: ProfileController.page)
    signedIn.post("profile", "keys", use: ProfileController.createKeyFromForm)
    signedIn.post("profile", "keys", ":keyID", "revoke", use: ProfileController.revokeKeyFromForm)

    // JSON API: each route is declared with its OpenAPI description.
    let api = APIRoutes(app.routes, prefix: ["api", "v1"])
    api.on(.GET, "openapi.json", id: "getOpenAPIDocument", summary: "This document.", tag: "meta",
           response: .object([:], required: []), auth: false) { req in
        req.application.openAPIDocument
    }


    api.schema("Place", .object(["id": .string(format: "uuid"), "name": .string(), "role": .string()], required: ["id", "name", "role"]))
    api.schema("APIKey", .object(["id": .string(format: "uuid"), "name": .string(), "prefix": .string(),
                                  "createdAt": .string(format: "date-time"), "lastUsedAt": .string(format: "date-time")],
                                 required: ["id", "name", "prefix"]))
    api.on(.POST, "auth/token", id: "issueToken", summary: "Exchange an email and password for a bearer token (30 days).", tag: "auth",
           request: .object(["email": .string(format: "email"), "password": .string()], required: ["email", "password"]),
           response: .object(["token": .string(), "expiresAt": .string(format: "date-time")], required: ["token"]),
           errors: [401: "Wrong email or password.", 429: "Too many failed attempts; see Retry-After."], auth: false,
           use: AuthController.issueToken)
    api.on(.GET, "me", id: "getMe", summary: "The signed-in person and every place they have a role.", tag: "people",
           response: .object(["id": .string(format: "uuid"), "email": .string(), "name": .string(), "isAdmin": .boolean,
                              "memberships": .object(["programmes": .array(.ref("Place")), "courses": .array(.ref("Place")),
                                                      "projects": .array(.ref("Place"))], required: ["programmes", "courses", "projects"])],
                             required: ["id", "email", "name", "isAdmin", "memberships"]),
           errors: [401: "No valid bearer token."], use: DashboardController.me)
    api.on(.GET, "me/keys", id: "listMyKeys", summary: "Your personal API keys (prefix only, never the secret).", tag: "people",
           response: .array(.ref("APIKey")), errors: [401: "No valid bearer token."], use: ProfileController.listKeys)
    api.on(.POST, "me/keys", id: "createMyKey", summary: "Create a personal API key; the token is shown once.", tag: "people",
           request: .object(["name": .string()], required: ["name"]),
           response: .object(["token": .string(), "key": .ref("APIKey")], required: ["token", "key"]), status: 201,
           errors: [400: "The name is missing or too long.", 401: "No valid bearer token."], use: ProfileController.createKey)
    api.on(.DELETE, "me/keys/:keyID", id: "revokeMyKey", summary: "Revoke one of your keys; it stops working at once.", tag: "people",
           status: 204, errors: [401: "No valid bearer token.", 404: "No such key of yours."], use: ProfileController.revokeKey)

    app.openAPIDocument = api.document(version: PlatformVersion.current)
}

extension Application {
    private struct OpenAPIKey: StorageKey { typealias Value = OpenAPIDocument }
    var openAPIDocument: OpenAPIDocument {
        get { storage[OpenAPIKey.self]! }
        set { storage[OpenAPIKey.self] = newValue }
    }
}
