// Research projects' lifecycle and allocation requests over the JSON API: decode → authorise → ResearchProjects.
import Fluent
import Foundation
import Vapor

enum ResearchController {
    @Sendable static func changeStatus(req: Request) async throws -> ProjectDTO {
        let (project, user, access) = try await req.project(for: Policy.Action.viewProject)
        _ = try await ResearchProjects.changeStatus(project, try req.input(StatusChangeInput.self), by: user, access: access, app: req.application, on: req.db)
        return try await ProjectViews.project(project, on: req.db)
    }

    struct JobNetworkInput: APIInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case allowed }
        typealias Fields = CodingKeys
        var allowed: Bool
        static let schema = JSONSchema.object(["allowed": .boolean], required: ["allowed"])
    }

    @Sendable static func setJobNetwork(req: Request) async throws -> ProjectDTO {
        let (project, user, access) = try await req.project(for: Policy.Action.manageProject)
        try await ResearchProjects.setJobNetwork(project, allowed: try req.input(JobNetworkInput.self).allowed, by: user, access: access,
                                                 app: req.application, on: req.db)
        return try await ProjectViews.project(project, on: req.db)
    }

    @Sendable static func history(req: Request) async throws -> [StatusChangeDTO] {
        try await ResearchProjects.history(try await req.project(for: Policy.Action.viewProject).0, on: req.db)
    }

    @Sendable static func requests(req: Request) async throws -> [AllocationRequestDTO] {
        try await ResearchProjects.requests(try await req.project(for: Policy.Action.viewProject).0, on: req.db)
    }

    @Sendable static func createRequest(req: Request) async throws -> Response {
        let (project, user, _) = try await req.project(for: Policy.Action.manageProject)
        let request = try await ResearchProjects.request(project, try req.input(AllocationRequestInput.self), by: user, on: req.db)
        try await request.$requestedBy.load(on: req.db)
        return try await ResearchProjects.dto(request).encodeResponse(status: .created, for: req)
    }

    /// POST /allocation-requests/{id}/decision: the programme's managers (and admins); 404 for anyone else.
    @Sendable static func decide(req: Request) async throws -> AllocationRequestDTO {
        let found = try await req.allocationRequestToDecide()
        let request = found.request, user = found.user
        let decided = try await ResearchProjects.decide(request, try req.input(AllocationDecisionInput.self), by: user, app: req.application, on: req.db)
        try await decided.$requestedBy.load(on: req.db)
        try await decided.$decidedBy.load(on: req.db)
        return try ResearchProjects.dto(decided)
    }
}
