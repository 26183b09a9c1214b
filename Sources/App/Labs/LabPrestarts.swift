// A class that starts together (an exam, a lab hour): staff ask for every student of the course (or a list of them)
// to have a session of a lab ready at a time; a queued job runs then and starts them all, so each student finds
// theirs open. The class's time can be charged to the course instead of each student.
import Fluent
import Foundation
import Labs
import Vapor

struct LabPrestartInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case at, students, chargeCourse }
    typealias Fields = CodingKeys
    /// When (ISO 8601 or YYYY-MM-DDTHH:MM, UTC); empty or absent: now.
    var at: String?
    /// Students' emails, one per line or comma-separated; empty or absent: every student of the course.
    var students: String?
    /// Default true: the class's time is the course's; false: each student's allowance pays.
    var chargeCourse: Bool?
}

extension LabPrestartInput: APIInput {
    static var schema: JSONSchema {
        .object(["at": .string(), "students": .string(), "chargeCourse": .boolean], required: [])
    }
}

struct LabPrestartDTO: Content {
    var labID: UUID
    var at: Date
    var students: Int
    var chargeCourse: Bool
}

extension LabPrestartDTO: APIBody {
    static let schemaName = "LabPrestart"
    static let schema = JSONSchema.object(["labID": .string(format: "uuid"), "at": .string(format: "date-time"), "students": .integer(),
                                           "chargeCourse": .boolean], required: ["labID", "at", "students", "chargeCourse"])
    static let samples = [LabPrestartDTO(labID: Sample.id, at: Sample.date, students: 28, chargeCourse: true)]
}

enum LabPrestarts {
    struct Payload: Codable { var lab: UUID; var users: [UUID]; var chargeCourse: Bool }

    /// Checks the request and queues the start for its time.
    static func schedule(_ lab: LabEnvironment, course: Course, _ input: LabPrestartInput, at now: Date, on db: any Database) async throws -> LabPrestartDTO {
        var checks = InputChecks()
        let when = InputChecks.dateTime(input.at, "at", &checks) ?? now
        if when < now.addingTimeInterval(-60) { checks.add("at is in the past.") }
        let members = try await CourseMember.query(on: db).filter(\.$course.$id == course.requireID()).filter(\.$role == .student).filter(\.$leftAt == nil).with(\.$user).all()
        var chosen = members.map(\.user)
        let wanted = (input.students ?? "").split(whereSeparator: { $0.isNewline || $0 == "," }).map { User.normalise(email: String($0)) }.filter { !$0.isEmpty }
        if !wanted.isEmpty {
            let byEmail = Dictionary(members.map { ($0.user.email, $0.user) }, uniquingKeysWith: { a, _ in a })
            let unknown = wanted.filter { byEmail[$0] == nil }
            if !unknown.isEmpty { checks.add("not students of \(course.code): \(unknown.prefix(10).joined(separator: ", ")).") }
            chosen = wanted.compactMap { byEmail[$0] }
        }
        if chosen.isEmpty { checks.add("the course has no students to start it for.") }
        try checks.finish()
        // The course pays unless told otherwise: nobody chose this session but the staff.
        let payload = Payload(lab: try lab.requireID(), users: try chosen.map { try $0.requireID() }, chargeCourse: input.chargeCourse ?? true)
        try await JobQueue.enqueue(LabPrestartHandler.kind, payload: try JobQueue.encode(payload), maxAttempts: 1, runAfter: when, at: now, on: db)
        return LabPrestartDTO(labID: payload.lab, at: when, students: payload.users.count, chargeCourse: payload.chargeCourse)
    }
}

/// Starts the class's sessions at their time, on the lab host that claims the job; a student who has one running
/// already keeps it. What could not start is in the job's result.
struct LabPrestartHandler: JobHandler {
    static let kind = "lab-prestart"
    var kind: String { Self.kind }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        let job = claimed.job, app = worker.app
        let payload = try JobQueue.decode(LabPrestarts.Payload.self, job.payload)
        guard let lab = try await LabEnvironment.find(payload.lab, on: app.db), let course = try await Course.find(lab.$course.id, on: app.db) else {
            try await worker.complete(job, result: "the lab no longer exists") { _ in }
            return nil
        }
        var started = 0, problems: [String] = []
        for userID in payload.users {
            guard let user = try await User.find(userID, on: app.db) else { continue }
            do {
                let access = try await CourseAccess.load(user, course, on: app.db)
                guard Policy.allows(user, .viewLab(access, openTo: .students)) else { problems.append("\(user.email): no longer in the course"); continue }
                _ = try await LabSessions.start(lab, course: course, user: user, access: access, app: app, now: app.clock.now(),
                                                chargeCourse: payload.chargeCourse, scheduled: true)
                started += 1
            } catch let refusal as Refusal {
                problems.append("\(user.email): \(refusal.reason)")
            }
        }
        let result = "started \(started) of \(payload.users.count)" + (problems.isEmpty ? "" : "; " + problems.prefix(20).joined(separator: "; "))
        try await worker.complete(job, result: String(result.prefix(2000))) { _ in }
        return nil
    }

    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {}
}

extension LabController {
    @Sendable static func prestart(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, _ in .manageLabs(access) })
        let scheduled = try await LabPrestarts.schedule(found.lab, course: found.course, try req.input(LabPrestartInput.self), at: req.now, on: req.db)
        req.application.jobBell.ring()
        return try await scheduled.encodeResponse(status: .accepted, for: req)
    }

    @Sendable static func prestartFromPage(req: Request) async throws -> Response {
        let found = try await req.lab(for: { access, _ in .manageLabs(access) })
        return try await req.formAction(back: .lab(.id(try found.lab.requireID())), at: "class", render: { try await render(req, found, $0) }) {
            let scheduled = try await LabPrestarts.schedule(found.lab, course: found.course, try req.input(LabPrestartInput.self), at: req.now, on: req.db)
            req.application.jobBell.ring()
            return "Sessions for \(scheduled.students) students start at \(PageFormat.when(scheduled.at) ?? "once") UTC"
                + (scheduled.chargeCourse ? ", charged to the course." : ", each paid from the student's allowance.")
        }
    }
}
