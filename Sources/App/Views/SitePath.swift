// Every web page's path, written once. Areas register their page routes from it (`pages.signedIn.get(.course(.key))`),
// and redirects, notices and view-models make their links from it (`SitePath.course(.id(id)).url`), so a route and
// the links to it cannot drift apart. (The JSON API's paths live with their OpenAPI description in `APIRoutes`.)
import Vapor

enum SitePath: Hashable, Sendable {
    /// A path's id: `.key` where a route is registered (`:courseID`), `.id(…)` in a link.
    enum ID: Hashable, Sendable {
        case key
        case id(UUID)
    }

    // Home, signing in, the profile
    case home, dashboard, signIn, signOut, setPassword, profile, profilePassword, profileKeys
    case revokeProfileKey(ID)
    // Single sign-on: starting one with a provider, its way back; the providers (administrators)
    case ssoStart(ID), ssoCallback(ID), adminSSO, adminSSOProviders, adminSSOProvider(ID)
    // LTI: the LMS's login initiation and launch, a deep linking choice, the tool's key set and configuration; the
    // registrations and the tool's keys (administrators)
    case ltiLogin, ltiLaunch, ltiDeepLink(ID), ltiKeySet, ltiConfiguration, adminLTI, adminLTIRegistrations, adminLTIDeployments(ID), adminLTIKeys
    // LTI grade passback: an assignment's scores in the LMS (staff), sending them again
    case lmsScores(ID), resendLMSScores(ID)
    // LTI Dynamic Registration: the link an LMS's administrator pastes; making one (administrators)
    case ltiRegister, adminLTIInvites, ltiWindow, adminLTIRegistration(ID)
    // People and programmes (administrators)
    case adminUsers, adminUser(ID), adminProgrammes, adminAI, adminAIProviders, adminAIModels, adminSlurm, adminSlurmClusters
    case adminSlurmCluster(ID), removeAdminSlurmCluster(ID)
    // Programmes
    case programme(ID), programmeCourses(ID), programmeProjects(ID), programmeMembers(ID), removeProgrammeMember(ID, user: ID)
    case programmeReport(ID), programmeReportCSV(ID), programmeAnalytics(ID), programmeEvents(ID)
    // Credits
    case credits, readNotice(ID)
    case programmeCredits(ID), programmeGrants(ID), programmeAllocations(ID)
    case courseCredits(ID), courseDefaultAllowance(ID), courseAllowances(ID)
    case projectCredits(ID), projectDefaultAllowance(ID), projectAllowances(ID)
    // Courses
    case course(ID), courseMembers(ID), removeCourseMember(ID, user: ID), courseRoster(ID), courseRosterCSV(ID)
    // Insight: how the class is doing, one student in it (staff); students at risk, a flag, checking now (teachers)
    case courseOverview(ID), courseStudent(ID, user: ID), courseRiskFlags(ID), courseRiskFlag(ID, flag: ID), checkCourseRiskFlags(ID)
    // Grading
    case courseAssignments(ID), gradebook(ID), myGrades(ID)
    case assignment(ID), autograder(ID), handIn(ID), regradeAssignment(ID), publishGrades(ID)
    case submission(ID), submissionFiles(ID), regradeSubmission(ID), adjustments(ID)
    // Code similarity (staff): an assignment's checks and starter code, one check's results, one pair side by side
    case assignmentSimilarity(ID), assignmentStarter(ID), similarityCheck(ID), similarityPair(ID)
    // The AI gateway's pages
    case courseAI(ID), courseAIKeys(ID), courseAIPolicy(ID), revokeAIKey(ID)
    // Research
    case project(ID), projectMembers(ID), removeProjectMember(ID, user: ID), projectStatus(ID), projectJobNetwork(ID), projectCompute(ID)
    case allocationRequests(ID), allocationDecision(ID)
    case projectJobs(ID), job(ID), cancelJob(ID), jobOutputs(ID)
    case projectOutputs(ID), removeProjectOutput(ID, output: ID)
    // Labs
    case courseLabs(ID), lab(ID), labSetup(ID), startLab(ID), labHomeZip(ID), resetLabHome(ID), labStartFiles(ID), labPrestart(ID)
    case labSession(ID), stopLabSession(ID), labTerminal(ID), labSessionStatus(ID), keepLabSession(ID), openLab(ID), xtermScript, xtermFit, xtermStyle
    /// Everything below a session's own address, relayed to its JupyterLab (`labProxy(.id(x)).url` is the prefix).
    case labProxy(ID)

