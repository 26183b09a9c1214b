// What the course overview and the per-student pages are given: figures as text, charts as SVG drawn here (each
// beside a table or the CSV/JSON with the same numbers), links from SitePath.
import Foundation
import Grading
import Insight
import Ledger
import Vapor

struct CourseOverviewPage: Encodable {
    struct AssignmentBlock: Encodable, Sendable {
        var title: String; var link: String; var scored: Int; var median: String; var fullScores: Int; var hoursToFull: String
        var distribution: String; var tests: String; var hardest: [String]
    }
    struct ModelRow: Encodable { var model: String; var requests: Int; var tokens: Int; var credits: String }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var links: CourseLinks
    var asOf: String
    var students: Int
    var handIns: String
    var handInsTotal: Int
    /// The assignments' articles and the students' table rows, written (escaped) in Swift: through Leaf's loops they
    /// were a third of the page's time.
    var assignments: String
    var people: String
    var models: [ModelRow]
    var json: String
    var csv: String
    var pager: Pager
    var refresh: String
    /// Whether the viewer follows students (sees those at risk).
    var watch = false

    /// The charts of an overview, drawn once per computed overview (they are a fifth of the page's time) and kept
    /// with it by `CourseInsightSnapshots.DecodedCache`.
    struct Charts: Sendable {
        var handIns: String
        /// The assignments' articles, each with its two charts.
        var html: String

        init(_ overview: CourseOverviewDTO) {
            handIns = SVGChart.bars(overview.handInsByDay.map { .init($0.day, Double($0.count)) }, title: "Hand-ins per day in \(overview.code)",
                                    empty: "Nothing handed in yet.")
            let assignments = overview.assignments.map { assignment in
                let slice = assignment.distributionMaximum / Double(assignment.distribution.count)
                let buckets = assignment.distribution.enumerated().map { index, count in
                    SVGChart.Point("\(Gradebook.number(slice * Double(index)))–\(Gradebook.number(slice * Double(index + 1)))", Double(count))
                }
                let worst = assignment.tests.prefix(12)
                return AssignmentBlock(
                    title: assignment.title, link: SitePath.assignment(.id(assignment.assignmentID)).url, scored: assignment.scored,
                    median: assignment.medianScore.map(Gradebook.number) ?? "—", fullScores: assignment.fullScores,
                    hoursToFull: assignment.medianHoursToFullScore.map { String(format: "%.1f h", $0) } ?? "—",
                    distribution: SVGChart.bars(buckets, title: "Counted scores in \(assignment.title), out of \(Gradebook.number(assignment.distributionMaximum))",
                                                empty: "No counted scores yet."),
                    tests: SVGChart.shares(worst.map { .init($0.name, Double($0.passed) / Double(max($0.total, 1))) },
                                           title: "Share of students passing each test of \(assignment.title) on their latest attempt, most failed first",
                                           empty: "No test results yet."),
                    hardest: worst.prefix(3).filter { $0.passed < $0.total }.map { "\($0.name): \($0.total - $0.passed) of \($0.total) failing" })
            }
            html = Self.html(assignments)
        }

        static func html(_ blocks: [AssignmentBlock]) -> String {
            let e = SVGChart.escape
            var html = ""
            for a in blocks {
                html += "<article class=\"insight-assignment\">\n<h3><a href=\"" + e(a.link) + "\">" + e(a.title) + "</a></h3>\n"
                html += "<p>Scored: \(a.scored) · median " + e(a.median) + " · full autograder score reached by \(a.fullScores), a median "
                    + e(a.hoursToFull) + " after release.</p>\n"
                if !a.hardest.isEmpty { html += "<p>Most failed: " + a.hardest.map { e($0) + ". " }.joined() + "</p>\n" }
                html += "<figure>" + a.distribution + "<figcaption>Counted scores (as in the gradebook), in ten slices.</figcaption></figure>\n"
                html += "<figure>" + a.tests + "<figcaption>Passing each test on their latest graded attempt; most failed first.</figcaption></figure>\n</article>\n"
            }
            return html
        }
    }

