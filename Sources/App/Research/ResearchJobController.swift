// Research projects' batch jobs and outputs, over the JSON API and the pages: decode → authorise → ResearchJobs /
// ProjectOutputs. A member of one project never sees another project's jobs or files: every lookup goes through
// the project's access (404 otherwise).
import Fluent
import Foundation
import Ledger
import Vapor

extension MultipartForm {
    /// A research job's fields (text parts) besides its files.
    var researchJob: ResearchJobInput {
        ResearchJobInput(name: text("name"), command: text("command"), wallSeconds: text("wallSeconds"), memoryMB: text("memoryMB"),
                         network: text("network"), payFrom: text("payFrom"), cores: text("cores"), gpus: text("gpus"))
    }
}

enum ResearchJobController {
    // MARK: API

    /// POST /api/v1/projects/{id}/jobs, multipart: command, optional name, wallSeconds, memoryMB, network, payFrom,
    /// and input files (`files`, or one .zip).
    @Sendable static func submit(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.runProjectJob)
        guard let form = try MultipartForm(req) else {
            throw Abort(.unsupportedMediaType, reason: "Send the job as multipart/form-data: command, and input files in a field named files (or one .zip).")
        }
        let job = try await ResearchJobs.submit(form.researchJob, files: try ResearchJobs.files(from: form.handIn), to: project, by: user, access: access,
                                                app: req.application, db: req.db)
        return try await ResearchJobs.views([job], on: req.db)[0].encodeResponse(status: .created, for: req)
    }

    /// GET /api/v1/projects/{id}/jobs?page=&per=: newest first.
    @Sendable static func list(req: Request) async throws -> Page<ResearchJobDTO> {
        let (project, _, _) = try await req.project(for: Policy.Action.viewProject)
        let page = try await ResearchJob.query(on: req.db).filter(\.$project.$id == project.requireID()).sort(\.$createdAt, .descending).paginate(for: req)
        return Page(items: try await ResearchJobs.views(page.items, on: req.db), metadata: page.metadata)
    }

    @Sendable static func show(req: Request) async throws -> ResearchJobDTO {
        try await ResearchJobs.views([try await req.researchJob().job], on: req.db)[0]
    }

    /// GET /api/v1/jobs/{id}/logs: standard output and error as text (empty until it ends).
    @Sendable static func logs(req: Request) async throws -> Response {
        let job = try await req.researchJob().job
        let response = Response(status: .ok, body: .init(string: job.log ?? ""))
        response.headers.contentType = .plainText
        return response
    }

    /// GET …/jobs/{id}/outputs.zip: what the job left in outputs/.
    @Sendable static func outputs(req: Request) async throws -> Response {
        let job = try await req.researchJob().job
        return .download(try await ResearchJobs.outputsZip(job, on: req.db), type: .zip, filename: String(job.name.prefix(60)) + "-outputs.zip")
    }

    @Sendable static func cancel(req: Request) async throws -> ResearchJobDTO {
        let found = try await req.researchJobToCancel()
        let job = found.job, user = found.user
        return try await ResearchJobs.views([try await ResearchJobs.cancel(job, by: user, app: req.application, db: req.db)], on: req.db)[0]
    }

    @Sendable static func listOutputs(req: Request) async throws -> [ProjectOutputDTO] {
        let (project, _, _) = try await req.project(for: Policy.Action.viewProject)
        return try await ProjectOutputs.list([project.requireID()], on: req.db)
    }

    @Sendable static func recordOutput(req: Request) async throws -> Response {
        let (project, user, _) = try await req.project(for: Policy.Action.recordProjectOutput)
        let output = try await ProjectOutputs.record(try req.input(ProjectOutputInput.self), in: project, by: user, on: req.db)
        try await output.$recordedBy.load(on: req.db)
        return try await ProjectOutputs.dto(output).encodeResponse(status: .created, for: req)
    }

    @Sendable static func removeOutput(req: Request) async throws -> HTTPStatus {
        try await req.projectOutputToRemove().0.delete(on: req.db)
        return .noContent
    }

    @Sendable static func clusters(req: Request) async throws -> [SlurmClusterDTO] {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await SlurmCluster.query(on: req.db).sort(\.$name).all().map(SlurmClusters.dto)
    }

    @Sendable static func addCluster(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let cluster = try await SlurmClusters.add(try req.input(SlurmClusterInput.self), on: req.db, at: req.application.clock.now())
        return try await SlurmClusters.dto(cluster).encodeResponse(status: .created, for: req)
    }

    @Sendable static func changeCluster(req: Request) async throws -> SlurmClusterDTO {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let cluster = try await SlurmClusters.change(try await req.slurmCluster(), to: try req.input(SlurmClusterInput.self), on: req.db,
                                                     at: req.application.clock.now())
        return try SlurmClusters.dto(cluster)
    }

    @Sendable static func removeCluster(req: Request) async throws -> HTTPStatus {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        try await SlurmClusters.remove(try await req.slurmCluster(), on: req.db)
        return .noContent
    }

    /// PUT /api/v1/projects/{id}/compute: those who see the project get 403 unless they manage its programme.
    @Sendable static func setCompute(req: Request) async throws -> ProjectDTO {
        let (project, user, access) = try await req.project(for: Policy.Action.viewProject)
        guard Policy.allows(user, .manageProgramme(access.programmeRole)) else {
            throw Abort(.forbidden, reason: "Only the programme's managers choose where a project's jobs run.")
        }
        try await SlurmClusters.setCompute(project, cluster: try req.input(ProjectComputeInput.self).slurmCluster, on: req.db)
        return try await ProjectViews.project(project, on: req.db)
    }

    // MARK: Pages

    @Sendable static func clustersPage(req: Request) async throws -> View {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await renderClusters(req, PageContext(req), form: SlurmClusterForm())
    }

    private static func renderClusters(_ req: Request, _ page: PageContext, form: SlurmClusterForm, editing: UUID? = nil) async throws -> View {
        let clusters = try await SlurmCluster.query(on: req.db).sort(\.$name).all().map(SlurmClusters.dto)
        return try await req.view.render("admin-slurm", AdminSlurmPage(page: page, clusters: clusters, sent: form, editing: editing))
    }

    @Sendable static func changeClusterFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let cluster = try await req.slurmCluster()
        let form = (try? req.content.decode(SlurmClusterForm.self)) ?? SlurmClusterForm()
        return try await req.formAction(back: .adminSlurm, render: { try await renderClusters(req, $0, form: form, editing: cluster.id) }) {
            let changed = try await SlurmClusters.change(cluster, to: try req.content.decode(SlurmClusterForm.self).input(), on: req.db,
                                                         at: req.application.clock.now())
            return "Cluster \(changed.name) changed; jobs submitted from now on get its new settings."
        }
    }

    @Sendable static func removeClusterFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let cluster = try await req.slurmCluster()
        return try await req.formAction(back: .adminSlurm, render: { try await renderClusters(req, $0, form: SlurmClusterForm()) }) {
            try await SlurmClusters.remove(cluster, on: req.db)
            return "Cluster \(cluster.name) removed."
        }
    }

    @Sendable static func addClusterFromPage(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let form = (try? req.content.decode(SlurmClusterForm.self)) ?? SlurmClusterForm()
        return try await req.formAction(back: .adminSlurm, render: { try await renderClusters(req, $0, form: form) }) {
            let cluster = try await SlurmClusters.add(try req.content.decode(SlurmClusterForm.self).input(), on: req.db, at: req.application.clock.now())
            return "Cluster \(cluster.name) added; a programme manager can now send a project's jobs to it from the project's page."
        }
    }

    /// POST /projects/{id}/compute from the project page: a cluster's id, or "platform".
    @Sendable static func setComputeFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.viewProject)
        try Policy.require(user, can: .manageProgramme(access.programmeRole))
        struct Form: Content { var slurmCluster: String? }
        return try await req.formAction(back: .project(.id(try project.requireID())), at: "jobs",
                                        render: { try await ProjectController.render(req, project, user, access, $0) }) {
            let chosen = try req.content.decode(Form.self).slurmCluster.flatMap { $0 == "platform" || $0.isEmpty ? nil : $0 }
            guard let chosen else {
                try await SlurmClusters.setCompute(project, cluster: nil, on: req.db)
                return "The project's jobs now run on the platform's own workers."
            }
            guard let id = UUID(uuidString: chosen) else { throw InputRejection("Choose a cluster from the list.") }
            try await SlurmClusters.setCompute(project, cluster: id, on: req.db)
            return "The project's new jobs now go to the Slurm cluster \(try await SlurmCluster.find(id, on: req.db)?.name ?? "")."
        }
    }

    @Sendable static func page(req: Request) async throws -> View {
        let found = try await req.researchJob()
        let job = found.job, project = found.project, user = found.user, access = found.access
        return try await render(req, job, project, user, access, PageContext(req))
    }

    private static func render(_ req: Request, _ job: ResearchJob, _ project: ResearchProject, _ user: User, _ access: ProjectAccess,
                               _ page: PageContext) async throws -> View {
        let dto = try await ResearchJobs.views([job], on: req.db)[0]
        return try await req.view.render("job", JobPage(
            title: "Job: \(job.name)", page: page, job: dto, project: try await ProjectViews.project(project, on: req.db),
            projectJobs: SitePath.project(.id(dto.projectID)).url(at: "jobs"), cancel: SitePath.cancelJob(.id(dto.id)).url, outputsZip: SitePath.jobOutputs(.id(dto.id)).url,
            canCancel: !job.status.isFinished && Policy.allows(user, .cancelProjectJob(access, submittedBy: job.$submittedBy.id)),
            log: job.log ?? "", running: !job.status.isFinished,
            ending: (job.sandboxStatus ?? "") + (job.exitCode.map { ", exit code \($0)" } ?? "")))
    }

    /// POST /projects/{id}/jobs from the project page (multipart); on success, the job's page.
    @Sendable static func submitFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.runProjectJob)
        do {
            guard let form = try MultipartForm(req) else { throw InputRejection("Give the command and choose any input files.") }
            let job = try await ResearchJobs.submit(form.researchJob, files: try ResearchJobs.files(from: form.handIn), to: project, by: user,
                                                    access: access, app: req.application, db: req.db)
            req.session.data[PageContext.noticeKey] = "The job is queued. This page shows its log and outputs when it ends."
            return req.redirect(to: .job(.id(try job.requireID())))
        } catch let rejection as InputRejection {
            return try await ProjectController.render(req, project, user, access, PageContext(req, problems: rejection.problems))
                .encodeResponse(status: .unprocessableEntity, for: req)
        } catch let refusal as Refusal {
            return try await ProjectController.render(req, project, user, access, PageContext(req, problems: [refusal.reason]))
                .encodeResponse(status: .conflict, for: req)
        }
    }

    @Sendable static func cancelFromPage(req: Request) async throws -> Response {
        let found = try await req.researchJobToCancel()
        let job = found.job, project = found.project, user = found.user, access = found.access
        return try await req.formAction(back: .job(.id(try job.requireID())), render: { try await render(req, job, project, user, access, $0) }) {
            let cancelled = try await ResearchJobs.cancel(job, by: user, app: req.application, db: req.db)
            return cancelled.status == .cancelled ? "Cancelled; its credits were freed." : "Asked to stop; it stops within a few seconds and only what it used is charged."
        }
    }

    @Sendable static func recordOutputFromPage(req: Request) async throws -> Response {
        let (project, user, access) = try await req.project(for: Policy.Action.recordProjectOutput)
        return try await req.formAction(back: .project(.id(try project.requireID())), at: "outputs",
                                        render: { try await ProjectController.render(req, project, user, access, $0) }) {
            let output = try await ProjectOutputs.record(try req.content.decode(ProjectOutputInput.self), in: project, by: user, on: req.db)
            return "Recorded the \(output.kind.rawValue) “\(output.title)”."
        }
    }

    @Sendable static func removeOutputFromPage(req: Request) async throws -> Response {
        let (output, project) = try await req.projectOutputToRemove()
        try await output.delete(on: req.db)
        req.session.data[PageContext.noticeKey] = "Removed “\(output.title)”."
        return req.redirect(to: .project(.id(try project.requireID())), at: "outputs")
    }
}

extension Request {
    /// The cluster named by the path's `clusterID` (404 when there is none).
    func slurmCluster() async throws -> SlurmCluster {
        guard let id = parameters.get("clusterID", as: UUID.self), let cluster = try await SlurmCluster.find(id, on: db) else {
            throw Abort(.notFound, reason: "No such cluster.")
        }
        return cluster
    }
}
