// Joint research projects: the lifecycle (draft → submitted → active → completed, or rejected, then archived) with
// every change audited, and allocation requests (a PI asks for credits; a programme manager approves in full or in
// part, or denies, with a comment; approval moves exactly the approved amount from the programme pool to the
// project's allocation, with the request's expiry, in the same transaction as the decision — or nothing happens).
import Fluent
import Foundation
import Insight
import Ledger
import Vapor

enum ProjectLifecycle {
    enum Actor { case pi, manager }

    /// Who may move a project from one status to another.
    static let transitions: [ProjectStatus: [ProjectStatus: Actor]] = [
        .draft: [.submitted: .pi],
        .submitted: [.draft: .pi, .active: .manager, .rejected: .manager],
        .active: [.completed: .pi],
        .completed: [.archived: .manager, .active: .manager],
        .rejected: [.archived: .manager, .draft: .pi],
    ]

    static func actor(for from: ProjectStatus, to: ProjectStatus) -> Actor? { transitions[from]?[to] }
}

struct StatusChangeInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case status, comment }
    typealias Fields = CodingKeys
    var status: String?
    var comment: String?
}

extension StatusChangeInput: APIInput {
    static let schema = JSONSchema.object(["status": .choice(ProjectStatus.self), "comment": .string(maxLength: 2000)], required: ["status"])
}

struct StatusChangeDTO: Content {
    var from: String
    var to: String
    var by: String
    var comment: String
    var at: Date
}

extension StatusChangeDTO: APIBody {
    static let schemaName = "StatusChange"
    static let schema = JSONSchema.object(["from": .string(), "to": .choice(ProjectStatus.self), "by": .string(), "comment": .string(),
                                           "at": .string(format: "date-time")], required: ["from", "to", "by", "comment", "at"])
    static let samples = [StatusChangeDTO(from: "submitted", to: "active", by: "Mia", comment: "Approved.", at: Sample.date)]
}

struct AllocationRequestInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case amount, periodEnd, justification, meters, kind, follows }
    typealias Fields = CodingKeys
    var amount: Credits?
    var periodEnd: String?
    var justification: String?
    var meters: [String]?
    var kind: String?
    var follows: UUID?
}

extension AllocationRequestInput: APIInput {
    static let schema = JSONSchema.object([
        "amount": .positiveCreditsInput, "periodEnd": .string(format: "date"), "justification": .text(max: 5000),
        "meters": .array(.string(enumValues: ResearchProjects.meters)), "kind": .choice(AllocationRequestKind.self), "follows": .string(format: "uuid"),
    ], required: ["amount", "periodEnd", "justification", "meters"])
}

struct AllocationDecisionInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case decision, amount, comment }
    typealias Fields = CodingKeys
    /// approve or deny.
    var decision: String?
    /// For approve: at most what was asked (default: all of it).
    var amount: Credits?
    var comment: String?
}

extension AllocationDecisionInput: APIInput {
    static let schema = JSONSchema.object(["decision": .string(enumValues: ["approve", "deny"]), "amount": .positiveCreditsInput, "comment": .string(maxLength: 2000)],
                                          required: ["decision"])
}

struct AllocationRequestDTO: Content {
    var id: UUID
    var projectID: UUID
    var requestedBy: String
    var kind: String
    var follows: UUID?
    var amount: Credits
    var periodEnd: Date
    var justification: String
    var meters: [String]
    var status: String
    var decidedBy: String?
    var decidedAt: Date?
    var approvedAmount: Credits?
    var decisionComment: String?
    var createdAt: Date
}

extension AllocationRequestDTO: APIBody {
    static let schemaName = "AllocationRequest"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "projectID": .string(format: "uuid"), "requestedBy": .string(), "kind": .choice(AllocationRequestKind.self),
        "follows": .string(format: "uuid"), "amount": .credits, "periodEnd": .string(format: "date-time"), "justification": .string(),
        "meters": .array(.string(enumValues: ResearchProjects.meters)), "status": .choice(AllocationRequestStatus.self), "decidedBy": .string(),
        "decidedAt": .string(format: "date-time"), "approvedAmount": .credits, "decisionComment": .string(), "createdAt": .string(format: "date-time"),
    ], required: ["id", "projectID", "requestedBy", "kind", "amount", "periodEnd", "justification", "meters", "status", "createdAt"])
    static let samples = [AllocationRequestDTO(
        id: Sample.id, projectID: Sample.id, requestedBy: "Ada", kind: "renewal", follows: Sample.id, amount: Credits(micro: 50_000_000), periodEnd: Sample.date,
        justification: "More folding.", meters: ["compute", "ai"], status: "partial", decidedBy: "Mia", decidedAt: Sample.date,
        approvedAmount: Credits(micro: 20_000_000), decisionComment: "Half now.", createdAt: Sample.date)]
}

enum ResearchProjects {
    static let meters = ["compute", "ai"]

