// Research projects: the page and read API for the project's members and programme managers; for its PI (and
// managers, admins) the forms and API to change it and its members, its status and its allocation requests. The
// page also lists the project's jobs and outputs (ResearchJobController handles those forms).
import Fluent
import Foundation
import Ledger
import Vapor

enum ProjectController {
    @Sendable static func page(req: Request) async throws -> View {
        let (project, user, access) = try await req.project(for: Policy.Action.viewProject)
        return try await render(req, project, user, access, PageContext(req))
    }

    @Sendable static func updateFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        return try await req.formAction(back: .project(.id(try project.requireID())), render: { try await render(req, project, user, access, $0) }) {
            try await ResearchProjects.update(project, try req.input(ProjectInput.self), by: user, access: access, app: req.application, on: req.db)
            return "Saved the project's details."
        }
    }

    @Sendable static func setMemberFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        return try await req.formAction(back: .project(.id(try project.requireID())), render: { try await render(req, project, user, access, $0) }) {
            let (member, _) = try await People.setMember(ProjectMember.self, place: project.requireID(), try req.input(MembershipInput.self),
                                                         allowNewPeople: false, writes: req.writes)
            return "\(member.name) is now \(member.role) of the project."
        }
    }

    @Sendable static func removeMemberFromPage(req: Request) async throws -> Response {
        let (project, _, _) = try await req.project(for: Policy.Action.manageProject)
        try await People.removeMember(ProjectMember.self, place: project.requireID(), userID: try req.userIDParameter(), on: req.db)
        req.session.data[PageContext.noticeKey] = "Removed them from the project."
        return req.redirect(to: .project(.id(try project.requireID())))
    }

    static func render(_ req: Request, _ project: ResearchProject, _ user: User, _ access: ProjectAccess, _ page: PageContext) async throws -> View {
        let canManage = Policy.allows(user, .manageProject(access)), canDecide = Policy.allows(user, .manageProgramme(access.programmeRole))
        let next = ProjectStatus(rawValue: project.status).map { from in
            (ProjectLifecycle.transitions[from] ?? [:]).filter { $0.value == .pi ? canManage : canDecide }.keys.map(\.rawValue).sorted()
        } ?? []
        let requests = try await ResearchProjects.requests(project, on: req.db).map { r in
            ProjectPage.Request(decide: SitePath.allocationDecision(.id(r.id)).url, kind: r.kind, amount: r.amount.description, periodEnd: r.periodEnd.day, justification: r.justification,
                                meters: r.meters.joined(separator: ", "), status: r.status, requestedBy: r.requestedBy,
                                decision: r.decidedBy.map { "\($0)" + (r.approvedAmount.map { ": \($0) approved" } ?? "") + (r.decisionComment.map { " — \($0)" } ?? "") } ?? "",
                                pending: r.status == "pending")
        }
        let projectID = try project.requireID(), dto = try await ProjectViews.project(project, on: req.db)
        let jobsPage = max(1, (try? req.query.get(Int.self, at: "jobs")) ?? 1), perPage = 25
        let jobs = try await ResearchJob.query(on: req.db).filter(\.$project.$id == projectID).sort(\.$createdAt, .descending)
            .range(((jobsPage - 1) * perPage)..<(jobsPage * perPage + 1)).all()
        let outputs = try await ProjectOutputs.list([projectID], on: req.db).map { output in
            ProjectPage.Output(remove: SitePath.removeProjectOutput(.id(projectID), output: .id(output.id)).url, kind: output.kind, title: output.title, venue: output.venue, year: output.year.map(String.init) ?? "",
                               doi: output.doi, url: output.url,
                               canRemove: Policy.allows(user, .removeProjectOutput(access, recordedBy: output.recordedByID)))
        }
        var compute = ProjectPage.Compute(cluster: nil, maxWallSeconds: ResearchJobs.maxWallSeconds, maxMemoryMB: ResearchJobs.maxMemoryMB,
                                          maxCores: 1, maxGPUs: 0, choices: [])
        let clusters = try await SlurmCluster.query(on: req.db).sort(\.$name).all()
        if let chosen = clusters.first(where: { $0.id == project.slurmClusterID }) {
            compute = .init(cluster: chosen.name, maxWallSeconds: chosen.maxMinutes * 60, maxMemoryMB: chosen.maxMemoryMB, maxCores: chosen.maxCores,
                            maxGPUs: chosen.maxGPUs, choices: [], network: chosen.sandboxMode != .off)
        }
        if canDecide { compute.choices = clusters.map { .init(id: $0.id!.uuidString, name: $0.name, chosen: $0.id == project.slurmClusterID) } }
        return try await req.view.render("project", ProjectPage(
            title: project.title, page: page, project: dto, links: ProjectLinks(projectID),
            members: dto.members.map { .init(name: $0.name, role: $0.role, remove: SitePath.removeProjectMember(.id(projectID), user: .id($0.userID)).url) },
            canManage: canManage,
            form: ProjectInput(title: project.title, summary: project.summary, status: project.status, startsOn: project.startsOn?.day ?? "",
                               endsOn: project.endsOn?.day ?? "", tags: project.tags),
            history: try await ResearchProjects.history(project, on: req.db), nextStatuses: next, requests: requests, canDecide: canDecide,
            compute: compute,
            jobs: try await ResearchJobs.views(Array(jobs.prefix(perPage)), on: req.db).map {
                .init(link: SitePath.job(.id($0.id)).url, name: $0.name, submittedBy: $0.submittedBy, status: $0.status, charged: $0.charged.description, createdAt: $0.createdAt)
            },
            newerJobs: jobsPage > 1 ? SitePath.project(.id(projectID)).url + "?jobs=\(jobsPage - 1)#jobs" : nil,
            olderJobs: jobs.count > perPage ? SitePath.project(.id(projectID)).url + "?jobs=\(jobsPage + 1)#jobs" : nil,
            canRunJobs: Policy.allows(user, .runProjectJob(access)) && project.status == ProjectStatus.active.rawValue,
            canChargeProject: Policy.allows(user, .chargeAllocation(nil, access)),
            outputs: outputs, canRecordOutputs: Policy.allows(user, .recordProjectOutput(access))))
    }

    // MARK: Lifecycle and allocation requests (pages)

    @Sendable static func changeStatusFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.viewProject)
        return try await req.formAction(back: .project(.id(try project.requireID())), render: { try await render(req, project, user, access, $0) }) {
            let input = try req.content.decode(StatusChangeInput.self)
            _ = try await ResearchProjects.changeStatus(project, input, by: user, access: access, app: req.application, on: req.db)
            return "The project is now \(project.status)."
        }
    }

    struct JobNetworkForm: Content { var allowed: String? }

    @Sendable static func setJobNetworkFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        return try await req.formAction(back: .project(.id(try project.requireID())), render: { try await render(req, project, user, access, $0) }) {
            let allowed = try req.content.decode(JobNetworkForm.self).allowed == "true"
            try await ResearchProjects.setJobNetwork(project, allowed: allowed, by: user, access: access, app: req.application, on: req.db)
            return allowed ? "The project's jobs may now use the network." : "The project's jobs now run without network."
        }
    }

    struct RequestForm: Content {
        var amount: String?
        var periodEnd: String?
        var justification: String?
        var compute: String?
        var ai: String?
    }

    @Sendable static func requestFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        return try await req.formAction(back: .project(.id(try project.requireID())), render: { try await render(req, project, user, access, $0) }) {
            let form = try req.content.decode(RequestForm.self)
            guard let amount = form.amount.flatMap({ Credits.parse($0.trimmingCharacters(in: .whitespaces)) }) else {
                throw InputRejection("amount is a number of credits, e.g. 250.")
            }
            let input = AllocationRequestInput(amount: amount, periodEnd: form.periodEnd, justification: form.justification,
                                               meters: (form.compute != nil ? ["compute"] : []) + (form.ai != nil ? ["ai"] : []))
            let request = try await ResearchProjects.request(project, input, by: user, on: req.db)
            return "Asked for \(Credits(micro: request.amount)) credits; the programme's managers decide."
        }
    }

    struct DecisionForm: Content {
        var decision: String?
        var amount: String?
        var comment: String?
    }

    @Sendable static func decideFromPage(req: Request) async throws -> Response {
        let found = try await req.allocationRequestToDecide()
        let request = found.request, project = found.project, user = found.user, access = found.access
        return try await req.formAction(back: .project(.id(try project.requireID())), render: { try await render(req, project, user, access, $0) }) {
            let form = try req.content.decode(DecisionForm.self)
            var amount: Credits?
            if let text = form.amount?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                guard let parsed = Credits.parse(text) else { throw InputRejection("amount is a number of credits, e.g. 120.") }
                amount = parsed
            }
            let decided = try await ResearchProjects.decide(request, AllocationDecisionInput(decision: form.decision, amount: amount, comment: form.comment),
                                                            by: user, app: req.application, on: req.db)
            return "Request \(decided.status.rawValue)."
        }
    }

    // MARK: API

    @Sendable static func show(req: Request) async throws -> ProjectDTO {
        try await ProjectViews.project(try await req.project(for: Policy.Action.viewProject).0, on: req.db)
    }

    @Sendable static func update(req: Request) async throws -> ProjectDTO {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        try await ResearchProjects.update(project, try req.input(ProjectInput.self), by: user, access: access, app: req.application, on: req.db)
        return try await ProjectViews.project(project, on: req.db)
    }

    @Sendable static func setMember(req: Request) async throws -> ProjectDTO.Member {
        let (project, _, _) = try await req.project(for: Policy.Action.manageProject)
        let (member, _) = try await People.setMember(ProjectMember.self, place: project.requireID(), try req.input(MembershipInput.self),
                                                     allowNewPeople: false, writes: req.writes)
        return ProjectDTO.Member(userID: member.userID, name: member.name, role: member.role)
    }

    @Sendable static func removeMember(req: Request) async throws -> HTTPStatus {
        let (project, _, _) = try await req.project(for: Policy.Action.manageProject)
        try await People.removeMember(ProjectMember.self, place: project.requireID(), userID: try req.userIDParameter(), on: req.db)
        return .noContent
    }
}
