// What the lab pages' templates are given (their view-models; links come from SitePath).
import Foundation
import Labs

struct LabLinks: Encodable {
    var page, setup, course: String

    init(lab: UUID, course: UUID) {
        (page, setup, self.course) = (SitePath.lab(.id(lab)).url, SitePath.labSetup(.id(lab)).url, SitePath.course(.id(course)).url(at: "labs"))
    }
}

struct LabPage: Encodable {
    var title: String
    var page: PageContext
    var lab: LabDTO
    var course: CourseDTO
    var links: LabLinks
    /// Course staff: the set-up script and its log.
    var staff: Bool
    var canManage: Bool
    /// The set-up is waiting or running (the page says to reload).
    var pending: Bool
    var kinds = LabKind.allCases.map(\.rawValue)
    var audiences = LabAudience.allCases.map(\.rawValue)
}

/// A lab environment in the course page's list.
struct LabRow: Encodable {
    var link: String
    var name: String
    var kind: String
    var openTo: String
    var setupStatus: String
}