    init(page: PageContext, course: CourseDTO, _ overview: CourseOverviewDTO, charts: Charts, pageNumber: Int) {
        (self.page, self.course, links) = (page, course, CourseLinks(course.id))
        title = "\(course.code): how the class is doing"
        asOf = PageFormat.when(overview.asOf) ?? ""
        students = overview.students
        handInsTotal = overview.handInsByDay.reduce(0) { $0 + $1.count }
        (handIns, assignments) = (charts.handIns, charts.html)
        let path = SitePath.courseOverview(.id(course.id)).url
        (pager, refresh) = (Pager(path: path, number: pageNumber, total: overview.people.count, noun: "students"), path)
        let e = SVGChart.escape
        people = overview.people.dropFirst((pageNumber - 1) * Pager.perPage).prefix(Pager.perPage).map { person in
            "<tr><td><a href=\"" + e(SitePath.courseStudent(.id(course.id), user: .id(person.userID)).url) + "\">" + e(person.name) + "</a></td><td>"
                + e(person.email) + "</td><td>\(person.handIns)</td><td>" + e("\(person.creditsUsed)") + "</td><td>\(person.aiRequests)</td><td>\(person.labMinutes)</td></tr>\n"
        }.joined()
        models = overview.aiByModel.map { ModelRow(model: $0.model, requests: $0.requests, tokens: $0.tokens, credits: "\($0.credits)") }
        json = "/api/v1/courses/\(course.id)/overview"  // getCourseOverview
        csv = "/api/v1/courses/\(course.id)/overview.csv"  // getCourseOverviewCSV
    }
}

struct StudentOverviewPage: Encodable {
    struct Line: Encodable {
        var title: String; var link: String; var due: String; var score: String; var attempts: Int; var last: String
        var latest: String?; var failing: [String]; var tests: String
    }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var links: CourseLinks
    var name: String
    var email: String
    var lines: [Line]
    var creditsUsed: String
    var creditsFree: String?
    var models: [CourseOverviewPage.ModelRow]
    var labMinutes: Int
    var overview: String
    var json: String
    /// Their open at-risk flags (nil for those who do not see flags).
    var flags: [String]?

    init(page: PageContext, course: CourseDTO, _ student: StudentOverviewDTO, flags: [RiskFlagDTO]? = nil) {
        self.flags = flags?.map(\.reason)
        (self.page, self.course, links) = (page, course, CourseLinks(course.id))
        (title, name, email) = ("\(student.name) in \(course.code)", student.name, student.email)
        lines = student.assignments.map { line in
            Line(title: line.title, link: SitePath.assignment(.id(line.assignmentID)).url, due: PageFormat.when(line.dueAt) ?? "—",
                 score: line.score.map { Gradebook.number($0) + (line.pointsPossible.map { " / " + Gradebook.number($0) } ?? "") } ?? "—",
                 attempts: line.attempts, last: PageFormat.when(line.lastHandIn) ?? "—",
                 latest: line.latestSubmissionID.map { SitePath.submission(.id($0)).url }, failing: line.failing,
                 tests: line.testsRun == 0 ? "—" : "\(line.testsRun - line.failing.count) of \(line.testsRun) passed")
        }
        (creditsUsed, creditsFree) = ("\(student.creditsUsed)", student.creditsFree.map { "\($0)" })
        models = student.aiByModel.map { .init(model: $0.model, requests: $0.requests, tokens: $0.tokens, credits: "\($0.credits)") }
        labMinutes = student.labMinutes
        overview = SitePath.courseOverview(.id(course.id)).url
        json = "/api/v1/courses/\(course.id)/students/\(student.userID)/overview"  // getStudentOverview
    }
}

/// Students at risk in a course (its teachers): each open flag with its reason and a "Dismiss" (or, among the
/// dismissed, "Show again"), 50 a page.
struct RiskFlagsPage: Encodable {
    struct Row: Encodable {
        var name: String; var link: String; var email: String; var rule: String; var reason: String; var raised: String
        var dismissed: String?; var change: String
    }
    struct RuleCount: Encodable { var rule: String; var count: Int }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var links: CourseLinks
    var checked: String
    var showingDismissed: Bool
    var other: String
    var check: String
    var json: String
    var counts: [RuleCount]
    var rows: [Row]
    var pager: Pager

    init(page: PageContext, course: CourseDTO, flags: [RiskFlagDTO], dismissed: Bool, checkedAt: Date?, pageNumber: Int) {
        (self.page, self.course, links, showingDismissed) = (page, course, CourseLinks(course.id), dismissed)
        title = "\(course.code): students at risk"
        checked = checkedAt.flatMap(PageFormat.when).map { "Last checked \($0); checked again every hour during the term." }
            ?? "Not checked yet: the first check runs within the hour, or now with “Check now”."
        let path = SitePath.courseRiskFlags(.id(course.id)).url
        (other, check, json) = (dismissed ? path : path + "?dismissed=true", SitePath.checkCourseRiskFlags(.id(course.id)).url,
                                "/api/v1/courses/\(course.id)/risk-flags")  // listRiskFlags
        counts = RiskRule.allCases.compactMap { rule in
            let count = flags.filter { $0.rule == rule.rawValue }.count
            return count == 0 ? nil : RuleCount(rule: rule.label, count: count)
        }
        pager = Pager(path: dismissed ? path + "?dismissed=true" : path, number: pageNumber, total: flags.count, noun: dismissed ? "dismissed flags" : "flags")
        rows = flags.dropFirst((pageNumber - 1) * Pager.perPage).prefix(Pager.perPage).map { flag in
            Row(name: flag.name, link: SitePath.courseStudent(.id(course.id), user: .id(flag.userID)).url, email: flag.email,
                rule: RiskRule(rawValue: flag.rule)?.label ?? flag.rule, reason: flag.reason, raised: PageFormat.when(flag.raisedAt) ?? "",
                dismissed: flag.dismissedAt.flatMap(PageFormat.when).map { "\($0)\(flag.dismissedBy.map { " by \($0)" } ?? "")" },
                change: SitePath.courseRiskFlag(.id(course.id), flag: .id(flag.id)).url)
        }
    }
}

