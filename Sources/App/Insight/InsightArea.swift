// Insight: how a course is doing and how each of its students is doing, for the course's graders. Nothing else
// uses this area; it reads the others' records.
import Insight
import Ledger
import Vapor

enum InsightArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.courseOverview(.key), use: InsightController.overviewPage)
        pages.signedIn.post(.courseOverview(.key), use: InsightController.refreshFromPage)
        pages.signedIn.get(.courseStudent(.key, user: .key), use: InsightController.studentPage)
        pages.signedIn.get(.courseRiskFlags(.key), use: RiskFlagController.page)
        pages.signedIn.post(.courseRiskFlag(.key, flag: .key), use: RiskFlagController.changeFromPage)
        pages.signedIn.post(.checkCourseRiskFlags(.key), use: RiskFlagController.checkFromPage)
        pages.signedIn.get(.programmeAnalytics(.key), use: ProgrammeAnalyticsController.page)
        pages.signedIn.get(.programmeEvents(.key), use: ProgrammeAnalyticsController.events)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "courses/:courseID/overview", id: "getCourseOverview",
               summary: "How the class is doing (graders), as computed at most 15 minutes ago (asOf; ?refresh=true computes it now, at most once a minute): hand-ins per day, each assignment's score distribution, median and per-test pass rates on students' latest graded attempts, median hours from release to a first full score, each student's hand-ins, credits used, AI requests and lab minutes, AI use by model.",
               tag: "grading", response: .one(CourseOverviewDTO.self), errors: [404: "No such course, or not yours to grade."], use: InsightController.overview)
        api.on(.GET, "courses/:courseID/overview.csv", id: "getCourseOverviewCSV",
               summary: "The course overview as CSV, one figure a row: section, assignment, item, value.",
               tag: "grading", errors: [404: "No such course, or not yours to grade."], use: InsightController.overviewCSV)
        api.on(.GET, "courses/:courseID/students/:userID/overview", id: "getStudentOverview",
               summary: "One student of the course (graders): counted score, attempts and failing tests per assignment, credits used and left, AI use by model, lab minutes.",
               tag: "grading", response: .one(StudentOverviewDTO.self), errors: [404: "No such course or student, or not yours to grade."],
               use: InsightController.student)
        api.on(.GET, "courses/:courseID/risk-flags", id: "listRiskFlags",
               summary: "Students at risk (the course's teachers: instructors, managers, administrators): each open flag with its rule, subject and reason, students in natural order; ?dismissed=true lists the dismissed ones. Checked hourly during the term.",
               tag: "grading", response: .page(RiskFlagDTO.self), errors: [404: "No such course, or not one you teach."], use: RiskFlagController.list)
        api.on(.PATCH, "courses/:courseID/risk-flags/:flagID", id: "changeRiskFlag",
               summary: "Dismiss a flag (dismissed: true), or show it again (false). A dismissed flag stays dismissed while its situation lasts.",
               tag: "grading", request: .input(RiskFlagChange.self), response: .one(RiskFlagDTO.self),
               errors: [404: "No such course or flag, or not one you teach."], use: RiskFlagController.change)
        api.on(.POST, "courses/:courseID/risk-checks", id: "checkRiskFlags",
               summary: "Check the course's students now (at most once a minute; a second call within it answers the last check).",
               tag: "grading", response: .one(RiskCheckDTO.self), errors: [404: "No such course, or not one you teach."], use: RiskFlagController.check)
        api.on(.GET, "programmes/:programmeID/analytics", id: "getProgrammeAnalytics",
               summary: "What the programme's credits bought (managers, partner contacts, administrators): the grant used against time elapsed, credits by meter (grading, AI, labs, jobs, other) per week and per course and project, as the ledger's journal has them; active learners and cost per active learner; outputs per 1,000 credits; AI use by model. Counts of 1 to 4 people are withheld from partner contacts (null, smallCellsWithheld).",
               tag: "programmes", response: .one(ProgrammeAnalyticsDTO.self), errors: [404: "No such programme, or not one whose credits you see."],
               use: ProgrammeAnalyticsController.json)
        api.on(.GET, "programmes/:programmeID/analytics.csv", id: "getProgrammeAnalyticsCSV",
               summary: "The programme's analytics as CSV, one figure a row: section, place, item, value.",
               tag: "programmes", errors: [404: "No such programme, or not one whose credits you see."], use: ProgrammeAnalyticsController.csv)
        api.on(.GET, "programmes/:programmeID/events", id: "exportProgrammeEvents",
               summary: "The programme's events from ?from= to ?to= (days, YYYY-MM-DD, both included, at most 366 days; by default the 30 days to today), as CSV or, with ?format=jsonl, JSON Lines: hand-ins, grades, AI requests and ledger entries, in time order within each kind. Administrators and managers see each person's account id and email; partner contacts a pseudonym drawn for that export alone, and no email.",
               tag: "programmes", errors: [404: "No such programme, or not one whose credits you see.", 422: "The days or the format are wrong; the message says which."],
               use: ProgrammeAnalyticsController.events)
    }
}

