// The signed-in home: every place the person has a role, and (API) the same as JSON.
import Fluent
import Vapor

struct NoticeDTO: Content {
    var id: UUID
    var kind: String
    var message: String
    var link: String?
    var createdAt: Date
    var read: Bool

    init(_ notice: Notice) throws {
        id = try notice.requireID()
        kind = notice.kind
        message = notice.message
        link = notice.link
        createdAt = notice.createdAt
        read = notice.readAt != nil
    }
}

extension NoticeDTO: APIBody {
    static let schemaName = "Notice"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "kind": .string(), "message": .string(), "link": .string(),
                                           "createdAt": .string(format: "date-time"), "read": .boolean], required: ["id", "kind", "message", "createdAt", "read"])
    static var samples: [NoticeDTO] {
        let notice = Notice(userID: Sample.id, kind: "allowance_80", message: "80% of your CS101 allowance is used.", link: SitePath.credits.url,
                            accountID: Sample.id, threshold: 80, at: Sample.date)
        notice.id = Sample.id
        return [try! NoticeDTO(notice)]
    }
}

enum DashboardController {
    @Sendable static func page(req: Request) async throws -> View {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let memberships = try await MembershipsDTO.of(user, on: req.db)
        let summary = try await StudentSummary.load(for: user, now: req.now, on: req.db)
        return try await req.view.render("dashboard", DashboardPage(page: PageContext(req), name: user.displayName,
                                                                    memberships: memberships, summary: summary))
    }

    /// GET /api/v1/me/dashboard
    @Sendable static func dashboard(req: Request) async throws -> MyDashboardDTO {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        return try await StudentSummary.load(for: user, now: req.now, on: req.db)
    }

    /// GET /api/v1/me/notices?page=&per=: newest first, read or not.
    @Sendable static func notices(req: Request) async throws -> Page<NoticeDTO> {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        return try await Notice.query(on: req.db).filter(\.$user.$id == user.requireID()).sort(\.$createdAt, .descending)
            .paginate(for: req).map(NoticeDTO.init)
    }

    /// POST /api/v1/me/notices/:noticeID/read
    @Sendable static func markRead(req: Request) async throws -> NoticeDTO {
        let user = try req.auth.require(User.self)
        guard let id = req.parameters.get("noticeID", as: UUID.self), let notice = try await Notice.find(id, on: req.db) else { throw Abort(.notFound) }
        try Policy.require(user, can: .readNotice(ownerID: notice.$user.id))
        notice.readAt = notice.readAt ?? req.now
        try await notice.save(on: req.db)
        return try NoticeDTO(notice)
    }

    /// The dashboard's "Mark as read" form: the same, then back to the dashboard.
    @Sendable static func markReadFromPage(req: Request) async throws -> Response {
        _ = try await markRead(req: req)
        return req.redirect(to: .dashboard)
    }
}