/// A programme's analytics: the grant against time, credits by meter week by week, each course's and project's use.
struct ProgrammeAnalyticsPage: Encodable {
    struct PlaceRow: Encodable {
        var name: String; var grading: String; var ai: String; var labs: String; var jobs: String; var other: String; var total: String
        var learners: String; var perLearner: String; var outputs: String; var perThousand: String
    }
    struct ModelRow: Encodable { var model: String; var requests: Int; var tokens: Int; var credits: String }
    var title: String
    var page: PageContext
    var links: ProgrammeLinks
    var asOf: String
    var granted: String
    var used: String
    var shareUsed: String
    var shareElapsed: String
    var learners: String
    var perLearner: String
    var grant: String
    var weekly: String
    var meters: String
    var courses: [PlaceRow]
    var projects: [PlaceRow]
    var models: [ModelRow]
    var withheld: Bool
    var json: String
    var csv: String
    var events: String
    var from: String
    var to: String

    init(page: PageContext, _ a: ProgrammeAnalyticsDTO) {
        events = SitePath.programmeEvents(.id(a.programmeID)).url
        (from, to) = (Stats.dayString(a.asOf.addingTimeInterval(-29 * 86_400)), Stats.dayString(a.asOf))
        (self.page, links, title) = (page, ProgrammeLinks(a.programmeID), "Analytics: \(a.name)")
        asOf = PageFormat.when(a.asOf) ?? ""
        (granted, used) = ("\(a.granted)", "\(a.used)")
        (shareUsed, shareElapsed) = ("\(Int((a.shareUsed * 100).rounded()))%", "\(Int((a.shareElapsed * 100).rounded()))%")
        learners = a.activeLearners.map(String.init) ?? SmallCells.withheldText
        perLearner = a.costPerActiveLearner.map { "\($0)" } ?? "—"
        grant = SVGChart.shares([.init("Grant used", a.shareUsed), .init("Time elapsed", a.shareElapsed)],
                                title: "Share of the grant used against the share of the programme's time elapsed", empty: "No grant yet.")
        weekly = SVGChart.bars(a.weeks.map { .init($0.week, Double($0.meters.total.micro) / 1_000_000) }, title: "Credits used per week (weeks start on Monday, UTC)",
                               empty: "Nothing used yet.", format: { String(format: "%.2f", $0) })
        let byMeter: [(String, Credits)] = [("grading", a.meters.grading), ("AI", a.meters.ai), ("labs", a.meters.labs), ("jobs", a.meters.jobs),
                                            ("other", a.meters.other)]
        meters = SVGChart.bars(byMeter.map { SVGChart.Point($0.0, Double($0.1.micro) / 1_000_000) },
                               title: "Credits used by meter", empty: "Nothing used yet.", format: { String(format: "%.2f", $0) })
        func row(_ p: ProgrammeAnalyticsDTO.Place) -> PlaceRow {
            PlaceRow(name: p.name, grading: "\(p.used.grading)", ai: "\(p.used.ai)", labs: "\(p.used.labs)", jobs: "\(p.used.jobs)", other: "\(p.used.other)",
                     total: "\(p.used.total)", learners: p.activeLearners.map(String.init) ?? SmallCells.withheldText,
                     perLearner: p.costPerActiveLearner.map { "\($0)" } ?? "—", outputs: "\(p.outputs ?? 0)",
                     perThousand: p.outputsPerThousandCredits.map { String(format: "%.2f", $0) } ?? "—")
        }
        courses = a.places.filter { $0.kind == "course" }.map(row)
        projects = a.places.filter { $0.kind == "project" }.map(row)
        models = a.aiByModel.map { ModelRow(model: $0.model, requests: $0.requests, tokens: $0.tokens, credits: "\($0.credits)") }
        withheld = a.smallCellsWithheld
        json = "/api/v1/programmes/\(a.programmeID)/analytics"  // getProgrammeAnalytics
        csv = "/api/v1/programmes/\(a.programmeID)/analytics.csv"  // getProgrammeAnalyticsCSV
    }
}
