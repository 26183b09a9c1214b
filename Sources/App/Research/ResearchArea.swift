// Research projects: members, lifecycle (audited), allocation requests with review, batch jobs, outputs.
import Vapor

enum ResearchArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.project(.key), use: ProjectController.page)
        pages.signedIn.post(.project(.key), use: ProjectController.updateFromPage)
        pages.signedIn.post(.projectMembers(.key), use: ProjectController.setMemberFromPage)
        pages.signedIn.post(.removeProjectMember(.key, user: .key), use: ProjectController.removeMemberFromPage)
        pages.signedIn.post(.projectStatus(.key), use: ProjectController.changeStatusFromPage)
        pages.signedIn.post(.projectJobNetwork(.key), use: ProjectController.setJobNetworkFromPage)
        pages.signedIn.post(.projectCompute(.key), use: ResearchJobController.setComputeFromPage)
        pages.signedIn.get(.adminSlurm, use: ResearchJobController.clustersPage)
        pages.signedIn.post(.adminSlurmClusters, use: ResearchJobController.addClusterFromPage)
        pages.signedIn.post(.adminSlurmCluster(.key), use: ResearchJobController.changeClusterFromPage)
        pages.signedIn.post(.removeAdminSlurmCluster(.key), use: ResearchJobController.removeClusterFromPage)
        pages.signedIn.post(.allocationRequests(.key), use: ProjectController.requestFromPage)
        pages.signedIn.post(.allocationDecision(.key), use: ProjectController.decideFromPage)
        pages.signedIn.on(.POST, .projectJobs(.key), body: .collect(maxSize: ResearchJobs.maxUploadBody), use: ResearchJobController.submitFromPage)
        pages.signedIn.get(.job(.key), use: ResearchJobController.page)
        pages.signedIn.post(.cancelJob(.key), use: ResearchJobController.cancelFromPage)
        pages.signedIn.get(.jobOutputs(.key), use: ResearchJobController.outputs)
        pages.signedIn.post(.projectOutputs(.key), use: ResearchJobController.recordOutputFromPage)
        pages.signedIn.post(.removeProjectOutput(.key, output: .key), use: ResearchJobController.removeOutputFromPage)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "projects/:projectID", id: "getProject", summary: "A research project and its members.", tag: "projects",
               response: .one(ProjectDTO.self), errors: [404: "No such project, or not yours to see."], use: ProjectController.show)
        api.on(.PATCH, "projects/:projectID", id: "changeProject", summary: "Change the fields given (PI, managers, administrators).",
               tag: "projects", request: .input(ProjectInput.self, required: []),
               response: .one(ProjectDTO.self),
               errors: [403: "Only the programme's managers may make that change.", 404: "No such project, or not yours to manage.",
                        409: "The lifecycle does not go from the project's status to that one."], use: ProjectController.update)
        api.on(.PUT, "projects/:projectID/members", id: "setProjectMember", summary: "Add an existing person as pi, member or mentor, or change it.",
               tag: "projects", request: .input(MembershipInput.self, schema: MembershipInput.schema(roles: ProjectRole.self)), response: .one(ProjectDTO.Member.self),
               errors: [404: "No such project, or not yours to manage.", 409: "Nobody has that email."], use: ProjectController.setMember)
        api.on(.DELETE, "projects/:projectID/members/:userID", id: "removeProjectMember", summary: "Remove a person from the project.",
               tag: "projects", status: 204, errors: [404: "No such project or person, or not yours to manage."], use: ProjectController.removeMember)
        api.on(.POST, "projects/:projectID/status", id: "changeProjectStatus",
               summary: "Move the project along its lifecycle: the PI submits, withdraws and completes; programme managers approve (active), reject (with a comment) and archive.",
               tag: "projects", request: .input(StatusChangeInput.self),
               response: .one(ProjectDTO.self), errors: [403: "Only the programme's managers may make that change.", 404: "No such project, or not yours.",
                                                   409: "The lifecycle does not go from the project's status to that one."],
               use: ResearchController.changeStatus)
        api.on(.PUT, "projects/:projectID/job-network", id: "setProjectJobNetwork",
               summary: "Allow or stop (outbound) network for the project's jobs (its PI, programme managers); kept in the project's history.",
               tag: "projects", request: .input(ResearchController.JobNetworkInput.self), response: .one(ProjectDTO.self),
               errors: [404: "No such project, or not yours to manage."], use: ResearchController.setJobNetwork)
        api.on(.GET, "projects/:projectID/history", id: "getProjectHistory", summary: "Every status change: from, to, who, when, why.", tag: "projects",
               response: .list(StatusChangeDTO.self), errors: [404: "No such project, or not yours."], use: ResearchController.history)
        api.on(.GET, "projects/:projectID/allocation-requests", id: "listAllocationRequests", summary: "The project's allocation requests and their decisions (members see them).",
               tag: "projects", response: .list(AllocationRequestDTO.self), errors: [404: "No such project, or not yours."], use: ResearchController.requests)
        api.on(.POST, "projects/:projectID/allocation-requests", id: "requestAllocation",
               summary: "Ask for credits (the PI): amount, periodEnd (when they expire), justification, meters (compute, ai); a renewal or supplement follows an earlier request.",
               tag: "projects", request: .input(AllocationRequestInput.self),
               response: .one(AllocationRequestDTO.self), status: 201, errors: [404: "No such project, or not yours to manage."], use: ResearchController.createRequest)
        api.on(.POST, "allocation-requests/:requestID/decision", id: "decideAllocationRequest",
               summary: "Approve (all, or part with amount) or deny (with a comment) a pending request (programme managers). Approval moves the credits from the pool to the project's allocation, or nothing happens.",
               tag: "projects", request: .input(AllocationDecisionInput.self),
               response: .one(AllocationRequestDTO.self), errors: [404: "No such request, or not yours to decide.",
                                           409: "Already decided, the project is not active, or the pool has not enough (nothing moved)."],
               use: ResearchController.decide)

        api.on(.POST, "projects/:projectID/jobs", id: "submitJob",
               summary: "Run a batch job (project members; multipart/form-data): command (run by /bin/sh in the job's folder; files written to outputs/ are kept), optional name, wallSeconds (default 600, at most 3600 on the platform's workers; on a Slurm cluster its partition's limit, rounded up to whole minutes), memoryMB (default 1024), cores and gpus (default 1 and 0; more only on a Slurm cluster, up to its limits), network (true/false; on a Slurm cluster only where its jobs run in the platform's sandbox, and without it a job there has only a loopback), payFrom (allowance, or project for the PI), and input files in a field named files (several, or one .zip; 50 MB). Its most possible cost is reserved first.",
               tag: "projects",
               request: .body(.object(["command": .text(max: 10_000), "name": .string(maxLength: 120),
                                 "wallSeconds": .integer(minimum: 1, maximum: SlurmClusters.minutesCap * 60),
                                 "memoryMB": .integer(minimum: 64, maximum: SlurmClusters.memoryCap), "cores": .integer(minimum: 1, maximum: SlurmClusters.coresCap),
                                 "gpus": .integer(minimum: 0, maximum: SlurmClusters.gpusCap), "network": .boolean,
                                 "payFrom": .string(enumValues: ResearchJobPayer.allCases.map(\.rawValue)), "files": .array(.string(format: "binary"))],
                                required: ["command"]), as: "multipart/form-data"),
               response: .one(ResearchJobDTO.self), status: 201,
               errors: [403: "Only the PI may charge the project's allocation.", 404: "No such project, or not yours.",
                        409: "The project is not active, more is asked for than where its jobs run gives a job, or there are not enough credits (the message says who can add more).", 413: "Over 60 MB.",
                        415: "Not multipart/form-data.", 502: "The project's Slurm cluster did not take the job (nothing was kept or charged)."],
               body: .collect(maxSize: ResearchJobs.maxUploadBody), use: ResearchJobController.submit)
        api.on(.GET, "slurm-clusters", id: "listSlurmClusters", summary: "The Slurm clusters research jobs may go to (administrators).", tag: "projects",
               response: .list(SlurmClusterDTO.self), errors: [404: "Not an admin."], use: ResearchJobController.clusters)
        api.on(.POST, "slurm-clusters", id: "addSlurmCluster",
               summary: "Register a Slurm cluster (administrators): its Slurm commands on this host (slurmConf), partition, account, the service account jobs run as, the staging folder on its shared filesystem, its job completion log, and the partition's limits.",
               tag: "projects", request: .input(SlurmClusterInput.self), response: .one(SlurmClusterDTO.self), status: 201,
               errors: [404: "Not an admin.", 409: "A cluster has that name already."], use: ResearchJobController.addCluster)
        api.on(.PUT, "slurm-clusters/:clusterID", id: "changeSlurmCluster",
               summary: "Replace a Slurm cluster's settings (administrators), checked as when it was added; new jobs get them. While its jobs are queued or running, its slurmConf, serviceAccount, stagingFolder and completionLog stay as they are.",
               tag: "projects", request: .input(SlurmClusterInput.self), response: .one(SlurmClusterDTO.self),
               errors: [404: "No such cluster, or not an admin.", 409: "Another cluster has that name, or the settings its live jobs are followed by would change."],
               use: ResearchJobController.changeCluster)
        api.on(.DELETE, "slurm-clusters/:clusterID", id: "removeSlurmCluster",
               summary: "Remove a Slurm cluster (administrators) that no project sends its jobs to and that has no queued or running job; its ended jobs keep their results.",
               tag: "projects", status: 204,
               errors: [404: "No such cluster, or not an admin.", 409: "A project still sends its jobs there, or jobs are live on it."],
               use: ResearchJobController.removeCluster)
        api.on(.PUT, "projects/:projectID/compute", id: "setProjectCompute",
               summary: "Where the project's jobs run (programme managers): slurmCluster, a cluster's id, or null for the platform's own workers.",
               tag: "projects", request: .input(ProjectComputeInput.self), response: .one(ProjectDTO.self),
               errors: [403: "Only the programme's managers choose where a project's jobs run.", 404: "No such project, or not yours.",
                        409: "No cluster has that id."], use: ResearchJobController.setCompute)
        api.on(.GET, "projects/:projectID/jobs", id: "listJobs", summary: "The project's jobs, newest first; ?page=&per=.", tag: "projects",
               response: .page(ResearchJobDTO.self),
               errors: [404: "No such project, or not yours."], use: ResearchJobController.list)
        api.on(.GET, "jobs/:jobID", id: "getJob", summary: "One job: status, limits, usage and cost, inputs and outputs.", tag: "projects",
               response: .one(ResearchJobDTO.self), errors: [404: "No such job, or not in a project of yours."], use: ResearchJobController.show)
        api.on(.GET, "jobs/:jobID/logs", id: "getJobLogs", summary: "The job's standard output and error (text/plain; each kept up to 256 K characters).", tag: "projects",
               errors: [404: "No such job, or not in a project of yours."], use: ResearchJobController.logs)
        api.on(.GET, "jobs/:jobID/outputs.zip", id: "downloadJobOutputs", summary: "What the job wrote to outputs/, as one zip (application/zip).", tag: "projects",
               errors: [404: "No such job, or not in a project of yours."], use: ResearchJobController.outputs)
        api.on(.POST, "jobs/:jobID/cancel", id: "cancelJob",
               summary: "Cancel a job (whoever submitted it, or the PI): a queued job frees its whole reserve; a running one stops within seconds and only what it used is charged.",
               tag: "projects", response: .one(ResearchJobDTO.self), errors: [404: "No such job, or not yours to cancel.", 409: "It already ended."], use: ResearchJobController.cancel)
        api.on(.GET, "projects/:projectID/outputs", id: "listProjectOutputs", summary: "Publications, datasets, software, theses and events of the project.",
               tag: "projects", response: .list(ProjectOutputDTO.self), errors: [404: "No such project, or not yours."], use: ResearchJobController.listOutputs)
        api.on(.POST, "projects/:projectID/outputs", id: "recordProjectOutput",
               summary: "Record an output (project members): kind, title, venue, year, doi (10.xxxx/…), url.", tag: "projects",
               request: .input(ProjectOutputInput.self),
               response: .one(ProjectOutputDTO.self), status: 201, errors: [404: "No such project, or not yours."], use: ResearchJobController.recordOutput)
        api.on(.DELETE, "projects/:projectID/outputs/:outputID", id: "removeProjectOutput",
               summary: "Remove an output (whoever recorded it, or the PI).", tag: "projects", status: 204,
               errors: [404: "No such output, or not yours to remove."], use: ResearchJobController.removeOutput)
    }
}
