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
    web.get("set-password", use: PasswordController.page)
    web.post("set-password", use: PasswordController.setPassword)
    let signedIn = web.grouped(User.redirectMiddleware { req in "/signin?next=" + (req.url.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/") })
    signedIn.get("dashboard", use: DashboardController.page)
    signedIn.get("profile", use: ProfileController.page)
    signedIn.post("profile", "password", use: PasswordController.change)
    signedIn.post("profile", "keys", use: ProfileController.createKeyFromForm)
    signedIn.post("profile", "keys", ":keyID", "revoke", use: ProfileController.revokeKeyFromForm)
    signedIn.get("programmes", ":programmeID", use: ProgrammeController.page)
    signedIn.get("projects", ":projectID", use: ProgrammeController.projectPage)
    signedIn.get("courses", ":courseID", use: CourseController.page)
    signedIn.post("courses", ":courseID", "roster", use: CourseController.importFromPage)
    signedIn.get("courses", ":courseID", "roster.csv", use: CourseController.exportCSV)

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
    api.schema("Course", .object(["id": .string(format: "uuid"), "code": .string(), "title": .string(), "term": .string(),
                                  "yourRole": .string()], required: ["id", "code", "title", "term"]))
    api.schema("RosterEntry", .object(["email": .string(format: "email"), "name": .string(),
                                       "role": .string(enumValues: CourseRole.allCases.map(\.rawValue))], required: ["email", "name", "role"]))
    api.on(.GET, "courses/:courseID", id: "getCourse", summary: "A course you have a role in (or manage).", tag: "courses",
           response: .ref("Course"), errors: [404: "No such course, or not yours to see."], use: CourseController.show)
    api.on(.GET, "courses/:courseID/roster", id: "getRoster", summary: "Who is in the course (staff only); ?page=&per= (at most 500).",
           tag: "courses",
           response: .object(["items": .array(.ref("RosterEntry")),
                              "metadata": .object(["page": .integer(), "per": .integer(), "total": .integer()], required: ["page", "per", "total"])],
                             required: ["items", "metadata"]),
           errors: [404: "No such course, or its roster is not yours to see."], use: CourseController.roster)
    api.on(.POST, "courses/:courseID/roster", id: "importRoster",
           summary: "Import a roster CSV (body text/csv: email,name,role). All or nothing: any bad row rejects the file.", tag: "courses",
           response: .object(["rows": .integer(), "newPeople": .array(.string()), "added": .integer(), "roleChanged": .integer(),
                              "invitations": .array(.object(["email": .string(), "link": .string()], required: ["email", "link"]))],
                             required: ["rows", "newPeople", "added", "roleChanged", "invitations"]),
           errors: [404: "No such course, or not yours to manage.", 413: "The file is over 1 MB.",
                    422: "The file has problems; error.problems lists each with its line."], use: CourseController.importCSV)
    api.schema("ProgrammeSummary", .object(["id": .string(format: "uuid"), "name": .string(), "partnerOrganisation": .string(),
                                            "startsOn": .string(format: "date-time"), "endsOn": .string(format: "date-time")],
                                           required: ["id", "name", "partnerOrganisation", "startsOn", "endsOn"]))
    api.on(.GET, "programmes", id: "listProgrammes", summary: "Programmes you belong to (all, for admins); ?page=&per=.", tag: "programmes",
           response: .object(["items": .array(.ref("ProgrammeSummary")), "metadata": .object([:], required: [])], required: ["items", "metadata"]),
           errors: [401: "No valid bearer token."], use: ProgrammeController.list)
    api.on(.GET, "programmes/:programmeID", id: "getProgramme",
           summary: "A programme with its courses (counts, no names) and projects.", tag: "programmes",
           response: .object(["programme": .ref("ProgrammeSummary"), "description": .string(), "yourRole": .string(),
                              "courses": .array(.object([:], required: [])), "projects": .array(.object([:], required: []))],
                             required: ["programme", "description", "courses", "projects"]),
           errors: [404: "No such programme, or not yours to see."], use: ProgrammeController.show)
    api.on(.GET, "projects/:projectID", id: "getProject", summary: "A research project and its members.", tag: "projects",
           response: .object(["id": .string(format: "uuid"), "programmeID": .string(format: "uuid"), "title": .string(), "summary": .string(),
                              "status": .string(), "members": .array(.object(["name": .string(), "role": .string()], required: ["name", "role"]))],
                             required: ["id", "programmeID", "title", "summary", "status", "members"]),
           errors: [404: "No such project, or not yours to see."], use: ProgrammeController.showProject)

    app.openAPIDocument = api.document(version: PlatformVersion.current)
}

extension Application {
    private struct OpenAPIKey: StorageKey { typealias Value = OpenAPIDocument }
    var openAPIDocument: OpenAPIDocument {
        get { storage[OpenAPIKey.self]! }
        set { storage[OpenAPIKey.self] = newValue }
    }
}