    /// Moves the project to `input.status` if the rules let `user` do it; the change is audited.
    static func changeStatus(_ project: ResearchProject, _ input: StatusChangeInput, by user: User, access: ProjectAccess,
                             app: Application, on db: any Database) async throws -> ResearchProject {
        var checks = InputChecks()
        let to = checks.choice(input.status, "status", as: ProjectStatus.self)
        let comment = checks.text(input.comment, "comment", max: 2000, required: false) ?? ""
        try checks.finish()
        guard let from = ProjectStatus(rawValue: project.status) else { throw InputRejection("The project's status '\(project.status)' is unknown.") }
        guard let who = ProjectLifecycle.actor(for: from, to: to!) else {
            let next = (ProjectLifecycle.transitions[from] ?? [:]).keys.map(\.rawValue).sorted()
            let options = next.joined(separator: " or ")
            throw InputRejection.conflict("A \(from.rawValue) project cannot become \(to!.rawValue)" + (next.isEmpty ? "." : "; it can become \(options)."))
        }
        switch who {
        case .pi:
            try Policy.require(user, can: .manageProject(access))
        case .manager:
            guard Policy.allows(user, .manageProgramme(access.programmeRole)) else {
                throw Abort(.forbidden, reason: "Only the programme's managers may make a \(from.rawValue) project \(to!.rawValue).")
            }
        }
        if to == .rejected && comment.isEmpty { throw InputRejection("Say why the project is rejected (comment): its members see it.") }
        let projectID = try project.requireID(), userID = try user.requireID()
        try await app.writeTransaction(on: db) { tx in
            project.status = to!.rawValue
            try await project.save(on: tx)
            try await ProjectStatusChange(projectID: projectID, from: from.rawValue, to: to!.rawValue, by: userID, comment: comment, at: Date()).create(on: tx)
        }
        return project
    }

    /// The project form and PATCH: title and summary as given; a status change goes through the lifecycle's rules.
    static func update(_ project: ResearchProject, _ input: ProjectInput, by user: User, access: ProjectAccess, app: Application,
                       on db: any Database) async throws {
        var details = input
        details.status = nil
        if let status = input.status, status != project.status {
            _ = try await changeStatus(project, StatusChangeInput(status: status, comment: nil), by: user, access: access, app: app, on: db)
        }
        try await Places.updateProject(project, details, on: db)
    }

    /// Allows or stops network for the project's jobs (its PI, programme managers, admins): kept in its history with
    /// who and when, like a status change.
    static func setJobNetwork(_ project: ResearchProject, allowed: Bool, by user: User, access: ProjectAccess, app: Application,
                              on db: any Database) async throws {
        try Policy.require(user, can: .manageProject(access))
        guard project.jobNetwork != allowed else { return }
        let projectID = try project.requireID(), userID = try user.requireID()
        try await app.writeTransaction(on: db) { tx in
            project.jobNetwork = allowed
            try await project.save(on: tx)
            try await ProjectStatusChange(projectID: projectID, from: project.status, to: project.status, by: userID,
                                          comment: allowed ? "network allowed for the project's jobs" : "network turned off for the project's jobs",
                                          at: Date()).create(on: tx)
        }
    }

