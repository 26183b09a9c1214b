// The administrators' LTI page.
import Foundation

struct AdminLTIPage: Encodable {
    var title = "LTI (LMS)"
    var page: PageContext
    struct Row: Encodable {
        var registration: LTIRegistrationDTO
        /// Where its form adding a deployment posts, and its form switching it on or off and removing deployments.
        var addDeployment: String
        var change: String
    }
    var rows: [Row]
    struct Choice: Encodable { var id: UUID; var name: String }
    var programmes: [Choice]
    var loginURL: String
    var launchURL: String
    var keySetURL: String
    var configurationURL: String
    var keys: [LTIToolKeys.Published]
    var addRegistration = SitePath.adminLTIRegistrations.url
    var rotateKey = SitePath.adminLTIKeys.url
    var addInvite = SitePath.adminLTIInvites.url

    init(page: PageContext, registrations: [LTIRegistrationDTO], programmes: [Choice], config: AppConfig, keys: [LTIToolKeys.Published]) {
        self.page = page
        rows = registrations.map {
            Row(registration: $0, addDeployment: SitePath.adminLTIDeployments(.id($0.id)).url, change: SitePath.adminLTIRegistration(.id($0.id)).url)
        }
        self.programmes = programmes
        (loginURL, launchURL) = (config.absolute(SitePath.ltiLogin.url), config.absolute(SitePath.ltiLaunch.url))
        (keySetURL, configurationURL) = (config.absolute(SitePath.ltiKeySet.url), config.absolute(SitePath.ltiConfiguration.url))
        self.keys = keys
    }
}

/// The choice a deep linking launch opens: the course's assignments to link, or a new one.
struct LTIDeepLinkPage: Encodable {
    var title = "Add assignments to the LMS course"
    var page: PageContext
    var courseTitle: String
    var lmsName: String
    var multiple: Bool
    var lineItems: Bool
    var canCreate: Bool
    struct Row: Encodable {
        var id: UUID
        var title: String
        var points: String?
        var due: String?
    }
    var assignments: [Row]
    var action: String
}

/// The answer on its way: the browser posts the signed response to the LMS.
struct LTIDeepLinkReturnPage: Encodable {
    var title = "Back to the LMS"
    var page: PageContext
    var returnURL: String
    var token: String
    var lmsName: String
}

/// An assignment's scores in the LMS: each student's sync state (staff).
struct LMSScoresPage: Encodable {
    var title: String
    var page: PageContext
    var assignmentLink: String
    var resend: String
    struct Row: Encodable {
        var name: String
        var status: String
        var score: String
        var progress: String
        var sentAt: String
        var error: String?
    }
    var rows: [Row]
    var pending: Int
    var failed: Int
    var linked: Bool
}

/// The end of a dynamic registration, in the LMS's dialog.
struct LTIRegisteredPage: Encodable {
    var title = "Registering CampusCloud"
    var registered: String?
    var problem: String?
}

/// The steps of a launch inside an LMS frame that may keep no cookies (`lti-frame`, a page without a session): the
/// login (the state also put in the LMS's storage when it offers one, or the launch continued in a new window when
/// neither works), the launch's check of that storage, and the new window's link. The script reads the data-
/// attributes.
struct LTIFramePage: Encodable {
    var title = "Opening CampusCloud"
    var login = false, checkStorage = false, openWindow = false
    /// Login: where the browser goes next (also the link without script), and the login again as a top-level window.
    var authorization: String?
    var newWindow: String?
    var crossSiteCookies = false
    /// The LMS's storage (LTI Client Side postMessages): its frame, its origin, the key the state is kept under.
    var storageTarget: String?
    var storageOrigin: String?
    var storageKey: String?
    var state: String?
    /// The launch's check of the storage: the form posted back once the state is found there.
    var launch: String?
    var idToken: String?
    /// The new window: the ticket posted to `window`.
    var ticket: String?
    var window: String?
}
