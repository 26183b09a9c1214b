// Every route of the platform, in one place: pages, operational endpoints, and the JSON API under /api/v1.
import Grading
import Vapor

public enum PlatformVersion {
    public static let current = "0.1.0"
}

func routes(_ app: Application) throws {
    // Operations: probes and metrics for the people who run the platform.
    app.get("healthz", use: HealthController.check)
    app.get("metrics", use: MetricsController.exposition)

    // Pages: sessions, the signed-in person, and CSRF checks on every form.
    let web = app.grouped(app.sessions.middleware, ActiveUserSessionAuthenticator(), CSRFMiddleware())
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
    signedIn.post("programmes", ":programmeID", use: ProgrammeController.updateFromPage)
    signedIn.post("programmes", ":programmeID", "courses", use: ProgrammeController.createCourseFromPage)
    signedIn.post("programmes", ":programmeID", "projects", use: ProgrammeController.createProjectFromPage)
    signedIn.post("programmes", ":programmeID", "members", use: ProgrammeController.setMemberFromPage)
    signedIn.post("programmes", ":programmeID", "members", ":userID", "remove", use: ProgrammeController.removeMemberFromPage)
    signedIn.get("projects", ":projectID", use: ProjectController.page)
    signedIn.post("projects", ":projectID", use: ProjectController.updateFromPage)
    signedIn.post("projects", ":projectID", "members", use: ProjectController.setMemberFromPage)
    signedIn.post("projects", ":projectID", "members", ":userID", "remove", use: ProjectController.removeMemberFromPage)
    signedIn.get("courses", ":courseID", use: CourseController.page)
    signedIn.post("courses", ":courseID", use: CourseController.updateFromPage)
    signedIn.post("courses", ":courseID", "members", use: CourseController.setMemberFromPage)
    signedIn.post("courses", ":courseID", "members", ":userID", "remove", use: CourseController.removeMemberFromPage)
    signedIn.post("courses", ":courseID", "roster", use: CourseController.importFromPage)
    signedIn.get("courses", ":courseID", "roster.csv", use: CourseController.exportCSV)
    signedIn.get("credits", use: CreditsPageController.mine)
    signedIn.post("notices", ":noticeID", "read", use: CreditsPageController.markRead)
    signedIn.get("programmes", ":programmeID", "credits", use: CreditsPageController.programme)
    signedIn.post("programmes", ":programmeID", "credits", "grants", use: CreditsPageController.grant)
    signedIn.post("programmes", ":programmeID", "credits", "allocations", use: CreditsPageController.allocate)
    signedIn.get("courses", ":courseID", "credits", use: CreditsPageController.course)
    signedIn.post("courses", ":courseID", "credits", "default-allowance", use: CreditsPageController.courseDefault)
    signedIn.post("courses", ":courseID", "credits", "allowances", use: CreditsPageController.courseAllowance)
    signedIn.get("projects", ":projectID", "credits", use: CreditsPageController.project)
    signedIn.post("projects", ":projectID", "credits", "default-allowance", use: CreditsPageController.projectDefault)
    signedIn.post("projects", ":projectID", "credits", "allowances", use: CreditsPageController.projectAllowance)
    let uploads = HTTPBodyStreamStrategy.collect(maxSize: Submissions.maxUploadBody)
    signedIn.post("courses", ":courseID", "assignments", use: AssignmentPageController.create)
    signedIn.get("courses", ":courseID", "gradebook", use: AssignmentPageController.gradebook)
    signedIn.get("courses", ":courseID", "grades", use: AssignmentPageController.myGrades)
    signedIn.get("courses", ":courseID", "ai", use: AIPageController.page)
    signedIn.post("courses", ":courseID", "ai", "keys", use: AIPageController.createKey)
    signedIn.post("courses", ":courseID", "ai", "policy", use: AIPageController.setPolicy)
    signedIn.post("ai", "keys", ":keyID", "revoke", use: AIPageController.revokeKey)
    signedIn.get("assignments", ":assignmentID", use: AssignmentPageController.page)
    signedIn.post("assignments", ":assignmentID", use: AssignmentPageController.update)
    signedIn.on(.POST, "assignments", ":assignmentID", "autograder", body: .collect(maxSize: "51mb"), use: AssignmentPageController.uploadAutograder)
    signedIn.on(.POST, "assignments", ":assignmentID", "submissions", body: uploads, use: AssignmentPageController.submit)
    signedIn.post("assignments", ":assignmentID", "regrade", use: AssignmentPageController.regradeAll)
    signedIn.post("assignments", ":assignmentID", "publish", use: AssignmentPageController.publish)
    signedIn.get("submissions", ":submissionID", use: AssignmentPageController.submission)
    signedIn.get("submissions", ":submissionID", "files.zip", use: AssignmentController.download)
    signedIn.post("submissions", ":submissionID", "regrade", use: AssignmentPageController.regrade)
    signedIn.post("submissions", ":submissionID", "adjustments", use: AssignmentPageController.adjust)
    signedIn.get("admin", "users", use: AdminController.usersPage)
    signedIn.post("admin", "users", use: AdminController.createUserFromPage)
    signedIn.post("admin", "users", ":userID", use: AdminController.changeUserFromPage)
    signedIn.get("admin", "programmes", use: AdminController.programmesPage)
    signedIn.post("projects", ":projectID", "status", use: ProjectController.changeStatusFromPage)
    signedIn.post("projects", ":projectID", "job-network", use: ProjectController.setJobNetworkFromPage)
    signedIn.post("projects", ":projectID", "allocation-requests", use: ProjectController.requestFromPage)
    signedIn.post("allocation-requests", ":requestID", "decision", use: ProjectController.decideFromPage)
    signedIn.on(.POST, "projects", ":projectID", "jobs", body: .collect(maxSize: ResearchJobs.maxUploadBody), use: ResearchJobController.submitFromPage)
    signedIn.get("jobs", ":jobID", use: ResearchJobController.page)
    signedIn.post("jobs", ":jobID", "cancel", use: ResearchJobController.cancelFromPage)
    signedIn.get("jobs", ":jobID", "outputs.zip", use: ResearchJobController.outputs)
    signedIn.post("projects", ":projectID", "outputs", use: ResearchJobController.recordOutputFromPage)
    signedIn.post("projects", ":projectID", "outputs", ":outputID", "remove", use: ResearchJobController.removeOutputFromPage)
    signedIn.get("programmes", ":programmeID", "report", use: ReportController.page)
    signedIn.get("programmes", ":programmeID", "report.csv", use: ReportController.csv)
    signedIn.get("admin", "ai", use: AIAdminPageController.page)
    signedIn.post("admin", "ai", "providers", use: AIAdminPageController.addProvider)
    signedIn.post("admin", "ai", "models", use: AIAdminPageController.addModel)
    signedIn.post("admin", "programmes", use: AdminController.createProgrammeFromPage)

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
           request: .string(), requestType: "text/csv",
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
    api.schema("Project", .object(["id": .string(format: "uuid"), "programmeID": .string(format: "uuid"), "title": .string(), "summary": .string(),
                                   "status": .string(enumValues: ProjectStatus.allCases.map(\.rawValue)),
                                   "startsOn": .string(format: "date-time"), "endsOn": .string(format: "date-time"), "tags": .array(.string()),
                                   "jobNetwork": .boolean,
                                   "members": .array(.object(["userID": .string(format: "uuid"), "name": .string(), "role": .string()],
                                                             required: ["userID", "name", "role"]))],
                                  required: ["id", "programmeID", "title", "summary", "status", "members"]))
    api.on(.GET, "projects/:projectID", id: "getProject", summary: "A research project and its members.", tag: "projects",
           response: .ref("Project"), errors: [404: "No such project, or not yours to see."], use: ProjectController.show)
    directoryRoutes(api)
    creditsRoutes(api)
    gradingRoutes(api)
    aiRoutes(api)
    researchRoutes(api)

    // The OpenAI-compatible gateway: its own keys and OpenAI's formats (documented in the README, not in /api/v1's).
    let gateway = app.grouped("v1")
    gateway.on(.POST, "chat", "completions", body: .collect(maxSize: "4mb"), use: AIGatewayController.chatCompletions)
    gateway.on(.POST, "embeddings", body: .collect(maxSize: "4mb"), use: AIGatewayController.embeddings)
    gateway.get("models", use: AIGatewayController.models)

    app.openAPIDocument = api.document(version: PlatformVersion.current)
}