    private enum Part {
        case text(String)
        case id(String, ID)
        /// Any rest of the path (a route's `**`; nothing in a link, which then ends with "/").
        case rest
    }

    private var parts: [Part] {
        func programme(_ id: ID, _ rest: String...) -> [Part] { [.text("programmes"), .id("programmeID", id)] + rest.map(Part.text) }
        func course(_ id: ID, _ rest: String...) -> [Part] { [.text("courses"), .id("courseID", id)] + rest.map(Part.text) }
        func project(_ id: ID, _ rest: String...) -> [Part] { [.text("projects"), .id("projectID", id)] + rest.map(Part.text) }
        func assignment(_ id: ID, _ rest: String...) -> [Part] { [.text("assignments"), .id("assignmentID", id)] + rest.map(Part.text) }
        func submission(_ id: ID, _ rest: String...) -> [Part] { [.text("submissions"), .id("submissionID", id)] + rest.map(Part.text) }
        func job(_ id: ID, _ rest: String...) -> [Part] { [.text("jobs"), .id("jobID", id)] + rest.map(Part.text) }
        func lab(_ id: ID, _ rest: String...) -> [Part] { [.text("labs"), .id("labID", id)] + rest.map(Part.text) }
        func text(_ words: String...) -> [Part] { words.map(Part.text) }
        switch self {
        case .home: return []
        case .dashboard: return text("dashboard")
        case .signIn: return text("signin")
        case .signOut: return text("signout")
        case .setPassword: return text("set-password")
        case .profile: return text("profile")
        case .profilePassword: return text("profile", "password")
        case .profileKeys: return text("profile", "keys")
        case .revokeProfileKey(let key): return text("profile", "keys") + [.id("keyID", key), .text("revoke")]
        case .ssoStart(let id): return text("signin", "sso") + [.id("providerID", id)]
        case .ssoCallback(let id): return text("signin", "sso") + [.id("providerID", id), .text("callback")]
        case .adminSSO: return text("admin", "sso")
        case .adminSSOProviders: return text("admin", "sso", "providers")
        case .adminSSOProvider(let id): return text("admin", "sso", "providers") + [.id("providerID", id)]
        case .ltiLogin: return text("lti", "login")
        case .ltiLaunch: return text("lti", "launch")
        case .ltiDeepLink(let id): return text("lti", "deep-links") + [.id("choiceID", id)]
        case .ltiKeySet: return text(".well-known", "jwks.json")
        case .ltiConfiguration: return text("lti", "config.json")
        case .adminLTIKeys: return text("admin", "lti", "keys")
        case .lmsScores(let id): return assignment(id, "lms-scores")
        case .ltiRegister: return text("lti", "register")
        case .ltiWindow: return text("lti", "window")
        case .adminLTIRegistration(let id): return text("admin", "lti", "registrations") + [.id("registrationID", id)]
        case .adminLTIInvites: return text("admin", "lti", "invites")
        case .resendLMSScores(let id): return assignment(id, "lms-scores", "resend")
        case .adminLTI: return text("admin", "lti")
        case .adminLTIRegistrations: return text("admin", "lti", "registrations")
        case .adminLTIDeployments(let id): return text("admin", "lti", "registrations") + [.id("registrationID", id), .text("deployments")]
        case .adminUsers: return text("admin", "users")
        case .adminUser(let user): return text("admin", "users") + [.id("userID", user)]
        case .adminProgrammes: return text("admin", "programmes")
        case .adminAI: return text("admin", "ai")
        case .adminAIProviders: return text("admin", "ai", "providers")
        case .adminAIModels: return text("admin", "ai", "models")
        case .adminSlurm: return text("admin", "slurm")
        case .adminSlurmClusters: return text("admin", "slurm", "clusters")
        case .adminSlurmCluster(let id): return text("admin", "slurm", "clusters") + [.id("clusterID", id)]
        case .removeAdminSlurmCluster(let id): return text("admin", "slurm", "clusters") + [.id("clusterID", id), .text("remove")]
        case .programme(let id): return programme(id)
        case .programmeCourses(let id): return programme(id, "courses")
        case .programmeProjects(let id): return programme(id, "projects")
        case .programmeMembers(let id): return programme(id, "members")
        case .removeProgrammeMember(let id, let user): return programme(id, "members") + [.id("userID", user), .text("remove")]
        case .programmeReport(let id): return programme(id, "report")
        case .programmeReportCSV(let id): return programme(id, "report.csv")
        case .programmeAnalytics(let id): return programme(id, "analytics")
        case .programmeEvents(let id): return programme(id, "events")
        case .credits: return text("credits")
        case .readNotice(let notice): return [.text("notices"), .id("noticeID", notice), .text("read")]
        case .programmeCredits(let id): return programme(id, "credits")
        case .programmeGrants(let id): return programme(id, "credits", "grants")
        case .programmeAllocations(let id): return programme(id, "credits", "allocations")
        case .courseCredits(let id): return course(id, "credits")
        case .courseDefaultAllowance(let id): return course(id, "credits", "default-allowance")
        case .courseAllowances(let id): return course(id, "credits", "allowances")
        case .projectCredits(let id): return project(id, "credits")
        case .projectDefaultAllowance(let id): return project(id, "credits", "default-allowance")
        case .projectAllowances(let id): return project(id, "credits", "allowances")
        case .course(let id): return course(id)
        case .courseMembers(let id): return course(id, "members")
        case .removeCourseMember(let id, let user): return course(id, "members") + [.id("userID", user), .text("remove")]
        case .courseRoster(let id): return course(id, "roster")
        case .courseRosterCSV(let id): return course(id, "roster.csv")
        case .courseOverview(let id): return course(id, "overview")
        case .courseStudent(let id, let user): return course(id, "students") + [.id("userID", user)]
        case .courseRiskFlags(let id): return course(id, "at-risk")
        case .courseRiskFlag(let id, let flag): return course(id, "at-risk") + [.id("flagID", flag)]
        case .checkCourseRiskFlags(let id): return course(id, "at-risk", "check")
        case .courseAssignments(let id): return course(id, "assignments")
        case .gradebook(let id): return course(id, "gradebook")
        case .myGrades(let id): return course(id, "grades")
        case .assignment(let id): return assignment(id)
        case .autograder(let id): return assignment(id, "autograder")
        case .handIn(let id): return assignment(id, "submissions")
        case .regradeAssignment(let id): return assignment(id, "regrade")
        case .publishGrades(let id): return assignment(id, "publish")
        case .submission(let id): return submission(id)
        case .submissionFiles(let id): return submission(id, "files.zip")
        case .regradeSubmission(let id): return submission(id, "regrade")
        case .adjustments(let id): return submission(id, "adjustments")
        case .assignmentSimilarity(let id): return assignment(id, "similarity")
        case .assignmentStarter(let id): return assignment(id, "similarity", "starter")
        case .similarityCheck(let id): return [.text("similarity-checks"), .id("checkID", id)]
        case .similarityPair(let id): return [.text("similarity-pairs"), .id("pairID", id)]
        case .courseAI(let id): return course(id, "ai")
        case .courseAIKeys(let id): return course(id, "ai", "keys")
        case .courseAIPolicy(let id): return course(id, "ai", "policy")
        case .revokeAIKey(let key): return [.text("ai"), .text("keys"), .id("keyID", key), .text("revoke")]
        case .project(let id): return project(id)
        case .projectMembers(let id): return project(id, "members")
        case .removeProjectMember(let id, let user): return project(id, "members") + [.id("userID", user), .text("remove")]
        case .projectStatus(let id): return project(id, "status")
        case .projectJobNetwork(let id): return project(id, "job-network")
        case .projectCompute(let id): return project(id, "compute")
        case .allocationRequests(let id): return project(id, "allocation-requests")
        case .allocationDecision(let request): return [.text("allocation-requests"), .id("requestID", request), .text("decision")]
        case .projectJobs(let id): return project(id, "jobs")
        case .job(let id): return job(id)
        case .cancelJob(let id): return job(id, "cancel")
        case .jobOutputs(let id): return job(id, "outputs.zip")
        case .projectOutputs(let id): return project(id, "outputs")
        case .removeProjectOutput(let id, let output): return project(id, "outputs") + [.id("outputID", output), .text("remove")]
        case .courseLabs(let id): return course(id, "labs")
        case .lab(let id): return lab(id)
        case .labSetup(let id): return lab(id, "setup")
        case .startLab(let id): return lab(id, "sessions")
        case .labHomeZip(let id): return lab(id, "home.zip")
        case .resetLabHome(let id): return lab(id, "home", "reset")
        case .labStartFiles(let id): return lab(id, "start-files")
        case .labPrestart(let id): return lab(id, "class-start")
        case .labSession(let id): return [.text("labs"), .text("sessions"), .id("sessionID", id)]
        case .stopLabSession(let id): return [.text("labs"), .text("sessions"), .id("sessionID", id), .text("stop")]
        case .labTerminal(let id): return [.text("labs"), .text("sessions"), .id("sessionID", id), .text("terminal")]
        case .labSessionStatus(let id): return [.text("labs"), .text("sessions"), .id("sessionID", id), .text("status")]
        case .keepLabSession(let id): return [.text("labs"), .text("sessions"), .id("sessionID", id), .text("keep")]
        case .openLab(let id): return [.text("labs"), .text("sessions"), .id("sessionID", id), .text("open-lab")]
        case .xtermScript: return text("labs", "assets", "xterm.js")
        case .xtermFit: return text("labs", "assets", "xterm-fit.js")
        case .xtermStyle: return text("labs", "assets", "xterm.css")
        case .labProxy(let id): return [.text("labs"), .text("sessions"), .id("sessionID", id), .rest]
        }
    }

