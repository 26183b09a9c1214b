// What the templates of the landing page and the dashboard are given (their view-models; links come from SitePath).
import Foundation
import Grading
import Insight
import Ledger
import Vapor

struct DashboardPage: Encodable {
    var title = "Dashboard"
    var page: PageContext
    var name: String
    var courses: [Place]
    var projects: [Place]
    var programmes: [Place]
    var notices: [NoticeRow]
    var credits = SitePath.credits.url
    var due: [DueRow]
    var grades: [GradeRow]
    var allowances: [AllowanceRow]
    var aiRequests: Int
    var aiCredits: String
    var labMinutes: Int
    var isStudent: Bool

    struct Place: Encodable { var name: String; var role: String; var link: String }
    struct NoticeRow: Encodable { var message: String; var link: String?; var markRead: String }
    struct DueRow: Encodable {
        var title: String; var link: String; var course: String; var dueAt: String; var timeLeft: String; var overdue: Bool
        var latePolicy: String; var handedIn: String
    }
    struct GradeRow: Encodable { var title: String; var link: String; var course: String; var attempt: Int; var score: String; var feedback: [String] }
    struct AllowanceRow: Encodable { var name: String; var free: String; var total: String; var spent28: String; var spark: String }

    init(page: PageContext, name: String, memberships: MembershipsDTO, summary: MyDashboardDTO) {
        (self.page, self.name) = (page, name)
        courses = memberships.courses.map { Place(name: $0.name, role: $0.role, link: SitePath.course(.id($0.id)).url) }
        projects = memberships.projects.map { Place(name: $0.name, role: $0.role, link: SitePath.project(.id($0.id)).url) }
        programmes = memberships.programmes.map { Place(name: $0.name, role: $0.role, link: SitePath.programme(.id($0.id)).url) }
        notices = summary.notices.map { NoticeRow(message: $0.message, link: $0.link, markRead: SitePath.readNotice(.id($0.id)).url) }
        isStudent = memberships.courses.contains { $0.role == CourseRole.student.rawValue }
        due = summary.dueNext.map { item in
            DueRow(title: item.title, link: SitePath.assignment(.id(item.assignmentID)).url, course: item.course, dueAt: PageFormat.when(item.dueAt) ?? "",
                   timeLeft: TimeLeft.describe(seconds: item.secondsLeft), overdue: item.secondsLeft < 0,
                   latePolicy: Self.describe(LatePolicy(text: item.latePolicy) ?? .none),
                   handedIn: "\(item.handedIn)" + (item.attemptsLeft.map { " (\($0) left)" } ?? ""))
        }
        grades = summary.latestGrades.map { grade in
            let score = grade.score.map { SVGChart.plain($0) + (grade.maxScore.map { " / " + SVGChart.plain($0) } ?? "") }
            return GradeRow(title: grade.title, link: SitePath.submission(.id(grade.submissionID)).url, course: grade.course, attempt: grade.attempt,
                            score: score ?? "not shown yet", feedback: grade.feedback)
        }
        allowances = summary.allowances.map { allowance in
            let used = allowance.daily.reduce(Credits(micro: 0)) { Credits(micro: $0.micro + $1.micro) }
            return AllowanceRow(name: allowance.name, free: "\(allowance.free)", total: "\(allowance.total)", spent28: "\(used)",
                                spark: SVGChart.sparkline(allowance.daily.map { Double($0.micro) / 1_000_000 },
                                                          title: "Credits used per day in \(allowance.name), last 28 days: \(used) in all"))
        }
        (aiRequests, aiCredits, labMinutes) = (summary.aiRequests, "\(summary.aiCredits)", summary.labMinutes)
    }

    static func describe(_ policy: LatePolicy) -> String {
        switch policy {
        case .none: "late hand-ins count as on time"
        case .hardDeadline: "no hand-ins after the deadline"
        case .penaltyPerDay(let percent): "\(percent)% off per day late"
        }
    }
}