/// Creating and changing people, programmes, courses, projects and single memberships.
private func directoryRoutes(_ api: APIRoutes) {
    let date = JSONSchema.string(format: "date")
    let invalid = "The input has problems; error.problems lists each one. Nothing was changed."
    let member = JSONSchema.object(["email": .string(format: "email"), "role": .string(), "name": .string()], required: ["email", "role"])
    api.schema("User", .object(["id": .string(format: "uuid"), "email": .string(), "name": .string(), "isAdmin": .boolean, "isActive": .boolean,
                                "hasPassword": .boolean], required: ["id", "email", "name", "isAdmin", "isActive", "hasPassword"]))
    api.schema("Member", .object(["userID": .string(format: "uuid"), "email": .string(), "name": .string(), "role": .string()],
                                 required: ["userID", "email", "name", "role"]))
    let pageOf = { (item: JSONSchema) in
        JSONSchema.object(["items": .array(item), "metadata": .object(["page": .integer(), "per": .integer(), "total": .integer()],
                                                                      required: ["page", "per", "total"])], required: ["items", "metadata"])
    }

    api.on(.GET, "courses", id: "listMyCourses", summary: "The courses you have a role in, by code, with your role in each; ?page=&per=.",
           tag: "courses", response: pageOf(.ref("Course")), errors: [401: "No valid bearer token."], use: CourseController.mine)
    api.on(.GET, "users", id: "listUsers", summary: "Everyone with an account (administrators); ?q= searches email and name; ?page=&per=.",
           tag: "people", response: pageOf(.ref("User")), errors: [404: "Only administrators list people."], use: AdminController.listUsers)
    api.on(.POST, "users", id: "createUser", summary: "Create a person (administrators); the answer has their invitation link.", tag: "people",
           request: .object(["email": .string(format: "email"), "name": .string(), "isAdmin": .boolean], required: ["email", "name"]),
           response: .object(["user": .ref("User"), "invitation": .string()], required: ["user", "invitation"]), status: 201,
           errors: [404: "Only administrators create people.", 422: invalid], use: AdminController.createUser)
    api.on(.PATCH, "users/:userID", id: "changeUser", summary: "Rename, (de)activate, grant or remove administrator (administrators).",
           tag: "people", request: .object(["name": .string(), "isActive": .boolean, "isAdmin": .boolean], required: []),
           response: .ref("User"), errors: [404: "No such person, or not an administrator.", 422: invalid], use: AdminController.changeUser)

    let programme = JSONSchema.object(["name": .string(), "partnerOrganisation": .string(), "startsOn": date, "endsOn": date,
                                       "description": .string()], required: [])
    api.on(.POST, "programmes", id: "createProgramme", summary: "Create a programme (administrators). Dates are YYYY-MM-DD.", tag: "programmes",
           request: programme, response: .ref("ProgrammeSummary"), status: 201,
           errors: [404: "Only administrators create programmes.", 422: invalid], use: ProgrammeController.create)
    api.on(.PATCH, "programmes/:programmeID", id: "changeProgramme", summary: "Change the fields given (managers, administrators).",
           tag: "programmes", request: programme, response: .ref("ProgrammeSummary"),
           errors: [404: "No such programme, or not yours to manage.", 422: invalid], use: ProgrammeController.update)
    api.on(.GET, "programmes/:programmeID/members", id: "listProgrammeMembers", summary: "Managers and partner contacts; ?page=&per=.",
           tag: "programmes", response: pageOf(.ref("Member")), errors: [404: "No such programme, or not yours to see."],
           use: ProgrammeController.members)
    api.on(.PUT, "programmes/:programmeID/members", id: "setProgrammeMember",
           summary: "Add an existing person as manager or partner_contact, or change their role.", tag: "programmes",
           request: member, response: .ref("Member"), errors: [404: "No such programme, or not yours to manage.", 422: invalid],
           use: ProgrammeController.setMember)
    api.on(.DELETE, "programmes/:programmeID/members/:userID", id: "removeProgrammeMember", summary: "Remove a person from the programme.",
           tag: "programmes", status: 204, errors: [404: "No such programme or person, or not yours to manage."], use: ProgrammeController.removeMember)
    api.on(.POST, "programmes/:programmeID/courses", id: "createCourse", summary: "Create a course in the programme. Dates are YYYY-MM-DD.",
           tag: "courses", request: .object(["code": .string(), "title": .string(), "term": .string(), "startsOn": date, "endsOn": date],
                                            required: ["code", "title", "term", "startsOn", "endsOn"]),
           response: .ref("Course"), status: 201, errors: [404: "No such programme, or not yours to manage.", 422: invalid],
           use: ProgrammeController.createCourse)
    api.on(.POST, "programmes/:programmeID/projects", id: "createProject", summary: "Create a research project in the programme.",
           tag: "projects", request: .object(["title": .string(), "summary": .string(), "status": .string(enumValues: ProjectStatus.allCases.map(\.rawValue))],
                                             required: ["title"]),
           response: .ref("Project"), status: 201, errors: [404: "No such programme, or not yours to manage.", 422: invalid],
           use: ProgrammeController.createProject)

    api.on(.PATCH, "courses/:courseID", id: "changeCourse", summary: "Change the fields given (instructors, managers, administrators).",
           tag: "courses", request: .object(["code": .string(), "title": .string(), "term": .string(), "startsOn": date, "endsOn": date], required: []),
           response: .ref("Course"), errors: [404: "No such course, or not yours to manage.", 422: invalid], use: CourseController.update)
    api.on(.PUT, "courses/:courseID/members", id: "setCourseMember",
           summary: "Add one person with a role (instructor, ta, student) or change it; a new email with a name creates them with an invitation.",
           tag: "courses", request: member,
           response: .object(["member": .ref("Member"), "invitation": .string()], required: ["member"]),
           errors: [404: "No such course, or not yours to manage.", 422: invalid], use: CourseController.setMember)
    api.on(.DELETE, "courses/:courseID/members/:userID", id: "removeCourseMember", summary: "Remove a person from the course.",
           tag: "courses", status: 204, errors: [404: "No such course or person, or not yours to manage."], use: CourseController.removeMember)

    api.on(.PATCH, "projects/:projectID", id: "changeProject", summary: "Change the fields given (PI, managers, administrators).",
           tag: "projects", request: .object(["title": .string(), "summary": .string(), "status": .string(enumValues: ProjectStatus.allCases.map(\.rawValue))],
                                             required: []),
           response: .ref("Project"), errors: [404: "No such project, or not yours to manage.", 422: invalid], use: ProjectController.update)
    api.on(.PUT, "projects/:projectID/members", id: "setProjectMember", summary: "Add an existing person as pi, member or mentor, or change it.",
           tag: "projects", request: member, response: .object(["userID": .string(format: "uuid"), "name": .string(), "role": .string()],
                                                                required: ["userID", "name", "role"]),
           errors: [404: "No such project, or not yours to manage.", 422: invalid], use: ProjectController.setMember)
    api.on(.DELETE, "projects/:projectID/members/:userID", id: "removeProjectMember", summary: "Remove a person from the project.",
           tag: "projects", status: 204, errors: [404: "No such project or person, or not yours to manage."], use: ProjectController.removeMember)
}

