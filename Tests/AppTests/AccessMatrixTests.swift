// Every role × every route, web and API. The table below is the platform's access rules written out; a route that
// is registered without a row here fails `everyRouteHasARow`, so new routes must say who may use them.
import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
import Ledger
@testable import App

@Suite struct AccessMatrixTests {
    enum Who: String, CaseIterable { case anonymous, partner, ta, instructor, admin, student }
    /// A server error never matches a row: every route must answer every role without failing.
    enum Outcome: Equatable { case allowed, signIn, notFound, unauthorized, serverError }

    /// Shorthands for rows.
    static func everyone(_ outcome: Outcome = .allowed) -> [Who: Outcome] { Dictionary(uniqueKeysWithValues: Who.allCases.map { ($0, outcome) }) }
    static func signedIn(_ allowed: Set<Who>, anonymous: Outcome) -> [Who: Outcome] {
        Dictionary(uniqueKeysWithValues: Who.allCases.map { who in
            (who, who == .anonymous ? anonymous : (allowed.contains(who) ? .allowed : .notFound))
        })
    }
    static let people: Set<Who> = [.partner, .ta, .instructor, .admin, .student]

    /// A row's key: a page by its method and typed path, an API route by its operation id, the rest by method and path.
    enum Key: Hashable, CustomStringConvertible, Comparable {
        case page(HTTPMethod, SitePath)
        case api(String)
        case other(String)

        var description: String {
            switch self {
            case .page(let method, let path): "\(method.rawValue) \(path.url)"
            case .api(let id): "API \(id)"
            case .other(let text): text
            }
        }
        static func < (a: Key, b: Key) -> Bool { a.description < b.description }
        static func == (a: Key, b: Key) -> Bool { a.description == b.description }
        func hash(into hasher: inout Hasher) { hasher.combine(description) }
    }

