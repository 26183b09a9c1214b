// What the templates of research project and job pages are given (their view-models; links come from SitePath).
import Foundation
import Vapor

/// A project's pages and forms.
struct ProjectLinks: Encodable {
    var page, credits, status, requests, jobs, jobNetwork, compute, outputs, members: String

    init(_ id: UUID) {
        (page, credits) = (SitePath.project(.id(id)).url, SitePath.projectCredits(.id(id)).url)
        (status, requests, jobs) = (SitePath.projectStatus(.id(id)).url, SitePath.allocationRequests(.id(id)).url, SitePath.projectJobs(.id(id)).url)
        (jobNetwork, outputs, members) = (SitePath.projectJobNetwork(.id(id)).url, SitePath.projectOutputs(.id(id)).url, SitePath.projectMembers(.id(id)).url)
        compute = SitePath.projectCompute(.id(id)).url
    }
}

struct ProjectPage: Encodable {
    struct Member: Encodable { var name: String; var role: String; var remove: String }
    struct Job: Encodable { var link: String; var name: String; var submittedBy: String; var status: String; var charged: String; var createdAt: Date }
    var title: String
    var page: PageContext
    var project: ProjectDTO
    var links: ProjectLinks
    var members: [Member]
    var canManage: Bool
    var form: ProjectInput
    var roles = ProjectRole.allCases.map(\.rawValue)
    var statuses = ProjectStatus.allCases.map(\.rawValue)
    var history: [StatusChangeDTO] = []
    /// The status changes this person may make now.
    var nextStatuses: [String] = []
    struct Request: Encodable {
        var decide: String; var kind: String; var amount: String; var periodEnd: String; var justification: String; var meters: String
        var status: String; var requestedBy: String; var decision: String; var pending: Bool
    }
    var requests: [Request] = []
    var canDecide = false
    /// Where its jobs run: the platform's workers or a Slurm cluster (whose limits bound the job form), and the
    /// clusters a programme manager may choose from.
    struct Compute: Encodable {
        var cluster: String?
        var maxWallSeconds: Int, maxMemoryMB: Int, maxCores: Int, maxGPUs: Int
        struct Choice: Encodable { var id: String; var name: String; var chosen: Bool }
        var choices: [Choice]
        /// Whether a job there can be given the network (on a cluster, only inside the platform's sandbox).
        var network = true
    }
    var compute = Compute(cluster: nil, maxWallSeconds: ResearchJobs.maxWallSeconds, maxMemoryMB: ResearchJobs.maxMemoryMB, maxCores: 1, maxGPUs: 0, choices: [])
    var jobs: [Job] = []
    /// Newer and older jobs are on other pages (?jobs=2, …) and in the API.
    var newerJobs: String?
    var olderJobs: String?
    var canRunJobs = false
    var canChargeProject = false
    struct Output: Encodable { var remove: String; var kind: String; var title: String; var venue: String; var year: String; var doi: String?; var url: String?; var canRemove: Bool }
    var outputs: [Output] = []
    var canRecordOutputs = false
    var outputKinds = ProjectOutputKind.allCases.map(\.rawValue)
}

struct JobPage: Encodable {
    var title: String
    var page: PageContext
    var job: ResearchJobDTO
    var project: ProjectDTO
    var projectJobs: String, cancel: String, outputsZip: String
    var canCancel: Bool
    var log: String
    var running: Bool
    /// How the sandbox run ended, e.g. "ok, exit code 1".
    var ending: String
}