extension Application {
    private struct OpenAPIKey: StorageKey { typealias Value = OpenAPIDocument }
    var openAPIDocument: OpenAPIDocument {
        get { storage[OpenAPIKey.self]! }
        set { storage[OpenAPIKey.self] = newValue }
    }
}

/// The credits ledger: grants, allocations, allowances, holds, statements and prices.
private func creditsRoutes(_ api: APIRoutes) {
    let credits = JSONSchema.string(format: "decimal")
    let invalid = "The input has problems; error.problems lists each one. Nothing was changed."
    let refused = "The ledger refused (not enough credits at the level named, expired, or already closed); nothing moved."
    api.schema("Balance", .object(["free": credits, "held": credits, "spent": credits, "total": credits, "usedPercent": .integer()],
                                  required: ["free", "held", "spent", "total", "usedPercent"]))
    api.schema("Allocation", .object(["accountID": .string(format: "uuid"), "kind": .string(enumValues: ["course", "project"]),
                                      "placeID": .string(format: "uuid"), "name": .string(), "balance": .ref("Balance"),
                                      "defaultAllowance": credits, "expiresAt": .string(format: "date-time")],
                                     required: ["accountID", "kind", "placeID", "name", "balance"]))
    api.schema("ProgrammeCredits", .object(["programmeID": .string(format: "uuid"), "granted": credits, "pool": .ref("Balance"),
                                            "allocations": .array(.ref("Allocation"))], required: ["programmeID", "granted", "pool", "allocations"]))
    api.schema("MemberCredits", .object(["userID": .string(format: "uuid"), "name": .string(), "role": .string(),
                                         "accountID": .string(format: "uuid"), "balance": .ref("Balance")], required: ["userID", "name", "role"]))
    api.schema("PlaceCredits", .object(["allocation": .ref("Allocation"), "members": .array(.ref("MemberCredits"))], required: ["allocation", "members"]))
    api.schema("Hold", .object(["id": .string(format: "uuid"), "accountID": .string(format: "uuid"), "amount": credits,
                                "status": .string(enumValues: ["open", "settled", "voided"]), "settled": credits, "reason": .string(),
                                "expiresAt": .string(format: "date-time")], required: ["id", "accountID", "amount", "status", "reason", "expiresAt"]))
    let amount = JSONSchema.object(["amount": credits], required: ["amount"])
    let move = JSONSchema.object(["courseID": .string(format: "uuid"), "projectID": .string(format: "uuid"), "amount": credits,
                                  "expiresOn": .string(format: "date"), "memo": .string(), "idempotencyKey": .string()], required: ["amount"])

    api.on(.GET, "programmes/:programmeID/credits", id: "getProgrammeCredits",
           summary: "The pool and every allocation with free, held and spent credits (members' use rolled up; no names).", tag: "credits",
           response: .ref("ProgrammeCredits"), errors: [404: "No such programme, or not yours to see."], use: CreditsController.programme)
    api.on(.POST, "programmes/:programmeID/credits/grants", id: "grantCredits",
           summary: "Record the partner's grant into the programme pool (managers). Amounts are credits: 12 or \"12.5\".", tag: "credits",
           request: .object(["amount": credits, "memo": .string(), "idempotencyKey": .string()], required: ["amount"]),
           response: .ref("ProgrammeCredits"), status: 201, errors: [404: "No such programme, or not yours to manage.", 422: invalid],
           use: CreditsController.grant)
    api.on(.POST, "programmes/:programmeID/credits/allocations", id: "allocateCredits",
           summary: "Move credits from the pool to a course's or project's allocation, optionally until a date (managers).", tag: "credits",
           request: move, response: .ref("ProgrammeCredits"), status: 201,
           errors: [404: "No such programme, or not yours to manage.", 409: refused, 422: invalid], use: CreditsController.allocate)
    api.on(.POST, "programmes/:programmeID/credits/returns", id: "returnCredits",
           summary: "Move credits from a course's or project's allocation back to the pool (managers).", tag: "credits",
           request: move, response: .ref("ProgrammeCredits"), status: 201,
           errors: [404: "No such programme, or not yours to manage.", 409: refused, 422: invalid], use: CreditsController.giveBack)
    for (kind, parameter, handler, setDefault, setOne) in [
        ("course", "courseID", CreditsController.course, CreditsController.setCourseDefault, CreditsController.setCourseAllowance),
        ("project", "projectID", CreditsController.project, CreditsController.setProjectDefault, CreditsController.setProjectAllowance),
    ] {
        let capital = kind.prefix(1).uppercased() + kind.dropFirst()
        api.on(.GET, "\(kind)s/:\(parameter)/credits", id: "get\(capital)Credits",
               summary: "The \(kind)'s allocation and each member's allowance and use (staff).", tag: "credits",
               response: .ref("PlaceCredits"), errors: [404: "No such \(kind), or not yours to see."], use: handler)
        api.on(.PUT, "\(kind)s/:\(parameter)/credits/default-allowance", id: "set\(capital)DefaultAllowance",
               summary: "What each member's allowance starts with; allowances below it are raised to it at once.", tag: "credits",
               request: amount, response: .ref("PlaceCredits"),
               errors: [404: "No such \(kind), or not yours to manage.", 409: refused, 422: invalid], use: setDefault)
        api.on(.PUT, "\(kind)s/:\(parameter)/credits/allowances/:userID", id: "set\(capital)Allowance",
               summary: "Set one member's allowance (in all: free + held + spent).", tag: "credits",
               request: amount, response: .ref("MemberCredits"),
               errors: [404: "No such \(kind) or member, or not yours to manage.", 409: refused, 422: invalid], use: setOne)
    }
    api.schema("Notice", .object(["id": .string(format: "uuid"), "kind": .string(), "message": .string(), "link": .string(),
                                  "createdAt": .string(format: "date-time"), "read": .boolean], required: ["id", "kind", "message", "createdAt", "read"]))
    api.on(.GET, "me/notices", id: "listMyNotices", summary: "Your notices (e.g. an allowance 80% used), newest first; ?page=&per=.",
           tag: "people", response: .object(["items": .array(.ref("Notice")), "metadata": .object([:], required: [])], required: ["items", "metadata"]),
           use: DashboardController.notices)
    api.on(.POST, "me/notices/:noticeID/read", id: "markNoticeRead", summary: "Mark one of your notices read.", tag: "people",
           response: .ref("Notice"), errors: [404: "No such notice of yours."], use: DashboardController.markRead)
    api.on(.GET, "me/credits", id: "getMyCredits", summary: "Your allowances in every course and project, with what is left.", tag: "credits",
           response: .array(.object(["accountID": .string(format: "uuid"), "kind": .string(), "placeID": .string(format: "uuid"),
                                     "name": .string(), "balance": .ref("Balance")], required: ["accountID", "kind", "placeID", "name", "balance"])),
           use: CreditsController.mine)
    api.on(.POST, "credits/holds", id: "reserveCredits",
           summary: "Hold credits before a use: from your allowance in the course or project, or (staff) from its allocation. The same idempotencyKey holds once.",
           tag: "credits",
           request: .object(["courseID": .string(format: "uuid"), "projectID": .string(format: "uuid"), "amount": credits, "reason": .string(),
                             "idempotencyKey": .string(), "fromAllocation": .boolean, "lifetimeSeconds": .integer()],
                            required: ["amount", "reason", "idempotencyKey"]),
           response: .ref("Hold"), status: 201,
           errors: [404: "No such course or project, or not one you may spend in.", 409: refused, 422: invalid], use: CreditsController.reserve)
    api.on(.POST, "credits/holds/:holdID/settle", id: "settleHold",
           summary: "Spend the actual amount (at most the hold), or the usage per meter priced at the list in force when the hold was made; the rest is freed.",
           tag: "credits", request: .object(["amount": credits, "usage": .object([:], required: [])], required: []), response: .ref("Hold"),
           errors: [404: "No such hold of yours.", 409: refused, 422: invalid], use: CreditsController.settle)
    api.on(.POST, "credits/holds/:holdID/void", id: "voidHold", summary: "Free the whole hold.", tag: "credits", response: .ref("Hold"),
           errors: [404: "No such hold of yours.", 409: refused], use: CreditsController.void)
    api.on(.GET, "credits/accounts/:accountID/entries", id: "getStatement",
           summary: "One account's entries, newest first; ?page=&per=.", tag: "credits",
           response: .object(["items": .array(.object(["id": .string(format: "uuid"), "kind": .string(), "change": credits, "memo": .string(),
                                                      "holdID": .string(format: "uuid"), "at": .string(format: "date-time")],
                                                     required: ["id", "kind", "change", "memo", "at"])),
                              "metadata": .object([:], required: [])], required: ["items", "metadata"]),
           errors: [404: "No such account, or not yours to see."], use: CreditsController.entries)
    api.on(.GET, "credits/accounts/:accountID/statement.csv", id: "getStatementCSV",
           summary: "One account's entries as CSV (time,kind,from,to,credits,hold,memo), oldest first.", tag: "credits",
           errors: [404: "No such account, or not yours to see."], use: CreditsController.accountStatement)
    api.on(.GET, "programmes/:programmeID/credits/statement.csv", id: "getProgrammeStatementCSV",
           summary: "Every entry of the programme as CSV (managers).", tag: "credits",
           errors: [404: "No such programme, or not yours to manage."], use: CreditsController.programmeStatement)
    api.on(.GET, "credits/prices", id: "listPrices", summary: "The price list: every version of every meter's price.", tag: "credits",
           response: .array(.object(["meter": .string(), "price": credits, "per": .string(), "effectiveFrom": .string(format: "date-time")],
                                    required: ["meter", "price", "per", "effectiveFrom"])), use: CreditsController.prices)
    api.on(.POST, "credits/prices", id: "setPrice", summary: "Add a price version taking effect at a time (administrators).", tag: "credits",
           request: .object(["meter": .string(), "price": credits, "effectiveFrom": .string(format: "date")], required: ["meter", "price", "effectiveFrom"]),
           response: .object([:], required: []), status: 201, errors: [404: "Only administrators set prices.", 422: invalid],
           use: CreditsController.setPrice)
}

