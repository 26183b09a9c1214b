// Lab environments over the JSON API and on pages: decode → authorise (`req.lab(for:)`, `req.course(for:)` ask
// the policy) → call LabEnvironments → encode or render.
import Fluent
import Foundation
import Labs
import Vapor

enum LabController {
    // MARK: API

    @Sendable static func list(req: Request) async throws -> [LabDTO] {
        let (course, user, access) = try await req.course(for: Policy.Action.viewCourse)
        let staff = Policy.allows(user, .viewLab(access, openTo: .staff)), now = req.now
        return try await LabEnvironments.visible(in: course, to: user, access, on: req.db).map { try LabDTO($0, staff: staff, now: now) }
    }

    @Sendable static func create(req: Request) async throws -> Response {
        let (course, user, _) = try await req.course(for: Policy.Action.manageLabs)
        let lab = try await LabEnvironments.create(in: course, try req.input(LabInput.self), by: user, at: req.now, writes: req.writes)
        return try await LabDTO(lab, staff: true, now: req.now).encodeResponse(status: .created, for: req)
    }

    @Sendable static func show(req: Request) async throws -> LabDTO {
        let found = try await req.lab(for: { access, lab in .viewLab(access, openTo: lab.openTo) })
        return try await dto(found, req)
    }

    /// One environment as its viewer sees it (staff: with how many sessions the lab hosts have ready now).
    private static func dto(_ found: LabInContext, _ req: Request) async throws -> LabDTO {
        let staff = Policy.allows(found.user, .viewLab(found.access, openTo: .staff))
        var dto = try LabDTO(found.lab, staff: staff, now: req.now)
        if staff { dto.readyNow = try await LabHosts.readyCount(of: try found.lab.requireID(), app: req.application, at: req.now) }
        return dto
    }

    @Sendable static func update(req: Request) async throws -> LabDTO {
        let lab = try await req.lab(for: { access, _ in .manageLabs(access) }).lab
        try await LabEnvironments.update(lab, try req.input(LabInput.self), at: req.now, writes: req.writes)
        return try LabDTO(lab, staff: true, now: req.now)
    }

    @Sendable static func setUpAgain(req: Request) async throws -> LabDTO {
        let lab = try await req.lab(for: { access, _ in .manageLabs(access) }).lab
        try await LabEnvironments.setUpAgain(lab, at: req.now, writes: req.writes)
        return try LabDTO(lab, staff: true, now: req.now)
    }

    // MARK: Pages

    @Sendable static func page(req: Request) async throws -> View {
        let found = try await req.lab(for: { access, lab in .viewLab(access, openTo: lab.openTo) })
        return try await render(req, found, PageContext(req))
    }

    static func render(_ req: Request, _ found: LabInContext, _ page: PageContext) async throws -> View {
        let lab = found.lab, user = found.user, access = found.access
        let staff = Policy.allows(user, .viewLab(access, openTo: .staff)), canManage = Policy.allows(user, .manageLabs(access))
        let running = try await LabSession.query(on: req.db).filter(\.$lab.$id == lab.requireID()).filter(\.$user.$id == user.requireID())
            .filter(\.$status == .running).first()
        let home = try await LabHomeController.view(req)
        let startable = (lab.setupStatus == .ready || lab.setupStatus == .notNeeded) && running == nil
        return try await req.view.render("lab", LabPage(
            title: "Lab: \(lab.name)", page: page, lab: try await dto(found, req),
            course: try CourseDTO(found.course, access: access), links: LabLinks(lab: try lab.requireID(), course: lab.$course.id),
            staff: staff, canManage: canManage, pending: lab.setupStatus == .pending,
            home: home, homeUsedMB: String(format: "%.1f", Double(home.usedBytes) / 1_048_576),
            runningSession: try running.map { SitePath.labSession(.id(try $0.requireID())).url }, canStart: startable))
    }

    /// The course page's "New lab environment" form.
    @Sendable static func createFromPage(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.manageLabs)
        return try await req.formAction(back: .course(.id(try course.requireID())), at: "labs",
                                        render: { try await CourseController.render(req, course, user, access, page: $0) }) {
            let lab = try await LabEnvironments.create(in: course, try req.input(LabInput.self), by: user, at: req.now, writes: req.writes)
            return lab.setupStatus == .pending
                ? "Created the lab “\(lab.name)”; its set-up is running. It is open to staff only until you open it to students."
                : "Created the lab “\(lab.name)”. It is open to staff only until you open it to students."
        }
    }

    @Sendable static func updateFromPage(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, _ in .manageLabs(access) })
        return try await req.formAction(back: .lab(.id(try found.lab.requireID())), render: { try await render(req, found, $0) }) {
            var input = try req.input(LabInput.self)
            input.kind = nil
            let before = found.lab.setupVersion
            try await LabEnvironments.update(found.lab, input, at: req.now, writes: req.writes)
            return found.lab.setupVersion != before && found.lab.setupStatus == .pending ? "Saved; the new set-up script is running." : "Saved the lab."
        }
    }

    @Sendable static func setUpAgainFromPage(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, _ in .manageLabs(access) })
        return try await req.formAction(back: .lab(.id(try found.lab.requireID())), at: "setup", render: { try await render(req, found, $0) }) {
            try await LabEnvironments.setUpAgain(found.lab, at: req.now, writes: req.writes)
            return "The set-up runs again; its log appears here when it ends."
        }
    }
}
