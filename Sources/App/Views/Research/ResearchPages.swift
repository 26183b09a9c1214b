// What the templates of research project and job pages are given (their view-models; links come from SitePath).
import Foundation
import Vapor

struct ProjectPage: Encodable {
    var title: String
    var page: PageContext
    var project: ProjectDTO
    var canManage: Bool
    var form: ProjectInput
    var roles = ProjectRole.allCases.map(\.rawValue)
    var statuses = ProjectStatus.allCases.map(\.rawValue)
    var history: [StatusChangeDTO] = []
    /// The status changes this person may make now.
    var nextStatuses: [String] = []
    struct Request: Encodable {
        var id: UUID; var kind: String; var amount: String; var periodEnd: String; var justification: String; var meters: String
        var status: String; var requestedBy: String; var decision: String; var pending: Bool
    }
    var requests: [Request] = []
    var canDecide = false
    var jobs: [ResearchJobDTO] = []
    /// Older jobs are on the next page (?jobs=2, …) and through the API.
    var jobsPage = 1
    var moreJobs = false
    var canRunJobs = false
    var canChargeProject = false
    var maxWallSeconds = ResearchJobs.maxWallSeconds
    struct Output: Encodable { var id: UUID; var kind: String; var title: String; var venue: String; var year: String; var doi: String?; var url: String?; var canRemove: Bool }
    var outputs: [Output] = []
    var canRecordOutputs = false
    var outputKinds = ProjectOutputKind.allCases.map(\.rawValue)
}

struct JobPage: Encodable {
    var title: String
    var page: PageContext
    var job: ResearchJobDTO
    var project: ProjectDTO
    var canCancel: Bool
    var log: String
    var running: Bool
    /// How the sandbox run ended, e.g. "ok, exit code 1".
    var ending: String
}