extension ProgrammeAnalyticsDTO: APIBody {
    static let schemaName = "ProgrammeAnalytics"
    static var schema: JSONSchema {
        let meters = JSONSchema.object(["grading": .credits, "ai": .credits, "labs": .credits, "jobs": .credits, "other": .credits],
                                       required: ["grading", "ai", "labs", "jobs", "other"])
        return .object([
            "programmeID": .string(format: "uuid"), "name": .string(), "asOf": .string(format: "date-time"), "granted": .credits, "used": .credits,
            "shareUsed": .number(minimum: 0), "shareElapsed": .number(minimum: 0, maximum: 1), "activeLearners": .integer(), "costPerActiveLearner": .credits,
            "meters": meters, "weeks": .array(.object(["week": .string(format: "date"), "meters": meters], required: ["week", "meters"])),
            "places": .array(.object([
                "kind": .string(enumValues: ["course", "project"]), "id": .string(format: "uuid"), "name": .string(), "used": meters,
                "activeLearners": .integer(), "costPerActiveLearner": .credits, "outputs": .integer(), "outputsPerThousandCredits": .number(minimum: 0),
            ], required: ["kind", "id", "name", "used"])),
            "aiByModel": .array(CourseOverviewDTO.modelUse), "smallCellsWithheld": .boolean,
        ], required: ["programmeID", "name", "asOf", "granted", "used", "shareUsed", "shareElapsed", "meters", "weeks", "places", "aiByModel", "smallCellsWithheld"])
    }
    static var samples: [ProgrammeAnalyticsDTO] {
        let meters = Meters(grading: Credits(whole: 12), ai: Credits(whole: 3), labs: Credits(whole: 5), jobs: Credits(whole: 40), other: Credits(whole: 1))
        return [ProgrammeAnalyticsDTO(
            programmeID: Sample.id, name: "Cloud for teaching", asOf: Sample.date, granted: Credits(whole: 5_000), used: meters.total, shareUsed: 0.0122,
            shareElapsed: 0.25, activeLearners: 30, costPerActiveLearner: Credits(micro: 700_000), meters: meters,
            weeks: [Week(week: "2026-11-30", meters: meters)],
            places: [Place(kind: "course", id: Sample.id, name: "CS101 Programming", used: meters, activeLearners: 30, costPerActiveLearner: Credits(micro: 700_000)),
                     Place(kind: "project", id: Sample.id, name: "Protein folding", used: meters, outputs: 2, outputsPerThousandCredits: 32.8)],
            aiByModel: [ModelUse(model: "demo-small", requests: 4, tokens: 900, credits: Credits(micro: 12_000))], smallCellsWithheld: false)]
    }
}

extension RiskFlagDTO: APIBody {
    static let schemaName = "RiskFlag"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "userID": .string(format: "uuid"), "name": .string(), "email": .string(),
        "rule": .string(enumValues: RiskRule.allCases.map(\.rawValue)), "subject": .string(), "reason": .string(),
        "raisedAt": .string(format: "date-time"), "seenAt": .string(format: "date-time"), "dismissedAt": .string(format: "date-time"), "dismissedBy": .string(),
    ], required: ["id", "userID", "name", "email", "rule", "subject", "reason", "raisedAt", "seenAt"])
    static var samples: [RiskFlagDTO] {
        [RiskFlagDTO(id: Sample.id, userID: Sample.id, name: "Ada", email: "ada@uni.test", rule: "failing_test", subject: "\(Sample.id)/edge",
                     reason: "The test “edge” of “Loops” has failed on every attempt for 4 days.", raisedAt: Sample.date, seenAt: Sample.date,
                     dismissedAt: Sample.date, dismissedBy: "Grace")]
    }
}

extension RiskFlagChange: APIInput {
    static let schema = JSONSchema.object(["dismissed": .boolean], required: ["dismissed"])
}

extension RiskCheckDTO: APIBody {
    static let schemaName = "RiskCheck"
    static let schema = JSONSchema.object(["courseID": .string(format: "uuid"), "checkedAt": .string(format: "date-time"), "open": .integer()],
                                          required: ["courseID", "open"])
    static var samples: [RiskCheckDTO] { [RiskCheckDTO(courseID: Sample.id, checkedAt: Sample.date, open: 3)] }
}