/// Assignments, submissions, regrades, adjustments and the gradebook.
private func gradingRoutes(_ api: APIRoutes) {
    let invalid = "The input has problems; error.problems lists each one. Nothing was changed."
    let uploads = HTTPBodyStreamStrategy.collect(maxSize: Submissions.maxUploadBody)
    api.schema("Assignment", .object([
        "id": .string(format: "uuid"), "courseID": .string(format: "uuid"), "title": .string(), "instructions": .string(),
        "kind": .string(enumValues: AutograderKind.allCases.map(\.rawValue)), "releaseAt": .string(format: "date-time"),
        "dueAt": .string(format: "date-time"), "latePolicy": .string(), "maxSubmissions": .integer(), "requiredFiles": .array(.string()),
        "timeLimitSeconds": .integer(), "memoryMB": .integer(), "setupDiskMB": .integer(), "counted": .string(enumValues: CountedAttempt.allCases.map(\.rawValue)),
        "pointsPossible": .number, "gradesPublished": .boolean, "autograderVersion": .integer(),
        "setupStatus": .string(enumValues: ["not_needed", "pending", "ready", "failed"]), "setupLog": .string(), "classroomTests": .string(),
    ], required: ["id", "courseID", "title", "kind", "latePolicy", "setupStatus"]))
    let assignmentInput = JSONSchema.object([
        "title": .string(), "instructions": .string(), "kind": .string(enumValues: AutograderKind.allCases.map(\.rawValue)),
        "releaseAt": .string(format: "date-time"), "dueAt": .string(format: "date-time"), "latePolicy": .string(),
        "maxSubmissions": .integer(), "requiredFiles": .string(), "timeLimitSeconds": .integer(), "memoryMB": .integer(), "setupDiskMB": .integer(),
        "counted": .string(enumValues: CountedAttempt.allCases.map(\.rawValue)), "pointsPossible": .number, "classroomTests": .string(),
    ], required: [])
    api.schema("Submission", .object([
        "id": .string(format: "uuid"), "assignmentID": .string(format: "uuid"), "userID": .string(format: "uuid"), "attempt": .integer(),
        "isTestRun": .boolean, "status": .string(enumValues: ["queued", "running", "graded", "failed"]), "submittedAt": .string(format: "date-time"),
        "gradedAt": .string(format: "date-time"), "lateDays": .integer(), "autograderScore": .number, "maxScore": .number, "finalScore": .number,
        "adjustments": .array(.object(["points": .number, "comment": .string(), "author": .string(), "at": .string(format: "date-time")],
                                      required: ["points", "comment", "author", "at"])),
        "tests": .array(.object(["name": .string(), "score": .number, "maxScore": .number, "status": .string(), "output": .string()], required: ["name", "output"])),
        "hiddenTests": .integer(), "output": .string(), "problem": .string(), "log": .string(), "charged": .string(format: "decimal"),
        "files": .array(.object(["path": .string(), "size": .integer()], required: ["path", "size"])),
    ], required: ["id", "assignmentID", "userID", "attempt", "status", "submittedAt", "tests", "hiddenTests", "adjustments", "files"]))
    let progress = JSONSchema.object(["total": .integer(), "waiting": .integer(), "done": .integer(), "startedAt": .string(format: "date-time")],
                                     required: ["total", "waiting", "done"])
    let gradebook = JSONSchema.object([
        "columns": .array(.object(["assignmentID": .string(format: "uuid"), "title": .string(), "pointsPossible": .number,
                                   "dueAt": .string(format: "date-time"), "counted": .string()], required: ["assignmentID", "title", "counted"])),
        "rows": .array(.object(["userID": .string(format: "uuid"), "name": .string(), "email": .string(), "scores": .array(.nullableNumber),
                                "submissions": .array(.integer())], required: ["userID", "name", "email", "scores", "submissions"])),
    ], required: ["columns", "rows"])

    api.on(.GET, "courses/:courseID/assignments", id: "listAssignments", summary: "The course's assignments (students: released ones).",
           tag: "grading", response: .array(.ref("Assignment")), errors: [404: "No such course, or not yours to see."], use: AssignmentController.list)
    api.on(.POST, "courses/:courseID/assignments", id: "createAssignment",
           summary: "Create an assignment (instructors). kind gradescope takes its zip at PUT …/autograder; kind classroom needs classroomTests (autograding.json's text). Times are ISO 8601 or YYYY-MM-DDTHH:MM (UTC); latePolicy is none, hard or penalty:N.",
           tag: "grading", request: assignmentInput, response: .ref("Assignment"), status: 201,
           errors: [404: "No such course, or not yours to manage.", 422: invalid], use: AssignmentController.create)
    api.on(.GET, "assignments/:assignmentID", id: "getAssignment", summary: "One assignment (the set-up log and tests for staff only).", tag: "grading",
           response: .ref("Assignment"), errors: [404: "No such assignment, or not yours to see."], use: AssignmentController.show)
    api.on(.PATCH, "assignments/:assignmentID", id: "changeAssignment", summary: "Change the fields given (instructors).", tag: "grading",
           request: assignmentInput, response: .ref("Assignment"), errors: [404: "No such assignment, or not yours to manage.", 422: invalid],
           use: AssignmentController.update)
    api.on(.PUT, "assignments/:assignmentID/autograder", id: "uploadAutograder",
           summary: "Upload a Gradescope autograder zip (body application/zip, at most 50 MB; setup.sh and run_autograder at its root). Its setup.sh then runs once, with network; setupStatus and setupLog say how it went.",
           tag: "grading", request: .string(format: "binary"), requestType: "application/zip", response: .ref("Assignment"),
           errors: [404: "No such assignment, or not yours to manage.", 413: "The zip is over 50 MB.", 422: "The zip was refused; the message says why."],
           body: .collect(maxSize: "51mb"), use: AssignmentController.uploadAutograder)
    api.on(.POST, "assignments/:assignmentID/publish", id: "publishGrades",
           summary: "Publish (or withdraw) grades: results marked after_published become visible to students.", tag: "grading",
           request: .object(["published": .boolean], required: ["published"]), response: .ref("Assignment"),
           errors: [404: "No such assignment, or not yours to manage."], use: AssignmentController.publish)
    api.on(.POST, "assignments/:assignmentID/submissions", id: "submit",
           summary: "Hand in (multipart/form-data): files in a field named files (one or more, or one .zip; 10 MB). Credits for the run are reserved first. Course staff hand in test runs, charged to the course.",
           tag: "grading", request: .object(["files": .array(.string(format: "binary"))], required: ["files"]), requestType: "multipart/form-data",
           response: .ref("Submission"), status: 201,
           errors: [404: "No such assignment, or not yours.", 409: "Refused: deadline, maximum reached, autograder not ready, or not enough credits (the message says who can raise them).",
                    413: "Over 12 MB.", 415: "Not multipart/form-data.", 422: "The files were refused (missing required files, a bad zip); the message says why."],
           body: uploads, use: AssignmentController.submit)
    api.on(.GET, "assignments/:assignmentID/submissions", id: "listSubmissions",
           summary: "Submissions, newest first: your own, or (staff) everyone's; ?page=&per=.", tag: "grading",
           response: .object(["items": .array(.ref("Submission")), "metadata": .object([:], required: [])], required: ["items", "metadata"]),
           errors: [404: "No such assignment, or not yours to see."], use: AssignmentController.submissions)
    api.on(.POST, "assignments/:assignmentID/regrade", id: "regradeAssignment",
           summary: "Regrade every finished submission with the current autograder (staff; charged to the course).", tag: "grading",
           response: progress, errors: [404: "No such assignment, or not yours to grade.", 409: "The autograder is not ready, or the course's credits ran out."],
           use: AssignmentController.regradeAll)
    api.on(.GET, "assignments/:assignmentID/regrade", id: "getRegradeProgress", summary: "How many submissions are still waiting to be graded.",
           tag: "grading", response: progress, errors: [404: "No such assignment, or not yours to grade."], use: AssignmentController.regradeProgress)
    api.on(.GET, "submissions/:submissionID", id: "getSubmission",
           summary: "One submission as you may see it (Gradescope's visibility rules; staff see everything and the run's log).", tag: "grading",
           response: .ref("Submission"), errors: [404: "No such submission, or not yours to see."], use: AssignmentController.submission)
    api.on(.GET, "submissions/:submissionID/files.zip", id: "downloadSubmission",
           summary: "The handed-in files as one zip (application/zip): for their owner and the course staff.", tag: "grading",
           errors: [404: "No such submission, or not yours to see."], use: AssignmentController.download)
    api.on(.POST, "submissions/:submissionID/regrade", id: "regradeSubmission", summary: "Grade this submission again (staff).", tag: "grading",
           response: .ref("Submission"), errors: [404: "No such submission, or not yours to grade.", 409: "It is already waiting, or there are no credits."],
           use: AssignmentController.regrade)
    api.on(.POST, "submissions/:submissionID/adjustments", id: "adjustScore",
           summary: "Add points (or take them away) with a comment (staff). Adjustments are kept apart from the autograder's score and never edited.",
           tag: "grading", request: .object(["points": .number, "comment": .string()], required: ["points", "comment"]),
           response: .ref("Submission"), status: 201, errors: [404: "No such submission, or not yours to grade.", 422: invalid], use: AssignmentController.adjust)
    api.on(.GET, "courses/:courseID/gradebook", id: "getGradebook",
           summary: "Students × assignments: the counted attempt (latest or best) after adjustments and late penalties (staff).", tag: "grading",
           response: gradebook, errors: [404: "No such course, or not yours to grade."], use: AssignmentController.gradebook)
    api.on(.GET, "courses/:courseID/gradebook/:userID", id: "getStudentGrades", summary: "One student's grades (staff).", tag: "grading",
           response: gradebook, errors: [404: "No such course, or not yours to grade."], use: AssignmentController.studentGrades)
    api.on(.GET, "courses/:courseID/grades", id: "getMyGrades",
           summary: "Your own grades in the course, as you may see them (scores hidden by the autograder's visibility stay hidden).",
           tag: "grading", response: .array(.object(["assignmentID": .string(), "title": .string(), "attempts": .integer(), "hiddenAttempts": .integer(),
                                                      "waiting": .integer(), "counted": .string()],
                                                     required: ["assignmentID", "title", "attempts", "hiddenAttempts", "waiting", "counted"])),
           errors: [404: "No such course, or not yours."], use: AssignmentController.myGrades)
    api.on(.GET, "courses/:courseID/gradebook.csv", id: "getGradebookCSV",
           summary: "The gradebook as the CSV Canvas imports (Student, ID, SIS User ID, SIS Login ID = email, Section, one column per assignment).",
           tag: "grading", errors: [404: "No such course, or not yours to grade."], use: AssignmentController.gradebookCSV)
}