    /// The path as a link ("/courses/6F…/credits"); where an id is `.key`, its route parameter (":courseID").
    var url: String {
        "/" + parts.map { part in
            switch part {
            case .text(let text): text
            case .id(let name, .key): ":" + name
            case .id(_, .id(let id)): id.uuidString
            case .rest: self == .labProxy(.key) ? "**" : ""
            }
        }.joined(separator: "/")
    }

    /// The same with a fragment (`#outputs`): the part of the page to show.
    func url(at fragment: String) -> String { url + "#" + fragment }

    /// The path as the router reads it.
    var pathComponents: [PathComponent] {
        parts.map { part in
            switch part {
            case .text(let text): .constant(text)
            case .id(let name, _): .parameter(name)
            case .rest: .catchall
            }
        }
    }
}

extension RoutesBuilder {
    /// A page route at a typed path; the route remembers it (`userInfo["sitePath"]`) so tests can key by it.
    @discardableResult
    func on<R: AsyncResponseEncodable>(_ method: HTTPMethod, _ path: SitePath, body: HTTPBodyStreamStrategy = .collect,
                                       use handler: @escaping @Sendable (Request) async throws -> R) -> Route {
        let route = on(method, path.pathComponents, body: body, use: handler)
        route.userInfo["sitePath"] = path
        return route
    }

    @discardableResult
    func get<R: AsyncResponseEncodable>(_ path: SitePath, use handler: @escaping @Sendable (Request) async throws -> R) -> Route {
        on(.GET, path, use: handler)
    }

    @discardableResult
    func post<R: AsyncResponseEncodable>(_ path: SitePath, use handler: @escaping @Sendable (Request) async throws -> R) -> Route {
        on(.POST, path, use: handler)
    }
}

extension Request {
    /// Sends the browser on to a page (303, so a form's POST becomes a GET).
    func redirect(to path: SitePath, at fragment: String? = nil) -> Response {
        redirect(to: fragment.map { path.url(at: $0) } ?? path.url, redirectType: .normal)
    }
}

extension SitePath {
    /// Only a path on this site may follow a sign-in: it starts with one "/", has no backslash, no whitespace or
    /// control character (a browser drops a tab from "/\t/evil.example" and goes to //evil.example), and parses with
    /// neither scheme nor host.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), next.count < 500,
              next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && !$0.properties.isWhitespace }),
              let parsed = URLComponents(string: next), parsed.scheme == nil, parsed.host == nil else { return dashboard.url }
        return next
    }
}