    static let matrix: [Key: [Who: Outcome]] = [
        .page(.GET, .home): everyone(),
        .other("GET /healthz"): everyone(),
        .other("GET /metrics"): everyone(),
        .page(.GET, .signIn): everyone(),
        .page(.POST, .signIn): everyone(),
        .page(.POST, .signOut): everyone(),
        .page(.GET, .setPassword): everyone(),
        .page(.POST, .setPassword): everyone(),
        .page(.GET, .dashboard): signedIn(people, anonymous: .signIn),
        .page(.GET, .profile): signedIn(people, anonymous: .signIn),
        .page(.POST, .profilePassword): signedIn(people, anonymous: .signIn),
        .page(.POST, .profileKeys): signedIn(people, anonymous: .signIn),
        .page(.POST, .revokeProfileKey(.key)): signedIn([.student], anonymous: .signIn),
        .page(.GET, .programme(.key)): signedIn([.partner, .admin], anonymous: .signIn),
        .page(.POST, .programme(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .programmeCourses(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .programmeProjects(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .programmeMembers(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .removeProgrammeMember(.key, user: .key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .project(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .projectMembers(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .removeProjectMember(.key, user: .key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .course(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .courseMembers(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .removeCourseMember(.key, user: .key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .credits): signedIn(people, anonymous: .signIn),
        .page(.POST, .readNotice(.key)): signedIn([.student], anonymous: .signIn),
        .page(.GET, .programmeCredits(.key)): signedIn([.partner, .admin], anonymous: .signIn),
        .page(.POST, .programmeGrants(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .programmeAllocations(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.GET, .courseCredits(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .courseDefaultAllowance(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .courseAllowances(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .projectCredits(.key)): signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .projectDefaultAllowance(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .projectAllowances(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .api("listMyNotices"): signedIn(people, anonymous: .unauthorized),
        .api("getMyDashboard"): signedIn(people, anonymous: .unauthorized),
        .api("markNoticeRead"): signedIn([.student], anonymous: .unauthorized),
        .page(.GET, .adminUsers): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminUsers): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminUser(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.GET, .adminProgrammes): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminProgrammes): signedIn([.admin], anonymous: .signIn),
        .api("listUsers"): signedIn([.admin], anonymous: .unauthorized),
        .api("createUser"): signedIn([.admin], anonymous: .unauthorized),
        .api("changeUser"): signedIn([.admin], anonymous: .unauthorized),
        .api("createProgramme"): signedIn([.admin], anonymous: .unauthorized),
        .api("changeProgramme"): signedIn([.admin], anonymous: .unauthorized),
        .api("listProgrammeMembers"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .api("setProgrammeMember"): signedIn([.admin], anonymous: .unauthorized),
        .api("removeProgrammeMember"): signedIn([.admin], anonymous: .unauthorized),
        .api("createCourse"): signedIn([.admin], anonymous: .unauthorized),
        .api("createProject"): signedIn([.admin], anonymous: .unauthorized),
        .api("changeCourse"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("setCourseMember"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("removeCourseMember"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("changeProject"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("setProjectMember"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("removeProjectMember"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getProgrammeCredits"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .api("grantCredits"): signedIn([.admin], anonymous: .unauthorized),
        .api("allocateCredits"): signedIn([.admin], anonymous: .unauthorized),
        .api("returnCredits"): signedIn([.admin], anonymous: .unauthorized),
        .api("getCourseCredits"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("setCourseDefaultAllowance"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("setCourseAllowance"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getProjectCredits"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("setProjectDefaultAllowance"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("setProjectAllowance"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getMyCredits"): signedIn(people, anonymous: .unauthorized),
        .api("reserveCredits"): signedIn(people, anonymous: .unauthorized),
        .api("settleHold"): signedIn([.student, .admin], anonymous: .unauthorized),
        .api("voidHold"): signedIn([.student, .admin], anonymous: .unauthorized),
        .api("getStatement"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listPrices"): signedIn(people, anonymous: .unauthorized),
        .api("getStatementCSV"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getProgrammeStatementCSV"): signedIn([.admin], anonymous: .unauthorized),
        .api("setPrice"): signedIn([.admin], anonymous: .unauthorized),
        .page(.GET, .project(.key)): signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        .api("listProgrammes"): signedIn(people, anonymous: .unauthorized),
        .api("getProgramme"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .api("getProject"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .page(.GET, .course(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .courseRoster(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .courseRosterCSV(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .api("getOpenAPIDocument"): everyone(),
        .api("issueToken"): everyone(),
        .api("getMe"): signedIn(people, anonymous: .unauthorized),
        .api("listMyKeys"): signedIn(people, anonymous: .unauthorized),
        .api("createMyKey"): signedIn(people, anonymous: .unauthorized),
        .api("revokeMyKey"): signedIn([.student], anonymous: .unauthorized),
        .api("getCourse"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listMyCourses"): signedIn(people, anonymous: .unauthorized),
        .api("getRoster"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("importRoster"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        // Grading: members see released assignments and hand in (staff hand-ins are test runs); TAs grade; instructors manage.
        .page(.POST, .courseAssignments(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .gradebook(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .assignmentSimilarity(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .assignmentSimilarity(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .assignmentStarter(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .similarityCheck(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .similarityPair(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .courseOverview(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .courseOverview(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .courseStudent(.key, user: .key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        // Students at risk: the course's teachers, not its TAs, never students.
        .page(.GET, .courseRiskFlags(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .courseRiskFlag(.key, flag: .key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .checkCourseRiskFlags(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .assignment(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .assignment(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .autograder(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .handIn(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .regradeAssignment(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .lmsScores(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .resendLMSScores(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .publishGrades(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .submission(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .submissionFiles(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .myGrades(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .regradeSubmission(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .adjustments(.key)): signedIn([.ta, .instructor, .admin], anonymous: .signIn),
        .api("listAssignments"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        // Labs (the matrix's lab is open to students; LabEnvironmentTests covers one open to staff only).
        .page(.POST, .courseLabs(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .lab(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .lab(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .labSetup(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .api("listLabs"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("createLab"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getLab"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("changeLab"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("setUpLabAgain"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        // Sessions: starting one (the matrix's lab is a terminal without set-up) and the session of the student's.
        .page(.POST, .startLab(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.GET, .labSession(.key)): signedIn([.student], anonymous: .signIn),
        .page(.POST, .stopLabSession(.key)): signedIn([.student], anonymous: .signIn),
        .page(.GET, .labTerminal(.key)): signedIn([.student], anonymous: .signIn),
        .page(.GET, .labSessionStatus(.key)): signedIn([.student], anonymous: .signIn),
        .page(.GET, .labProxy(.key)): signedIn([.student], anonymous: .signIn),
        .page(.POST, .labProxy(.key)): signedIn([.student], anonymous: .signIn),
        .page(.PUT, .labProxy(.key)): signedIn([.student], anonymous: .signIn),
        .page(.PATCH, .labProxy(.key)): signedIn([.student], anonymous: .signIn),
        .page(.DELETE, .labProxy(.key)): signedIn([.student], anonymous: .signIn),
        .page(.POST, .keepLabSession(.key)): signedIn([.student], anonymous: .signIn),
        .page(.GET, .openLab(.key)): signedIn([.student], anonymous: .signIn),
        .page(.GET, .xtermScript): signedIn(people, anonymous: .signIn),
        .page(.GET, .xtermFit): signedIn(people, anonymous: .signIn),
        .page(.GET, .xtermStyle): signedIn(people, anonymous: .signIn),
        .page(.POST, .labPrestart(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .api("startLabForClass"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .page(.GET, .labHomeZip(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .resetLabHome(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .labStartFiles(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .api("getMyLabHome"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("downloadMyLabHome"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("resetMyLabHome"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("setLabStartFiles"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("startLabSession"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listMyLabSessions"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getLabSession"): signedIn([.student], anonymous: .unauthorized),
        .api("stopLabSession"): signedIn([.student], anonymous: .unauthorized),
        .api("createAssignment"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getAssignment"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("changeAssignment"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("uploadAutograder"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("publishGrades"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("submit"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listSubmissions"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("regradeAssignment"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listSimilarityChecks"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("startSimilarityCheck"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listSimilaritySources"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getStarterCode"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("uploadStarterCode"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getSimilarityCheck"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listSimilarityPairs"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getSimilarityPair"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getRegradeProgress"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getSubmission"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("downloadSubmission"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getMyGrades"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("regradeSubmission"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("adjustScore"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getGradebook"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getStudentGrades"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getGradebookCSV"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getCourseOverview"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getCourseOverviewCSV"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getStudentOverview"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listRiskFlags"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("changeRiskFlag"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("checkRiskFlags"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        // The AI gateway: admins keep the catalogue; course members hold keys paid by their allowance; instructors
        // set the policy; staff see usage. /v1 answers only to gateway keys, never to sessions or platform tokens.
        // Research projects: members see the history and requests; the PI asks; programme managers decide.
        .api("changeProjectStatus"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("setProjectJobNetwork"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getProjectHistory"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listAllocationRequests"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("requestAllocation"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("decideAllocationRequest"): signedIn([.admin], anonymous: .unauthorized),
        .page(.POST, .projectStatus(.key)): signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .projectJobNetwork(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .allocationRequests(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .allocationDecision(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .ssoStart(.key)): everyone(),  // to the provider
        .page(.GET, .ssoCallback(.key)): everyone(),  // 400 without a sign-in's state, for anyone
        .page(.GET, .adminSSO): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminSSOProviders): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminSSOProvider(.key)): signedIn([.admin], anonymous: .signIn),
        .api("changeIdentityProvider"): signedIn([.admin], anonymous: .unauthorized),
        .api("listIdentityProviders"): signedIn([.admin], anonymous: .unauthorized),
        .api("addIdentityProvider"): signedIn([.admin], anonymous: .unauthorized),
        .page(.GET, .ltiLogin): everyone(),  // 400 without an LMS's parameters, for anyone
        .page(.POST, .ltiLogin): everyone(),
        .page(.POST, .ltiLaunch): everyone(),  // 400 without a launch's state
        .page(.GET, .ltiKeySet): everyone(),
        .page(.GET, .ltiConfiguration): everyone(),
        .page(.GET, .ltiDeepLink(.key)): signedIn([.instructor], anonymous: .signIn),  // the choice the instructor's launch opened
        .page(.POST, .ltiDeepLink(.key)): signedIn([.instructor], anonymous: .signIn),  // 422: nothing picked
        .page(.POST, .adminLTIKeys): signedIn([.admin], anonymous: .signIn),
        .page(.GET, .ltiRegister): everyone(.notFound),  // without a registration link's invite
        .page(.POST, .ltiWindow): everyone(),  // 403 without this site's Origin, for anyone
        .page(.POST, .adminLTIInvites): signedIn([.admin], anonymous: .signIn),
        .page(.GET, .adminLTI): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminLTIRegistrations): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminLTIDeployments(.key)): signedIn([.admin], anonymous: .signIn),
        .api("listLTIRegistrations"): signedIn([.admin], anonymous: .unauthorized),
        .api("addLTIRegistration"): signedIn([.admin], anonymous: .unauthorized),
        .api("addLTIDeployment"): signedIn([.admin], anonymous: .unauthorized),
        .api("changeLTIRegistration"): signedIn([.admin], anonymous: .unauthorized),
        .page(.POST, .adminLTIRegistration(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.GET, .adminAI): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminAIProviders): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminAIModels): signedIn([.admin], anonymous: .signIn),
        .page(.GET, .adminSlurm): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminSlurmClusters): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .adminSlurmCluster(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .removeAdminSlurmCluster(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.POST, .projectCompute(.key)): signedIn([.admin], anonymous: .signIn),
        .page(.GET, .courseAI(.key)): signedIn([.student, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .courseAIKeys(.key)): signedIn([.student, .ta, .instructor], anonymous: .signIn),
        .page(.POST, .courseAIPolicy(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.POST, .revokeAIKey(.key)): signedIn([.student], anonymous: .signIn),
        .api("listAIProviders"): signedIn([.admin], anonymous: .unauthorized),
        .api("addAIProvider"): signedIn([.admin], anonymous: .unauthorized),
        .api("listAIModels"): signedIn(people, anonymous: .unauthorized),
        .api("addAIModel"): signedIn([.admin], anonymous: .unauthorized),
        .api("listAIKeys"): signedIn([.student, .ta, .instructor], anonymous: .unauthorized),
        .api("createAIKey"): signedIn([.student, .ta, .instructor], anonymous: .unauthorized),
        .api("revokeAIKey"): signedIn([.student], anonymous: .unauthorized),
        .api("listProjectAIKeys"): signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        .api("createProjectAIKey"): signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        .api("getAIPolicy"): signedIn([.student, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("setAIPolicy"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getAIUsage"): signedIn([.ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getMyAIUsage"): signedIn([.student, .ta, .instructor], anonymous: .unauthorized),
        // Research jobs and outputs: the project's members run jobs and record outputs; whoever submitted a job (or
        // the PI, managers, admins) cancels it; the programme report is for the programme's managers and partners.
        .page(.POST, .projectJobs(.key)): signedIn([.partner, .ta, .instructor], anonymous: .signIn),
        .page(.GET, .job(.key)): signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .cancelJob(.key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .jobOutputs(.key)): signedIn([.partner, .ta, .instructor, .admin], anonymous: .signIn),
        .page(.POST, .projectOutputs(.key)): signedIn([.partner, .ta, .instructor], anonymous: .signIn),
        .page(.POST, .removeProjectOutput(.key, output: .key)): signedIn([.instructor, .admin], anonymous: .signIn),
        .page(.GET, .programmeReport(.key)): signedIn([.partner, .admin], anonymous: .signIn),
        .page(.GET, .programmeReportCSV(.key)): signedIn([.partner, .admin], anonymous: .signIn),
        .page(.GET, .programmeAnalytics(.key)): signedIn([.partner, .admin], anonymous: .signIn),
        .page(.GET, .programmeEvents(.key)): signedIn([.partner, .admin], anonymous: .signIn),
        .api("submitJob"): signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        .api("listJobs"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("listSlurmClusters"): signedIn([.admin], anonymous: .unauthorized),
        .api("addSlurmCluster"): signedIn([.admin], anonymous: .unauthorized),
        .api("changeSlurmCluster"): signedIn([.admin], anonymous: .unauthorized),
        .api("removeSlurmCluster"): signedIn([.admin], anonymous: .unauthorized),
        // Those who see the project reach it; only programme managers change it (403 for the rest).
        .api("setProjectCompute"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getJob"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("getJobLogs"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("downloadJobOutputs"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("cancelJob"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("listProjectOutputs"): signedIn([.partner, .ta, .instructor, .admin], anonymous: .unauthorized),
        .api("recordProjectOutput"): signedIn([.partner, .ta, .instructor], anonymous: .unauthorized),
        .api("removeProjectOutput"): signedIn([.instructor, .admin], anonymous: .unauthorized),
        .api("getProgrammeReport"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .api("getProgrammeReportCSV"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .api("getProgrammeAnalytics"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .api("getProgrammeAnalyticsCSV"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .api("exportProgrammeEvents"): signedIn([.partner, .admin], anonymous: .unauthorized),
        .other("POST /v1/chat/completions"): everyone(.unauthorized),
        .other("POST /v1/embeddings"): everyone(.unauthorized),
        .other("GET /v1/models"): everyone(.unauthorized),
    ]

    /// The row a registered route answers to: pages and API routes say which (their `userInfo`).
    static func key(_ route: Route) -> Key {
        if let path = route.userInfo["sitePath"] as? SitePath { return .page(route.method, path) }
        if let id = route.userInfo["operationID"] as? String { return .api(id) }
        return .other("\(route.method.rawValue) /" + route.path.map(\.description).joined(separator: "/"))
    }

    static func email(_ who: Who) -> String? {
        switch who {
        case .anonymous: nil
        case .partner: "mentor@partner.test"
        case .ta: "ta@demo.test"
        case .instructor: "instructor@demo.test"
        case .admin: "admin@demo.test"
        case .student: "student1@demo.test"
        }
    }

    @Test func everyRouteHasARow() async throws {
        try await withTestApp { app in
            let registered = Set(app.routes.all.map(Self.key))
            #expect(registered.subtracting(Self.matrix.keys).isEmpty, "routes without a row: \(registered.subtracting(Self.matrix.keys).sorted())")
            #expect(Set(Self.matrix.keys).subtracting(registered).isEmpty, "rows without a route: \(Set(Self.matrix.keys).subtracting(registered).sorted())")
        }
    }

    @Test func everyRoleGetsTheExpectedAnswerOnEveryRoute() async throws {
        // A public address: single sign-on needs one to send people back to.
        try await withTestApp(adjust: { $0.publicURL = URL(string: "http://campus.test") }) { app in
            try await app.loadDemoData()
            let courseID = try #require(try await Course.query(on: app.db).filter(\.$code == "CS101").first()).requireID()
            let student = try #require(try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first())
            let programmeID = try #require(try await Programme.query(on: app.db).first()).requireID()
            let projectID = try #require(try await ResearchProject.query(on: app.db).first()).requireID()
            // The person whom member and account routes act on: not one of the people making the requests.
            let otherID = try #require(try await User.query(on: app.db).filter(\.$email == "student30@demo.test").first()).requireID()
            // A classmate whom the insight routes show (not removed from the course by the member routes, as student 30 is).
            let classmateID = try #require(try await User.query(on: app.db).filter(\.$email == "student2@demo.test").first()).requireID()
            // The student's allowance in CS101 (its statement is a route) and a hold the student made on it.
            let course = try #require(try await Course.find(courseID, on: app.db))
            let programme = try #require(try await Programme.find(programmeID, on: app.db))
            let ledger = app.ledger
            try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                      amount: Credits(whole: 10), memo: "matrix")
            try await ledger.transfer(.allocate, from: try await ledger.pool(of: programme), to: try await ledger.allocation(of: .course(course)),
                                      amount: Credits(whole: 10), memo: "matrix")
            let allowance = try await ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 5), actor: nil)
            let holdID = try await ledger.reserve(allowance, amount: Credits(whole: 1), reason: "matrix", key: "matrix", actor: student.id, origin: .person).requireID()
            let accountID = try allowance.requireID()
            let notice = Notice(userID: try student.requireID(), kind: "test", message: "For the matrix.", link: nil, accountID: nil, threshold: nil, at: Date())
            try await notice.create(on: app.db)
            let noticeID = try notice.requireID()
            // An assignment of CS101 and a graded hand-in of the student's.
            let instructor = try #require(try await User.query(on: app.db).filter(\.$email == "instructor@demo.test").first())
            var input = AssignmentInput()
            input.title = "Matrix"
            input.kind = "classroom"
            input.classroomTests = #"{"tests": [{"name": "t", "run": "true", "points": 1}]}"#
            let assignment = try await Assignments.create(in: course, input, by: instructor, on: app.db)
            let assignmentID = try assignment.requireID()
            let submission = Submission()
            submission.$assignment.id = assignmentID
            submission.$user.id = try student.requireID()
            (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt) = (false, 1, .graded, Date())
            (submission.cpuMs, submission.wallMs, submission.charged, submission.runs, submission.score) = (0, 0, 0, 1, 1)
            try await submission.create(on: app.db)
            let submissionID = try submission.requireID()
            let allocationRequest = AllocationRequest()
            allocationRequest.$project.id = projectID
            allocationRequest.$requestedBy.id = try instructor.requireID()
            (allocationRequest.kind, allocationRequest.amount, allocationRequest.periodEnd) = (.initial, 1_000_000, Date().addingTimeInterval(86_400 * 90))
            (allocationRequest.justification, allocationRequest.meters, allocationRequest.status, allocationRequest.createdAt) = ("matrix", "compute", .pending, Date())
            try await allocationRequest.create(on: app.db)
            let requestID = try allocationRequest.requireID()
            // A job of the PI's in the project (cancelling it is one of the routes).
            let job = ResearchJob()
            job.$project.id = projectID
            job.$submittedBy.id = try instructor.requireID()
            (job.name, job.command, job.network, job.wallSeconds, job.memoryMB, job.payFrom) = ("matrix", "true", false, 10, 256, .allowance)
            (job.status, job.cancelRequested, job.cpuMs, job.wallMs, job.charged, job.createdAt) = (.queued, false, 0, 0, 0, Date())
            (job.cores, job.gpus, job.slurmLogOffset) = (1, 0, 0)
            try await job.create(on: app.db)
            let jobID = try job.requireID()
            // A Slurm cluster with a job queued on it (so removing it is refused, and every request finds it).
            let cluster = SlurmCluster()
            (cluster.name, cluster.partition, cluster.stagingFolder, cluster.completionLog, cluster.timeZone) = ("matrix-hpc", "campus", "/nonexistent", "/nonexistent/log", "UTC")
            (cluster.maxCores, cluster.maxMemoryMB, cluster.maxGPUs, cluster.maxMinutes, cluster.pollSeconds) = (4, 1024, 0, 60, 5)
            (cluster.createdAt, cluster.sandbox) = (Date(), "off")
            try await cluster.create(on: app.db)
            let clusterID = try cluster.requireID()
            try await ResearchProject.query(on: app.db).filter(\.$id == projectID).set(\.$slurmClusterID, to: clusterID).update()
            let clusterJob = ResearchJob()
            (clusterJob.$project.id, clusterJob.$submittedBy.id, clusterJob.slurmClusterID) = (projectID, try instructor.requireID(), clusterID)
            (clusterJob.name, clusterJob.command, clusterJob.network, clusterJob.wallSeconds, clusterJob.memoryMB, clusterJob.payFrom) = ("on hpc", "true", false, 60, 256, .allowance)
            (clusterJob.status, clusterJob.cancelRequested, clusterJob.cpuMs, clusterJob.wallMs, clusterJob.charged, clusterJob.createdAt) = (.queued, false, 0, 0, 0, Date())
            (clusterJob.cores, clusterJob.gpus, clusterJob.slurmLogOffset) = (1, 0, 0)
            try await clusterJob.create(on: app.db)
            // A terminal lab of CS101 open to its students (no set-up script: nothing to build).
            var labInput = LabInput()
            (labInput.name, labInput.kind, labInput.openTo) = ("Matrix lab", "terminal", "students")
            let labID = try await LabEnvironments.create(in: course, labInput, by: instructor, at: Date(), writes: app.writes).requireID()
            // A session of the student's in it, ended (its routes answer the student alone).
            let labSession = LabSession()
            (labSession.$lab.id, labSession.$user.id, labSession.status, labSession.host) = (labID, try student.requireID(), .stopped, "matrix")
            (labSession.heldFrom, labSession.heldSeconds, labSession.holds, labSession.charged) = (Date(), 0, 0, 0)
            (labSession.startedAt, labSession.endsAt, labSession.seenAt) = (Date(), Date(), Date())
            try await labSession.create(on: app.db)
            let sessionID = try labSession.requireID()
            // A single sign-on provider (as discovery would have stored it; nothing is fetched to start a sign-in).
            let provider = IdentityProvider()
            (provider.name, provider.issuer, provider.clientID, provider.secretEnv, provider.scopes) = ("Matrix SSO", "https://sso.matrix.test", "cc", "CAMPUSCLOUD_SSO_MATRIX", "openid email")
            (provider.authorizationEndpoint, provider.tokenEndpoint, provider.jwksURI) = ("https://sso.matrix.test/authorize", "https://sso.matrix.test/token", "https://sso.matrix.test/jwks")
            (provider.algorithms, provider.emailDomains, provider.passwordSignInOff, provider.linkByEmail) = ("RS256", "matrix.test", false, false)
            (provider.createAccounts, provider.enabled, provider.discoveredAt) = (false, true, Date())
            try await provider.create(on: app.db)
            let providerID = try provider.requireID()
            // An LMS registered for LTI.
            let registration = LTIRegistration()
            (registration.name, registration.issuer, registration.clientID) = ("Matrix LMS", "https://lms.matrix.test", "cc")
            (registration.authLoginURL, registration.tokenURL, registration.keySetURL) = ("https://lms.matrix.test/auth", "https://lms.matrix.test/token", "https://lms.matrix.test/jwks")
            (registration.$programme.id, registration.linkByEmail, registration.emailDomains) = (programmeID, false, "")
            try await registration.create(on: app.db)
            let registrationID = try registration.requireID()
            // A deep linking choice the instructor's launch from it opened in the course.
            let choice = LTIDeepLinkRequest()
            (choice.$registration.id, choice.$course.id, choice.$user.id, choice.deploymentID) = (registrationID, courseID, try instructor.requireID(), "d-1")
            (choice.returnURL, choice.acceptMultiple, choice.acceptLineItem, choice.expiresAt) = ("https://lms.matrix.test/return", true, true, Date().addingTimeInterval(3600))
            try await choice.create(on: app.db)
            let choiceID = try choice.requireID()
            // The course's students (there since it began) checked for risk: a flag to see and dismiss.
            try await CourseMember.query(on: app.db).filter(\.$course.$id == courseID).set(\.$joinedAt, to: course.startsOn).update()
            try await RiskFlags.check(course, now: Date(), writes: app.writes)
            let flagID = try #require(try await RiskFlags.list(courseID, dismissed: false, on: app.db).first).id
            // A finished similarity check of the assignment with one pair (the student's hand-in with itself).
            let check = CodeSimilarityCheck()
            (check.$assignment.id, check.$requestedBy.id, check.status, check.earlierAssignments) = (assignmentID, try instructor.requireID(), .done, "")
            (check.handIns, check.earlierHandIns, check.truncated, check.starterFiles, check.starterFingerprints) = (1, 0, 0, 0, 0)
            (check.commonFingerprints, check.pairsFound, check.histogram, check.clusters, check.createdAt) = (0, 1, "[]", "[]", Date())
            try await check.create(on: app.db)
            let checkID = try check.requireID()
            let pair = CodeSimilarityPair()
            (pair.$check.id, pair.rank, pair.aSubmissionID, pair.bSubmissionID, pair.similarity) = (checkID, 1, submissionID, submissionID, 1)
            (pair.shareOfA, pair.shareOfB, pair.sharedFingerprints, pair.bIsEarlier) = (1, 1, 8, false)
            try await pair.create(on: app.db)
            let pairID = try pair.requireID()
            var failures: [String] = []
            for route in app.routes.all {
                let key = Self.key(route), routePath = "/" + route.path.map(\.description).joined(separator: "/")
                guard let row = Self.matrix[key] else { continue }  // reported by everyRouteHasARow
                for who in Who.allCases {
                    // A fresh key of the student's for each request: revoking it is one of the routes.
                    let keyID = try await APIKeys.issue(to: student, name: "matrix", kind: .personal, origin: .password, on: app.db).key.requireID()
                    let aiKeyID = routePath.contains("/ai/keys/") ? try await AIKeys.issue(to: student, in: course, name: "matrix", origin: .password, on: app.db).id : keyID
                    // A fresh output recorded by the PI for each request: removing it is one of the routes.
                    let project = try #require(try await ResearchProject.find(projectID, on: app.db))
                    let outputID = routePath.contains("/outputs/") ? try await ProjectOutputs.record(ProjectOutputInput(kind: "dataset", title: "Matrix"), in: project,
                                                                                                 by: instructor, on: app.db).requireID() : UUID()
                    let path = "/" + route.path.map { component -> String in
                        switch component.description {
                        case ":courseID": return courseID.uuidString
                        case ":programmeID": return programmeID.uuidString
                        case ":projectID": return projectID.uuidString
                        case ":keyID": return (routePath.contains("/ai/keys/") ? aiKeyID : keyID).uuidString
                        case ":userID": return (routePath.contains("/students/") ? classmateID : otherID).uuidString
                        case ":holdID": return holdID.uuidString
                        case ":accountID": return accountID.uuidString
                        case ":noticeID": return noticeID.uuidString
                        case ":assignmentID": return assignmentID.uuidString
                        case ":submissionID": return submissionID.uuidString
                        case ":requestID": return requestID.uuidString
                        case ":jobID": return jobID.uuidString
                        case ":outputID": return outputID.uuidString
                        case ":labID": return labID.uuidString
                        case ":sessionID": return sessionID.uuidString
                        case ":providerID": return providerID.uuidString
                        case ":registrationID": return registrationID.uuidString
                        case ":choiceID": return choiceID.uuidString
                        case ":flagID": return flagID.uuidString
                        case ":checkID": return checkID.uuidString
                        case ":pairID": return pairID.uuidString
                        case ":clusterID": return clusterID.uuidString
                        default: return component.description
                        }
                    }.joined(separator: "/")
                    let outcome = try await Self.request(app, route.method, path, as: who)
                    if outcome != row[who] { failures.append("\(key) as \(who): expected \(row[who]!), got \(outcome)") }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    /// One request as `who` (signed in through the web for pages, with a bearer token for the API), classified.
    static func request(_ app: Application, _ method: HTTPMethod, _ path: String, as who: Who) async throws -> Outcome {
        let status: HTTPResponseStatus, location: String?
        let api = path.hasPrefix("/api/") || path.hasPrefix("/v1/")
        if api {
            var headers = HTTPHeaders()
            if let email = email(who) {
                let token = try await app.testing().sendRequest(.POST, "api/v1/auth/token") { req in
                    try req.content.encode(["email": email, "password": "campuscloud-demo"], as: .json)
                }.content.decode(AuthController.TokenDTO.self).token
                headers.add(name: .authorization, value: "Bearer \(token)")
            }
            headers.contentType = .json
            let response = try await app.testing().sendRequest(method, path, headers: headers, body: method == .GET ? nil : ByteBuffer(string: "{}"))
            (status, location) = (response.status, nil)
        } else {
            let browser = try Browser(app)
            if let email = email(who) { try await browser.signIn(email) } else { try await browser.get("/signin") }
            let response = method == .GET ? try await browser.get(path) : try await browser.post(path, [:])
            (status, location) = (response.status, response.headers.first(name: .location))
        }
        switch status {
        case .notFound: return .notFound
        case .unauthorized where api: return .unauthorized
        case .seeOther where location?.hasPrefix("/signin") == true: return .signIn
        default: return status.code >= 500 ? .serverError : .allowed
        }
    }
}
