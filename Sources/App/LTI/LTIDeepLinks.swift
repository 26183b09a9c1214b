// LTI Deep Linking 2.0 (the LMS's "add external tool"): an instructor's or TA's deep linking launch opens a choice
// kept here (where to return, the LMS's data, whether several links and line items are accepted), for that person
// and course only, for an hour, answered once. They pick assignments of the course (or create one); the answer is a
// response signed with the tool's key that the browser posts to the LMS: one resource link per assignment, launching
// with the assignment's id, with a line item of its points (the LMS's grade column) and its due time.
import Fluent
import Foundation
import Grading
import Identity
import SQLKit
import Vapor

enum LTIDeepLinks {
    static let lifetime: TimeInterval = 3600

    /// The choice a deep linking launch opens (inside the launch's transaction).
    static func open(_ launch: LTILaunch, registration: LTIRegistration, course: Course, user: User, on db: any Database, now: Date) async throws -> LTIDeepLinkRequest {
        guard launch.role != .student else {
            throw Abort(.forbidden, reason: "Only the course's instructors and teaching assistants add CampusCloud assignments to the LMS course.")
        }
        // https (the signed answer travels in it), or http only for an LMS that is itself on http (a test or a
        // machine's own LMS): never a script or another scheme in the form's action.
        let schemes = registration.issuer.lowercased().hasPrefix("http://") ? ["https", "http"] : ["https"]
        guard let settings = launch.deepLinking, let url = URLComponents(string: settings.returnURL),
              schemes.contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false, settings.returnURL.utf8.count <= 2000 else {
            throw Abort(.badRequest, reason: "The LMS's deep linking return address is not an https address. Open “add external tool” in the LMS again.")
        }
        guard settings.acceptTypes?.contains("ltiResourceLink") ?? true else {
            throw Abort(.badRequest, reason: "The LMS asked for content this tool does not make (it makes links to assignments, ltiResourceLink).")
        }
        try await LTIDeepLinkRequest.query(on: db).filter(\.$expiresAt < now).delete()
        let row = LTIDeepLinkRequest()
        row.$registration.id = try registration.requireID()
        row.$course.id = try course.requireID()
        row.$user.id = try user.requireID()
        (row.deploymentID, row.returnURL, row.data) = (launch.deploymentID, settings.returnURL, settings.data)
        (row.acceptMultiple, row.acceptLineItem, row.expiresAt) = (settings.acceptMultiple ?? false, settings.acceptLineItem ?? true, now.addingTimeInterval(lifetime))
        try await row.create(on: db)
        return row
    }

    struct Open {
        var request: LTIDeepLinkRequest
        var course: Course
        var user: User
        var access: CourseAccess
    }

    /// The choice `id`: only the person it was opened for, while they grade the course, before it expires or is answered.
    static func find(_ id: UUID, user: User, on db: any Database, now: Date) async throws -> Open {
        guard let row = try await LTIDeepLinkRequest.query(on: db).filter(\.$id == id).with(\.$course).with(\.$registration).first(),
              row.$user.id == user.id, row.usedAt == nil, row.expiresAt > now, row.registration.enabled else {
            throw Abort(.notFound, reason: "This choice of assignments is not open: it was answered, it expired, it is not yours, or its LMS was switched off. Add the tool from the LMS again.")
        }
        let access = try await CourseAccess.load(user, row.course, on: db)
        try Policy.require(user, can: .grade(access))
        return Open(request: row, course: row.course, user: user, access: access)
    }

    struct Choice: Content {
        /// "link" (the assignments picked), "create" (a new one from title and points) or "cancel" (add nothing).
        var action: String?
        var assignmentIDs: [String]?
        var title: String?
        var pointsPossible: Double?
    }

    /// Answers the choice once: the assignments linked (or the new one), as a signed response for the LMS.
    static func answer(_ open: Open, _ choice: Choice, on req: Request) async throws -> (returnURL: String, token: String) {
        let now = req.now
        let courseID = try open.course.requireID()
        // The key first: a choice is used up only when its answer can be signed.
        let key = try await LTIToolKeys.signing(secret: req.application.platformSecret, on: req.db, now: now, logger: req.logger)
        let assignments: [Assignment] = try await req.writes.transaction { db in
            let taken = try await db.sqlDatabase().raw("""
                UPDATE lti_deep_link_requests SET used_at = \(bind: now) WHERE id = \(bind: open.request.requireID()) AND used_at IS NULL AND expires_at > \(bind: now) RETURNING id
                """).all()
            guard !taken.isEmpty else { throw Abort(.conflict, reason: "This choice was answered already. Add the tool from the LMS again.") }
            switch choice.action ?? "link" {
            case "cancel":
                return []
            case "create":
                try Policy.require(open.user, can: .manageCourse(open.access))
                // Its autograder (a Gradescope zip) is uploaded on its page; until then students see it, and cannot hand in.
                var input = AssignmentInput()
                (input.title, input.kind, input.pointsPossible) = (choice.title, AutograderKind.gradescope.rawValue, choice.pointsPossible)
                return [try await Assignments.create(in: open.course, input, by: open.user, on: db)]
            case "link":
                let ids = Set((choice.assignmentIDs ?? []).compactMap { UUID(uuidString: $0) })
                guard !ids.isEmpty, ids.count == (choice.assignmentIDs ?? []).count else {
                    throw InputRejection("Pick an assignment to add (or add nothing).")
                }
                guard ids.count == 1 || open.request.acceptMultiple else {
                    throw InputRejection("The LMS takes one assignment here: pick one.")
                }
                let found = try await Assignment.query(on: db).filter(\.$course.$id == courseID).filter(\.$id ~~ ids).sort(\.$createdAt).all()
                guard found.count == ids.count else { throw InputRejection("Pick assignments of this course.") }
                return found
            default:
                throw InputRejection("action is link, create or cancel.")
            }
        }
        let config = req.application.platformConfig
        let launchURL = config.absolute(SitePath.ltiLaunch.url)
        let items = try assignments.map { assignment in
            let id = try assignment.requireID().uuidString.lowercased()
            let lineItem = open.request.acceptLineItem ? assignment.pointsPossible.map {
                DeepLinkingResponse.ResourceLink.LineItem(scoreMaximum: $0, label: assignment.title, resourceId: id)
            } : nil
            return DeepLinkingResponse.ResourceLink(title: assignment.title, url: launchURL, custom: ["assignment_id": id], lineItem: lineItem,
                                                    submission: assignment.dueAt.map { .init(endDateTime: $0.formatted(.iso8601)) })
        }
        let registration = open.request.registration
        let message = items.isEmpty ? nil : "\(items.count == 1 ? items[0].title : "\(items.count) assignments") from CampusCloud"
        let response = DeepLinkingResponse(clientID: registration.clientID, issuer: registration.issuer, deploymentID: open.request.deploymentID,
                                           data: open.request.data, items: items, message: message, now: now)
        return (open.request.returnURL, try await key.sign(response))
    }
}