/// The AI gateway's management: providers and models (admins), keys (each member), policy (instructors), usage.
private func aiRoutes(_ api: APIRoutes) {
    let invalid = "The input has problems; error.problems lists each one. Nothing was changed."
    let provider = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "baseURL": .string(), "secretEnv": .string(),
                                      "secretPresent": .boolean], required: ["id", "name", "baseURL", "secretPresent"])
    let model = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "kind": .string(enumValues: ["chat", "embedding"]),
                                   "provider": .string(), "fallbackProvider": .string(), "upstreamName": .string(),
                                   "inputPrice": .string(), "outputPrice": .string()], required: ["id", "name", "kind", "provider", "upstreamName"])
    let key = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "courseID": .string(format: "uuid"),
                                 "projectID": .string(format: "uuid"), "prefix": .string(),
                                 "createdAt": .string(format: "date-time"), "lastUsedAt": .string(format: "date-time"),
                                 "token": .string()], required: ["id", "name", "prefix"])
    let policy = JSONSchema.object(["allowedModels": .array(.string()), "maxTokensPerRequest": .integer(), "requestsPerMinute": .integer(),
                                    "maxChoices": .integer(), "systemPrompt": .string(), "logPrompts": .boolean, "promptRetentionDays": .integer(),
                                    "blackouts": .array(.object(["start": .string(format: "date-time"), "end": .string(format: "date-time"),
                                                                 "message": .string()], required: ["start", "end", "message"]))],
                                   required: [])
    let line = JSONSchema.object(["key": .string(), "requests": .integer(), "promptTokens": .integer(), "completionTokens": .integer(),
                                  "credits": .string()], required: ["key", "requests", "promptTokens", "completionTokens", "credits"])
    api.on(.GET, "ai/providers", id: "listAIProviders", summary: "AI providers (admins): base URL and the NAME of the variable holding the secret, never the secret.",
           tag: "ai", response: .array(provider), errors: [404: "Not an admin."], use: AIGatewayController.providers)
    api.on(.POST, "ai/providers", id: "addAIProvider", summary: "Register an OpenAI-compatible provider (admins).", tag: "ai",
           request: .object(["name": .string(), "baseURL": .string(), "secretEnv": .string()], required: ["name", "baseURL"]),
           response: provider, status: 201, errors: [404: "Not an admin.", 422: invalid], use: AIGatewayController.addProvider)
    api.on(.GET, "ai/models", id: "listAIModels", summary: "The models the gateway offers, their providers and prices (credits per million tokens).",
           tag: "ai", response: .array(model), use: AIGatewayController.catalogue)
    api.on(.POST, "ai/models", id: "addAIModel", summary: "Offer a model through a provider (and a fallback), with its prices (admins).", tag: "ai",
           request: .object(["name": .string(), "kind": .string(enumValues: ["chat", "embedding"]), "provider": .string(), "fallbackProvider": .string(),
                             "upstreamName": .string(), "inputPrice": .string(), "outputPrice": .string()], required: ["name", "provider", "inputPrice"]),
           response: model, status: 201, errors: [404: "Not an admin.", 422: invalid], use: AIGatewayController.addModel)
    api.on(.GET, "courses/:courseID/ai/keys", id: "listAIKeys", summary: "Your live AI gateway keys for the course.", tag: "ai",
           response: .array(key), errors: [404: "No such course, or not yours."], use: AIGatewayController.keys)
    api.on(.POST, "courses/:courseID/ai/keys", id: "createAIKey", summary: "A new AI gateway key for the course; the token is in this answer only.", tag: "ai",
           request: .object(["name": .string()], required: ["name"]), response: key, status: 201,
           errors: [404: "No such course, or not yours.", 422: invalid], use: AIGatewayController.createKey)
    api.on(.GET, "projects/:projectID/ai/keys", id: "listProjectAIKeys", summary: "Your live AI gateway keys for the research project.", tag: "ai",
           response: .array(key), errors: [404: "No such project, or not yours."], use: AIGatewayController.projectKeys)
    api.on(.POST, "projects/:projectID/ai/keys", id: "createProjectAIKey",
           summary: "A new AI gateway key for the research project, paid from your allowance in it; the token is in this answer only.", tag: "ai",
           request: .object(["name": .string()], required: ["name"]), response: key, status: 201,
           errors: [404: "No such project, or not yours.", 422: invalid], use: AIGatewayController.createProjectKey)
    api.on(.DELETE, "ai/keys/:keyID", id: "revokeAIKey", summary: "Revoke one of your AI keys; it stops at once.", tag: "ai", status: 204,
           errors: [404: "No such key, or not yours."], use: AIGatewayController.revokeKey)
    api.on(.GET, "courses/:courseID/ai/policy", id: "getAIPolicy", summary: "The course's AI policy.", tag: "ai", response: policy,
           errors: [404: "No such course, or not yours."], use: AIGatewayController.policy)
    api.on(.PUT, "courses/:courseID/ai/policy", id: "setAIPolicy", summary: "Change the fields given of the course's AI policy (instructors).", tag: "ai",
           request: policy, response: policy, errors: [404: "No such course, or not yours to manage.", 422: invalid], use: AIGatewayController.setPolicy)
    api.on(.GET, "courses/:courseID/ai/usage", id: "getAIUsage", summary: "AI usage per student and per model (staff); ?since=YYYY-MM-DD.", tag: "ai",
           response: .object(["since": .string(format: "date-time"), "byStudent": .array(line), "byModel": .array(line)], required: ["since", "byStudent", "byModel"]),
           errors: [404: "No such course, or not yours to see."], use: AIGatewayController.usage)
    api.on(.GET, "courses/:courseID/ai/usage/mine", id: "getMyAIUsage", summary: "Your own AI usage in the course; ?since=YYYY-MM-DD.", tag: "ai",
           response: line, errors: [404: "No such course, or not yours."], use: AIGatewayController.myUsage)
}