extension CourseOverviewDTO: APIBody {
    static let schemaName = "CourseOverview"
    static let modelUse = JSONSchema.object(["model": .string(), "requests": .integer(), "tokens": .integer(), "credits": .credits],
                                            required: ["model", "requests", "tokens", "credits"])
    static let schema = JSONSchema.object([
        "courseID": .string(format: "uuid"), "code": .string(), "asOf": .string(format: "date-time"), "students": .integer(),
        "handInsByDay": .array(.object(["day": .string(format: "date"), "count": .integer()], required: ["day", "count"])),
        "assignments": .array(.object([
            "assignmentID": .string(format: "uuid"), "title": .string(), "dueAt": .string(format: "date-time"), "pointsPossible": .number(),
            "scored": .integer(), "medianScore": .number(), "distribution": .array(.integer()), "distributionMaximum": .number(),
            "fullScores": .integer(), "medianHoursToFullScore": .number(),
            "tests": .array(.object(["name": .string(), "passed": .integer(), "total": .integer()], required: ["name", "passed", "total"])),
        ], required: ["assignmentID", "title", "scored", "distribution", "distributionMaximum", "fullScores", "tests"])),
        "people": .array(.object([
            "userID": .string(format: "uuid"), "name": .string(), "email": .string(), "handIns": .integer(), "creditsUsed": .credits,
            "aiRequests": .integer(), "labMinutes": .integer(),
        ], required: ["userID", "name", "email", "handIns", "creditsUsed", "aiRequests", "labMinutes"])),
        "aiByModel": .array(modelUse),
    ], required: ["courseID", "code", "asOf", "students", "handInsByDay", "assignments", "people", "aiByModel"])
    static var samples: [CourseOverviewDTO] {
        [CourseOverviewDTO(
            courseID: Sample.id, code: "CS101", asOf: Sample.date, students: 1, handInsByDay: [DayCount(day: "2026-09-01", count: 3)],
            assignments: [AssignmentInsight(assignmentID: Sample.id, title: "Hello", dueAt: Sample.date, pointsPossible: 10, scored: 1, medianScore: 9,
                                            distribution: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], distributionMaximum: 10, fullScores: 1, medianHoursToFullScore: 20.5,
                                            tests: [TestRate(name: "prints hello", passed: 1, total: 1)])],
            people: [StudentInsight(userID: Sample.id, name: "Ada", email: "ada@uni.test", handIns: 3, creditsUsed: Credits(micro: 1_500_000),
                                    aiRequests: 4, labMinutes: 30)],
            aiByModel: [ModelUse(model: "demo-small", requests: 4, tokens: 900, credits: Credits(micro: 12_000))])]
    }
}

extension StudentOverviewDTO: APIBody {
    static let schemaName = "StudentOverview"
    static let schema = JSONSchema.object([
        "courseID": .string(format: "uuid"), "userID": .string(format: "uuid"), "name": .string(), "email": .string(),
        "assignments": .array(.object([
            "assignmentID": .string(format: "uuid"), "title": .string(), "dueAt": .string(format: "date-time"), "pointsPossible": .number(),
            "score": .number(), "attempts": .integer(), "latestSubmissionID": .string(format: "uuid"), "lastHandIn": .string(format: "date-time"),
            "failing": .array(.string()), "testsRun": .integer(),
        ], required: ["assignmentID", "title", "attempts", "failing", "testsRun"])),
        "creditsUsed": .credits, "creditsFree": .credits, "aiByModel": .array(CourseOverviewDTO.modelUse), "labMinutes": .integer(),
    ], required: ["courseID", "userID", "name", "email", "assignments", "creditsUsed", "aiByModel", "labMinutes"])
    static var samples: [StudentOverviewDTO] {
        [StudentOverviewDTO(
            courseID: Sample.id, userID: Sample.id, name: "Ada", email: "ada@uni.test",
            assignments: [AssignmentLine(assignmentID: Sample.id, title: "Hello", dueAt: Sample.date, pointsPossible: 10, score: 9, attempts: 2,
                                         latestSubmissionID: Sample.id, lastHandIn: Sample.date, failing: ["handles empty input"], testsRun: 5)],
            creditsUsed: Credits(micro: 1_500_000), creditsFree: Credits(whole: 8), aiByModel: CourseOverviewDTO.samples[0].aiByModel, labMinutes: 30)]
    }
}