    /// The sentence a member gets when their job asks for network the project does not allow.
    static func networkRefusal(_ project: ResearchProject, on db: any Database) async throws -> String {
        let names = try await ProjectMember.query(on: db).filter(\.$project.$id == project.requireID()).filter(\.$role == .pi)
            .with(\.$user).all().map(\.user.displayName).naturallySorted()
        return "Jobs of “\(project.title)” may not use the network. Its PI" + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))")
            + " or a programme manager can allow it on the project page; or run the job without network."
    }

    static func history(_ project: ResearchProject, on db: any Database) async throws -> [StatusChangeDTO] {
        try await ProjectStatusChange.query(on: db).filter(\.$project.$id == project.requireID()).with(\.$changedBy).sort(\.$changedAt).all()
            .map { .init(from: $0.from, to: $0.to, by: $0.changedBy.displayName, comment: $0.comment, at: $0.changedAt) }
    }

    // MARK: Allocation requests

    static func request(_ project: ResearchProject, _ input: AllocationRequestInput, by user: User, on db: any Database) async throws -> AllocationRequest {
        var checks = InputChecks()
        if let amount = input.amount { if amount <= .zero { checks.add("amount must be more than 0.") } } else { checks.add("amount is missing (credits, e.g. \"250\").") }
        let end = checks.date(input.periodEnd, "periodEnd")
        if let end, end <= Date() { checks.add("periodEnd must be in the future.") }
        let justification = checks.text(input.justification, "justification", max: 5000)
        let meters = input.meters ?? []
        if meters.isEmpty || meters.contains(where: { !Self.meters.contains($0) }) { checks.add("meters lists what the credits are for: compute and/or ai.") }
        let kind = checks.choice(input.kind ?? (input.follows == nil ? "initial" : "supplement"), "kind", as: AllocationRequestKind.self)
        var follows: AllocationRequest?
        if let id = input.follows {
            follows = try await AllocationRequest.find(id, on: db)
            if follows == nil || follows?.$project.id != project.id { checks.add("follows names no request of this project.") }
        } else if kind == .renewal || kind == .supplement {
            checks.add("a \(kind!.rawValue) follows an earlier request (follows: its id).")
        }
        guard [ProjectStatus.submitted, .active].contains(ProjectStatus(rawValue: project.status)) else {
            checks.add("credits are requested for submitted or active projects (this one is \(project.status)).")
            try checks.finish()
            throw InputRejection(checks.problems)
        }
        try checks.finish()
        let request = AllocationRequest()
        request.$project.id = try project.requireID()
        request.$requestedBy.id = try user.requireID()
        request.kind = kind!
        request.$follows.id = follows?.id
        request.amount = input.amount!.micro
        request.periodEnd = end!
        request.justification = justification!
        request.meters = meters.joined(separator: ",")
        request.status = .pending
        request.createdAt = Date()
        try await request.create(on: db)
        return request
    }

    /// Approves (all or part) or denies a pending request. Approval moves the amount from the programme pool to the
    /// project's allocation in the same transaction as the decision; when the pool has not enough, nothing changes
    /// and the refusal says what it holds.
    static func decide(_ request: AllocationRequest, _ input: AllocationDecisionInput, by user: User, app: Application,
                       on db: any Database) async throws -> AllocationRequest {
        var checks = InputChecks()
        let approve: Bool
        switch input.decision?.lowercased() {
        case "approve": approve = true
        case "deny": approve = false
        default: approve = false; checks.add("decision is approve or deny.")
        }
        let comment = checks.text(input.comment, "comment", max: 2000, required: !approve) ?? ""
        let amount = input.amount ?? Credits(micro: request.amount)
        if approve && (amount <= .zero || amount.micro > request.amount) { checks.add("amount must be more than 0 and at most the \(Credits(micro: request.amount)) asked for.") }
        try checks.finish()
        guard request.status == .pending else { throw Abort(.conflict, reason: "This request was already decided (\(request.status.rawValue)).") }
        guard let project = try await ResearchProject.find(request.$project.id, on: db), let programme = try await Programme.find(project.$programme.id, on: db) else {
            throw Abort(.notFound)
        }
        if approve && project.status != ProjectStatus.active.rawValue {
            throw Abort(.conflict, reason: "Credits go to active projects; this one is \(project.status). Approve the project first.")
        }
        let requestID = try request.requireID(), userID = try user.requireID(), now = app.clock.now()
        try await app.writeTransaction(on: db) { tx in
            // The decision is claimed first, so two managers deciding at once cannot both move credits.
            guard let current = try await AllocationRequest.query(on: tx).filter(\.$id == requestID).filter(\.$status == .pending).first() else {
                throw Abort(.conflict, reason: "This request was already decided.")
            }
            current.status = approve ? (amount.micro == request.amount ? .approved : .partial) : .denied
            current.$decidedBy.id = userID
            current.decidedAt = now
            current.approvedAmount = approve ? amount.micro : nil
            current.decisionComment = comment
            try await current.save(on: tx)
            if approve {
                let ledger = app.ledger(inWrite: tx)
                let pool = try await ledger.pool(of: programme)
                let allocation = try await ledger.allocation(of: .project(project))
                if allocation.expiresAt.map({ $0 < request.periodEnd }) ?? true {
                    allocation.expiresAt = request.periodEnd
                    try await allocation.save(on: tx)
                }
                try await ledger.transfer(.allocate, from: pool, to: allocation, amount: amount,
                                          memo: "allocation request \(requestID.uuidString.prefix(8).lowercased()) approved", key: "allocation-request:\(requestID)", actor: userID)
            }
        }
        return try await AllocationRequest.find(requestID, on: db)!
    }

    static func requests(_ project: ResearchProject, on db: any Database) async throws -> [AllocationRequestDTO] {
        try await AllocationRequest.query(on: db).filter(\.$project.$id == project.requireID()).with(\.$requestedBy).with(\.$decidedBy)
            .sort(\.$createdAt).all().map(dto)
    }

    static func dto(_ request: AllocationRequest) throws -> AllocationRequestDTO {
        AllocationRequestDTO(id: try request.requireID(), projectID: request.$project.id, requestedBy: request.$requestedBy.value?.displayName ?? "",
                             kind: request.kind.rawValue, follows: request.$follows.id, amount: Credits(micro: request.amount), periodEnd: request.periodEnd,
                             justification: request.justification, meters: request.meters.split(separator: ",").map(String.init),
                             status: request.status.rawValue, decidedBy: request.$decidedBy.value??.displayName, decidedAt: request.decidedAt,
                             approvedAmount: request.approvedAmount.map { Credits(micro: $0) }, decisionComment: request.decisionComment,
                             createdAt: request.createdAt)
    }
}