/// Research projects' lifecycle (audited) and allocation requests with review.
private func researchRoutes(_ api: APIRoutes) {
    let invalid = "The input has problems; error.problems lists each one. Nothing was changed."
    let change = JSONSchema.object(["from": .string(), "to": .string(), "by": .string(), "comment": .string(), "at": .string(format: "date-time")],
                                   required: ["from", "to", "by", "comment", "at"])
    let request = JSONSchema.object([
        "id": .string(format: "uuid"), "projectID": .string(format: "uuid"), "requestedBy": .string(), "kind": .string(enumValues: ["initial", "renewal", "supplement"]),
        "follows": .string(format: "uuid"), "amount": .string(), "periodEnd": .string(format: "date-time"), "justification": .string(),
        "meters": .array(.string(enumValues: ["compute", "ai"])), "status": .string(enumValues: ["pending", "approved", "partial", "denied"]),
        "decidedBy": .string(), "decidedAt": .string(format: "date-time"), "approvedAmount": .string(), "decisionComment": .string(),
        "createdAt": .string(format: "date-time"),
    ], required: ["id", "projectID", "kind", "amount", "periodEnd", "justification", "meters", "status", "createdAt"])
    api.on(.POST, "projects/:projectID/status", id: "changeProjectStatus",
           summary: "Move the project along its lifecycle: the PI submits, withdraws and completes; programme managers approve (active), reject (with a comment) and archive.",
           tag: "projects", request: .object(["status": .string(enumValues: ProjectStatus.allCases.map(\.rawValue)), "comment": .string()], required: ["status"]),
           response: .ref("Project"), errors: [403: "Only the programme's managers may make that change.", 404: "No such project, or not yours.", 422: invalid],
           use: ResearchController.changeStatus)
    api.on(.PUT, "projects/:projectID/job-network", id: "setProjectJobNetwork",
           summary: "Allow or stop (outbound) network for the project's jobs (its PI, programme managers); kept in the project's history.",
           tag: "projects", request: .object(["allowed": .boolean], required: ["allowed"]), response: .ref("Project"),
           errors: [404: "No such project, or not yours to manage.", 422: invalid], use: ResearchController.setJobNetwork)
    api.on(.GET, "projects/:projectID/history", id: "getProjectHistory", summary: "Every status change: from, to, who, when, why.", tag: "projects",
           response: .array(change), errors: [404: "No such project, or not yours."], use: ResearchController.history)
    api.on(.GET, "projects/:projectID/allocation-requests", id: "listAllocationRequests", summary: "The project's allocation requests and their decisions (members see them).",
           tag: "projects", response: .array(request), errors: [404: "No such project, or not yours."], use: ResearchController.requests)
    api.on(.POST, "projects/:projectID/allocation-requests", id: "requestAllocation",
           summary: "Ask for credits (the PI): amount, periodEnd (when they expire), justification, meters (compute, ai); a renewal or supplement follows an earlier request.",
           tag: "projects", request: .object(["amount": .string(), "periodEnd": .string(format: "date"), "justification": .string(),
                                               "meters": .array(.string(enumValues: ["compute", "ai"])), "kind": .string(enumValues: ["initial", "renewal", "supplement"]),
                                               "follows": .string(format: "uuid")], required: ["amount", "periodEnd", "justification", "meters"]),
           response: request, status: 201, errors: [404: "No such project, or not yours to manage.", 422: invalid], use: ResearchController.createRequest)
    api.on(.POST, "allocation-requests/:requestID/decision", id: "decideAllocationRequest",
           summary: "Approve (all, or part with amount) or deny (with a comment) a pending request (programme managers). Approval moves the credits from the pool to the project's allocation, or nothing happens.",
           tag: "projects", request: .object(["decision": .string(enumValues: ["approve", "deny"]), "amount": .string(), "comment": .string()], required: ["decision"]),
           response: request, errors: [404: "No such request, or not yours to decide.",
                                       409: "Already decided, the project is not active, or the pool has not enough (nothing moved).", 422: invalid],
           use: ResearchController.decide)

    let job = JSONSchema.object([
        "id": .string(format: "uuid"), "projectID": .string(format: "uuid"), "name": .string(), "command": .string(), "submittedBy": .string(),
        "status": .string(enumValues: ResearchJobStatus.allCases.map(\.rawValue)), "network": .boolean, "wallSeconds": .integer(), "memoryMB": .integer(),
        "payFrom": .string(enumValues: ResearchJobPayer.allCases.map(\.rawValue)), "cancelRequested": .boolean, "sandboxStatus": .string(),
        "exitCode": .integer(), "problem": .string(), "cpuMs": .integer(), "wallMs": .integer(), "charged": .string(),
        "inputs": .array(.string()), "outputs": .array(.object(["path": .string(), "size": .integer()], required: ["path", "size"])),
        "createdAt": .string(format: "date-time"), "startedAt": .string(format: "date-time"), "finishedAt": .string(format: "date-time"),
    ], required: ["id", "projectID", "name", "command", "status", "charged", "inputs", "outputs", "createdAt"])
    api.on(.POST, "projects/:projectID/jobs", id: "submitJob",
           summary: "Run a batch job (project members; multipart/form-data): command (run by /bin/sh in the job's folder; files written to outputs/ are kept), optional name, wallSeconds (default 600, at most 3600), memoryMB (default 1024), network (true/false), payFrom (allowance, or project for the PI), and input files in a field named files (several, or one .zip; 50 MB). Its most possible cost is reserved first.",
           tag: "projects",
           request: .object(["command": .string(), "name": .string(), "wallSeconds": .integer(), "memoryMB": .integer(), "network": .boolean,
                             "payFrom": .string(enumValues: ResearchJobPayer.allCases.map(\.rawValue)), "files": .array(.string(format: "binary"))],
                            required: ["command"]),
           requestType: "multipart/form-data", response: job, status: 201,
           errors: [403: "Only the PI may charge the project's allocation.", 404: "No such project, or not yours.",
                    409: "The project is not active, or there are not enough credits (the message says who can add more).", 413: "Over 60 MB.",
                    415: "Not multipart/form-data.", 422: invalid],
           body: .collect(maxSize: ResearchJobs.maxUploadBody), use: ResearchJobController.submit)
    api.on(.GET, "projects/:projectID/jobs", id: "listJobs", summary: "The project's jobs, newest first; ?page=&per=.", tag: "projects",
           response: .object(["items": .array(job), "metadata": .object([:], required: [])], required: ["items", "metadata"]),
           errors: [404: "No such project, or not yours."], use: ResearchJobController.list)
    api.on(.GET, "jobs/:jobID", id: "getJob", summary: "One job: status, limits, usage and cost, inputs and outputs.", tag: "projects",
           response: job, errors: [404: "No such job, or not in a project of yours."], use: ResearchJobController.show)
    api.on(.GET, "jobs/:jobID/logs", id: "getJobLogs", summary: "The job's standard output and error (text/plain; each kept up to 256 K characters).", tag: "projects",
           errors: [404: "No such job, or not in a project of yours."], use: ResearchJobController.logs)
    api.on(.GET, "jobs/:jobID/outputs.zip", id: "downloadJobOutputs", summary: "What the job wrote to outputs/, as one zip (application/zip).", tag: "projects",
           errors: [404: "No such job, or not in a project of yours."], use: ResearchJobController.outputs)
    api.on(.POST, "jobs/:jobID/cancel", id: "cancelJob",
           summary: "Cancel a job (whoever submitted it, or the PI): a queued job frees its whole reserve; a running one stops within seconds and only what it used is charged.",
           tag: "projects", response: job, errors: [404: "No such job, or not yours to cancel.", 409: "It already ended."], use: ResearchJobController.cancel)
    let output = JSONSchema.object([
        "id": .string(format: "uuid"), "projectID": .string(format: "uuid"), "kind": .string(enumValues: ProjectOutputKind.allCases.map(\.rawValue)),
        "title": .string(), "venue": .string(), "year": .integer(), "doi": .string(), "url": .string(), "recordedBy": .string(),
        "recordedByID": .string(format: "uuid"), "createdAt": .string(format: "date-time"),
    ], required: ["id", "projectID", "kind", "title", "venue", "recordedBy", "createdAt"])
    api.on(.GET, "projects/:projectID/outputs", id: "listProjectOutputs", summary: "Publications, datasets, software, theses and events of the project.",
           tag: "projects", response: .array(output), errors: [404: "No such project, or not yours."], use: ResearchJobController.listOutputs)
    api.on(.POST, "projects/:projectID/outputs", id: "recordProjectOutput",
           summary: "Record an output (project members): kind, title, venue, year, doi (10.xxxx/…), url.", tag: "projects",
           request: .object(["kind": .string(enumValues: ProjectOutputKind.allCases.map(\.rawValue)), "title": .string(), "venue": .string(),
                             "year": .integer(), "doi": .string(), "url": .string()], required: ["kind", "title"]),
           response: output, status: 201, errors: [404: "No such project, or not yours.", 422: invalid], use: ResearchJobController.recordOutput)
    api.on(.DELETE, "projects/:projectID/outputs/:outputID", id: "removeProjectOutput",
           summary: "Remove an output (whoever recorded it, or the PI).", tag: "projects", status: 204,
           errors: [404: "No such output, or not yours to remove."], use: ResearchJobController.removeOutput)
    let credit = JSONSchema.object(["granted": .string(), "used": .string(), "remaining": .string()], required: ["granted", "used", "remaining"])
    let points = JSONSchema.array(.object(["day": .string(format: "date"), "remaining": .string()], required: ["day", "remaining"]))
    api.on(.GET, "programmes/:programmeID/report", id: "getProgrammeReport",
           summary: "The programme report (managers and partner contacts): credits granted, used and remaining per course and project with a burn-down, students reached, hand-ins graded, AI tokens, jobs, projects by status and their outputs. Counts only, no student names.",
           tag: "programmes",
           response: .object(["programme": .ref("ProgrammeSummary"), "generatedAt": .string(format: "date-time"), "credits": credit,
                              "studentsReached": .integer(), "submissionsGraded": .integer(), "aiTokens": .integer(), "jobsRun": .integer(),
                              "projectsByStatus": .object([:], required: []), "outputsByKind": .object([:], required: []),
                              "courses": .array(.object(["id": .string(format: "uuid"), "code": .string(), "title": .string(), "credits": credit,
                                                         "students": .integer(), "assignments": .integer(), "submissionsGraded": .integer(),
                                                         "aiTokens": .integer(), "burnDown": points], required: ["id", "code", "credits"])),
                              "projects": .array(.object(["id": .string(format: "uuid"), "title": .string(), "status": .string(), "credits": credit,
                                                          "members": .integer(), "jobsRun": .integer(), "aiTokens": .integer(),
                                                          "outputs": .array(.object([:], required: [])), "burnDown": points], required: ["id", "title", "credits"])),
                              "burnDown": points],
                             required: ["programme", "credits", "courses", "projects"]),
           errors: [404: "No such programme, or not yours to see."], use: ReportController.json)
    api.on(.GET, "programmes/:programmeID/report.csv", id: "getProgrammeReportCSV",
           summary: "The report as CSV: one row per course and project (credits granted, used, remaining, students, assignments, hand-ins graded, members, jobs, AI tokens, outputs).",
           tag: "programmes", errors: [404: "No such programme, or not yours to see."], use: ReportController.csv)
}
