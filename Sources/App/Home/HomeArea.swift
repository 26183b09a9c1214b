// The landing page, the dashboard, and your notices.
import Vapor

enum HomeArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.open.get(use: PageController.landing)
        pages.signedIn.get("dashboard", use: DashboardController.page)
    }

    static func api(_ api: APIRoutes) {
        api.schema("Notice", .object(["id": .string(format: "uuid"), "kind": .string(), "message": .string(), "link": .string(),
                                      "createdAt": .string(format: "date-time"), "read": .boolean], required: ["id", "kind", "message", "createdAt", "read"]))
        api.on(.GET, "me/notices", id: "listMyNotices", summary: "Your notices (e.g. an allowance 80% used), newest first; ?page=&per=.",
               tag: "people", response: .page(of: .ref("Notice")),
               use: DashboardController.notices)
        api.on(.POST, "me/notices/:noticeID/read", id: "markNoticeRead", summary: "Mark one of your notices read.", tag: "people",
               response: .ref("Notice"), errors: [404: "No such notice of yours."], use: DashboardController.markRead)
    }
}
