// The landing page, the dashboard, and your notices.
import Vapor

enum HomeArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.open.get(.home, use: PageController.landing)
        pages.signedIn.get(.dashboard, use: DashboardController.page)
        pages.signedIn.post(.readNotice(.key), use: DashboardController.markReadFromPage)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "me/dashboard", id: "getMyDashboard",
               summary: "Your first screen: what is due next across your courses, your latest grades and feedback as you may see them, credits left per allowance with 28 days of use, AI requests and lab minutes in the last 7 days, unread notices.",
               tag: "people", response: .one(MyDashboardDTO.self), use: DashboardController.dashboard)
        api.on(.GET, "me/notices", id: "listMyNotices", summary: "Your notices (e.g. an allowance 80% used), newest first; ?page=&per=.",
               tag: "people", response: .page(NoticeDTO.self),
               use: DashboardController.notices)
        api.on(.POST, "me/notices/:noticeID/read", id: "markNoticeRead", summary: "Mark one of your notices read.", tag: "people",
               response: .one(NoticeDTO.self), errors: [404: "No such notice of yours."], use: DashboardController.markRead)
    }
}
