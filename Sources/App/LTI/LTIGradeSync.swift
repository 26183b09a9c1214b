// Grade passback (LTI Assignment and Grade Services 2.0), through an outbox on the durable queue. When a grade
// changes (a result, an adjustment, grades published) and its assignment's grades are published, every LMS line item
// of the assignment gets a pending row for each student — in the change's own transaction, a few statements whatever
// the class size — and the LMS's job is queued if none is. That job posts one score at a time per LMS, the student's
// current grade read at the moment of posting (so a post never sends a stale score), with an access token kept per
// LMS and scope until it expires. A 429 or 503 is answered by waiting its Retry-After; a passing failure backs that
// row off on its own (and the whole job, when the LMS looks down); a score the LMS refuses (4xx) stays failed with
// its answer until staff resend it. `timestamp` is the post's time and `submittedAt` the hand-in's, so the LMS does
// not mark work late by when the post went out.
//
// An assignment's line item is the one its link's launch named. When no launch named one — a link the LMS made by
// deep linking that nobody opened yet, or a link whose LMS made no column — the job looks in the LMS course's line
// item container for the item whose `resource_id` is the assignment's id, and, where the LMS grants the `lineitem`
// scope and a link in that course opens the assignment, makes one.
import Fluent
import Foundation
import Identity
import NIOCore
import SQLKit
import Vapor

enum LTIGradeSync {
    static let kind = "lti-scores"
    static let scoreScope = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    static let lineItemScope = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
    static let lineItemReadScope = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
    /// Posts per run, after which the job queues itself again (its lease stays short, others get a turn).
    static let batch = 100
    /// Line items failing for a passing reason in a row after which the LMS looks down: the whole job waits rather
    /// than trying every row.
    static let downAfter = 3
    /// Outbox rows per INSERT statement.
    static let rowsPerStatement = 200
    /// Pages of an LMS course's line item container read when looking for one.
    static let mostContainerPages = 20

    struct Payload: Codable { var registration: UUID }

    // MARK: The outbox

    /// The grade listener: rows for the students whose grade `change` touched, on line items of published assignments;
    /// for grades published, a look for the assignment's line item in LMS courses where none is known.
    @Sendable static func changed(_ change: GradeChange, on db: any Database, now: Date) async throws {
        var registrations: Set<UUID>
        switch change {
        case .submission(let id):
            // Most results come before grades are published: then nothing is read further.
            guard let found = try await db.sqlDatabase().raw("""
                SELECT s.assignment_id, s.user_id FROM submissions s JOIN assignments a ON a.id = s.assignment_id
                WHERE s.id = \(bind: id) AND s.is_test_run = \(bind: false) AND a.grades_published_at IS NOT NULL
                """).first() else { return }
            registrations = try await outbox(assignment: try found.decode(column: "assignment_id", as: UUID.self),
                                             student: try found.decode(column: "user_id", as: UUID.self), on: db, now: now)
        case .assignment(let id):
            registrations = try await outbox(assignment: id, on: db, now: now)
            registrations.formUnion(try await lookForLineItems(of: id, unlessLookedAfter: now, on: db))
        }
        // In one order, so that two changes queueing the same LMSs never wait on each other.
        for registration in registrations.sorted(by: { $0.uuidString < $1.uuidString }) { try await queue(registration, on: db, now: now) }
    }

    /// Pending rows (new, or made pending again) for each student of the course linked at the line item's LMS (or
    /// only `student`), on the assignment's line items (or only `lineItem`): one read, and one statement per 200 rows.
    static func outbox(assignment: UUID, student: UUID? = nil, lineItem: String? = nil, on db: any Database, now: Date) async throws -> Set<UUID> {
        let sql = try db.sqlDatabase()
        let onlyItem: SQLQueryString = lineItem.map { "AND i.url = \(bind: $0)" } ?? ""
        let onlyStudent: SQLQueryString = student.map { "AND m.user_id = \(bind: $0)" } ?? ""
        let found = try await sql.raw("""
            WITH items AS (
              SELECT context_id, assignment_id, line_item_url AS url FROM lti_resource_links WHERE assignment_id = \(bind: assignment) AND line_item_url IS NOT NULL
              UNION ALL SELECT context_id, assignment_id, url FROM lti_line_items WHERE assignment_id = \(bind: assignment) AND url IS NOT NULL)
            SELECT DISTINCT i.url, c.registration_id, a.id AS assignment_id, m.user_id, e.subject
            FROM items i
            JOIN lti_contexts c ON c.id = i.context_id
            JOIN lti_deployments d ON d.registration_id = c.registration_id AND d.deployment_id = c.deployment_id
            JOIN lti_registrations r ON r.id = c.registration_id
            JOIN assignments a ON a.id = i.assignment_id
            JOIN course_members m ON m.course_id = a.course_id AND m.role = \(bind: CourseRole.student.rawValue)
            JOIN external_identities e ON e.user_id = m.user_id AND e.issuer = r.issuer
            WHERE a.grades_published_at IS NOT NULL \(onlyItem) \(onlyStudent)
            """).all()
        // One row per line item and student (a statement may not touch a row twice).
        var rows: [String: [any Encodable & Sendable]] = [:], registrations = Set<UUID>()
        for row in found {
            let (url, user) = (try row.decode(column: "url", as: String.self), try row.decode(column: "user_id", as: UUID.self))
            let registration = try row.decode(column: "registration_id", as: UUID.self)
            registrations.insert(registration)
            rows["\(url) \(user)"] = [UUID(), registration, url, try row.decode(column: "assignment_id", as: UUID.self), user,
                                      try row.decode(column: "subject", as: String.self), LTIScorePost.Status.pending.rawValue, now, 1, 0]
        }
        // In one order (line item, student), so that two changes writing the same rows never wait on each other.
        let values = rows.sorted { $0.key < $1.key }.map(\.value)
        for start in stride(from: 0, to: values.count, by: rowsPerStatement) {
            var insert = sql.insert(into: LTIScorePost.schema)
                .columns("id", "registration_id", "line_item_url", "assignment_id", "user_id", "subject", "status", "changed_at", "version", "attempts")
            for row in values[start..<min(values.count, start + rowsPerStatement)] { insert = insert.values(row) }
            try await insert.onConflict(with: ["line_item_url", "user_id"]) { update in
                update.set("status", to: LTIScorePost.Status.pending.rawValue).set("changed_at", to: now)
                    .set(SQLIdentifier("version"), to: SQLRaw("\(LTIScorePost.schema).version + 1"))
                    .set(SQLIdentifier("last_error"), to: SQLLiteral.null).set(SQLIdentifier("retry_at"), to: SQLLiteral.null)
                    .set("attempts", to: 0).set(excludedValueOf: "subject")
            }.run()
        }
        return registrations
    }

    /// Marks a look due for assignment `id`'s line item in each LMS course of its course that names a line item
    /// container and knows no line item for it — unless one looked after `cutoff` (a launch looks at most hourly,
    /// publishing always). Returns the LMSs to queue.
    static func lookForLineItems(of id: UUID, unlessLookedAfter cutoff: Date, on db: any Database) async throws -> Set<UUID> {
        let sql = try db.sqlDatabase()
        let contexts = try await sql.raw("""
            SELECT c.id, c.registration_id FROM lti_contexts c JOIN assignments a ON a.course_id = c.course_id
            JOIN lti_deployments d ON d.registration_id = c.registration_id AND d.deployment_id = c.deployment_id
            WHERE a.id = \(bind: id) AND a.grades_published_at IS NOT NULL AND c.line_items_url IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM lti_resource_links rl WHERE rl.context_id = c.id AND rl.assignment_id = a.id AND rl.line_item_url IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM lti_line_items li WHERE li.context_id = c.id AND li.assignment_id = a.id
                              AND (li.url IS NOT NULL OR li.looked_up_at IS NULL OR li.looked_up_at > \(bind: cutoff)))
            """).all()
        var registrations = Set<UUID>()
        for context in contexts {
            try await sql.raw("""
                INSERT INTO lti_line_items (id, context_id, assignment_id, attempts) VALUES (\(bind: UUID()), \(bind: try context.decode(column: "id", as: UUID.self)), \(bind: id), 0)
                ON CONFLICT (context_id, assignment_id) DO UPDATE SET looked_up_at = NULL, attempts = 0, retry_at = NULL WHERE lti_line_items.url IS NULL
                """).run()
            registrations.insert(try context.decode(column: "registration_id", as: UUID.self))
        }
        return registrations
    }

    /// A deployment retired: nothing more goes to its LMS courses' line items — their rows are dropped (so that no
    /// resend brings them back), and so are their looks.
    static func retire(deployments: [String], of registration: UUID, on db: any Database) async throws {
        guard !deployments.isEmpty else { return }
        let contexts = try await LTIContext.query(on: db).filter(\.$registration.$id == registration).filter(\.$deploymentID ~~ deployments).all(\.$id)
        guard !contexts.isEmpty else { return }
        try await db.sqlDatabase().raw("""
            DELETE FROM lti_score_posts WHERE registration_id = \(bind: registration) AND line_item_url IN (
              SELECT line_item_url FROM lti_resource_links WHERE context_id IN (\(binds: contexts)) AND line_item_url IS NOT NULL
              UNION SELECT url FROM lti_line_items WHERE context_id IN (\(binds: contexts)) AND url IS NOT NULL)
            """).run()
        try await LTILineItem.query(on: db).filter(\.$context.$id ~~ contexts).delete()
    }

    /// Queues the LMS's job unless one is queued or running (one poster per LMS). A job queued for later because a
    /// row backs off is brought forward (new scores do not wait for that row); one waiting because the LMS asked to
    /// wait, or looked down (a retried job), is not.
    static func queue(_ registration: UUID, on db: any Database, now: Date) async throws {
        let payload = try JobQueue.encode(Payload(registration: registration))
        try await db.sqlDatabase().raw("""
            UPDATE \(ident: QueuedJob.schema) SET run_after = \(bind: now)
            WHERE kind = \(bind: kind) AND payload = \(bind: payload) AND status = \(bind: QueuedJobStatus.queued.rawValue) AND attempts = 0 AND run_after > \(bind: now)
            """).run()
        try await JobQueue.enqueueUnlessLive(kind, payload: payload, maxAttempts: 1000, at: now, on: db)
    }

    /// Staff send an assignment's scores again (all of them, or the failed ones) — once its grades are published.
    static func resend(_ assignment: Assignment, onlyFailed: Bool, writes: Writes, now: Date) async throws -> Int {
        guard assignment.gradesPublished else { throw InputRejection.conflict("Publish the grades first: the LMS gets published grades only.") }
        let assignmentID = try assignment.requireID()
        return try await writes.transaction { tx in
            let statuses = onlyFailed ? [LTIScorePost.Status.failed] : [.failed, .sent, .withheld]
            let rows = try await LTIScorePost.query(on: tx).filter(\.$assignment.$id == assignmentID).filter(\.$status ~~ statuses).all()
            guard !rows.isEmpty else { return 0 }
            try await tx.sqlDatabase().raw("""
                UPDATE lti_score_posts SET status = \(bind: LTIScorePost.Status.pending.rawValue), changed_at = \(bind: now), version = version + 1,
                  last_error = NULL, attempts = 0, retry_at = NULL
                WHERE id IN (\(binds: try rows.map { try $0.requireID() }))
                """).run()
            for registration in Set(rows.map { $0.$registration.id }) { try await queue(registration, on: tx, now: now) }
            return rows.count
        }
    }

    /// The sweep's part: an LMS (switched on) with scores due or line items to look for, and no job, gets one.
    @Sendable static func sweep(_ app: Application) async throws {
        let now = app.clock.now()
        let due = try await app.db.sqlDatabase().raw("""
            SELECT registration_id FROM lti_score_posts WHERE status = \(bind: LTIScorePost.Status.pending.rawValue) AND (retry_at IS NULL OR retry_at <= \(bind: now))
            UNION SELECT c.registration_id FROM lti_line_items li JOIN lti_contexts c ON c.id = li.context_id
              WHERE li.url IS NULL AND li.looked_up_at IS NULL AND (li.retry_at IS NULL OR li.retry_at <= \(bind: now))
            """).all().map { try $0.decode(column: "registration_id", as: UUID.self) }
        let on = try await LTIRegistration.query(on: app.db).filter(\.$enabled == true).all(\.$id)
        for registration in Set(due).intersection(on) { try await queue(registration, on: app.db, now: now) }
    }

    // MARK: Posting

    typealias Outcome = LTIServices.Outcome

    /// Posts `row`'s current score.
    static func post(_ row: LTIScorePost, registration: LTIRegistration, app: Application, now: Date) async throws -> (Outcome, ScorePost?) {
        guard let assignment = try await Assignment.find(row.$assignment.id, on: app.db) else { return (.refused("The assignment was deleted."), nil) }
        // Grades withdrawn since the change: nothing leaves until they are published again (publishing makes it pending).
        guard assignment.gradesPublished else { return (.withheld, nil) }
        let grade = try await GradebookData.grade(of: row.$user.id, on: assignment, db: app.db)
        let score = ScorePost(userID: row.subject, score: grade.score, maximum: grade.maximum, handedIn: grade.handedIn, final: grade.final,
                              submittedAt: grade.lastHandIn, now: now)
        guard var address = URLComponents(string: row.lineItemURL) else { return (.refused("The line item's address is not a URL."), score) }
        address.path = address.path.hasSuffix("/") ? address.path + "scores" : address.path + "/scores"
        guard let url = address.string else { return (.refused("The line item's address is not a URL."), score) }
        switch try await LTIServices.call(url, method: .POST, body: try JSONEncoder().encode(score), contentType: "application/vnd.ims.lis.v1.score+json",
                                          scope: scoreScope, what: "a score", registration: registration, app: app, now: now) {
        case .success: return (.sent, score)
        case .failure(let outcome): return (outcome, score)
        }
    }

    // MARK: Finding line items

    /// What looking for a line item came to.
    enum Look: Equatable {
        case found(String)
        case none
    }

    /// The line item of `assignment` in the LMS course `context`: the container's item whose resource id is the
    /// assignment's; else, where the LMS lets the tool make line items and a link of this course opens the
    /// assignment, a new one (its maximum the assignment's points).
    static func look(for assignment: Assignment, in context: LTIContext, registration: LTIRegistration, app: Application, now: Date) async throws -> Result<Look, Outcome> {
        guard let container = context.lineItemsURL, let scope = context.lineItemsScope, var address = URLComponents(string: container) else { return .success(.none) }
        let resourceID = try assignment.requireID().uuidString
        address.queryItems = (address.queryItems ?? []) + [URLQueryItem(name: "resource_id", value: resourceID)]
        guard let url = address.string else { return .success(.none) }
        // Every page (an LMS may ignore `resource_id` and list them all, a page at a time), on the container's host.
        var next: String? = url, pages = 0
        while let page = next, pages < mostContainerPages {
            pages += 1
            guard LTIServices.usable(page, registration), LTIRosterSync.sameOrigin(page, container) else { break }
            let listed: LTIServices.Answer
            switch try await LTIServices.call(page, accept: "application/vnd.ims.lis.v2.lineitemcontainer+json", scope: scope, what: "its line items",
                                              registration: registration, app: app, now: now) {
            case .success(let answer): listed = answer
            case .failure(let outcome): return .failure(outcome)
            }
            if let item = LineItem.named(resourceID, in: Data(buffer: listed.body)), let id = item.id {
                return LTIServices.usable(id, registration) ? .success(.found(id)) : .failure(.refused("The LMS named a line item outside its own network."))
            }
            next = LTIRosterSync.nextPage(listed.headers)
        }
        // Not read to its end: nothing is made (it may be on a page not read).
        if next != nil { return .failure(.refused("The LMS's line items run to more than \(mostContainerPages) pages, or a page is on another host.")) }
        guard scope == lineItemScope, let maximum = assignment.pointsPossible, maximum > 0,
              let link = try await LTIResourceLink.query(on: app.db).filter(\.$context.$id == context.requireID())
                  .filter(\.$assignment.$id == assignment.requireID()).sort(\.$createdAt).first() else { return .success(.none) }
        let item = LineItem(scoreMaximum: maximum, label: String(assignment.title.prefix(200)), resourceId: resourceID, resourceLinkId: link.resourceLinkID)
        switch try await LTIServices.call(container, method: .POST, body: try JSONEncoder().encode(item), contentType: "application/vnd.ims.lis.v2.lineitem+json",
                                          accept: "application/vnd.ims.lis.v2.lineitem+json", scope: scope, what: "a new line item",
                                          registration: registration, app: app, now: now) {
        case .success(let answer):
            guard let made = try? JSONDecoder().decode(LineItem.self, from: Data(buffer: answer.body)), let id = made.id, LTIServices.usable(id, registration) else {
                return .failure(.refused("The LMS made the line item but did not give a usable address for it."))
            }
            return .success(.found(id))
        case .failure(let outcome): return .failure(outcome)
        }
    }

}

/// The LMS's job: looks for the line items it must, then posts its pending scores one at a time.
struct LTIScoreHandler: JobHandler {
    var kind: String { LTIGradeSync.kind }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        let app = worker.app, job = claimed.job
        let payload = try JobQueue.decode(LTIGradeSync.Payload.self, job.payload)
        guard let registration = try await LTIRegistration.find(payload.registration, on: app.db) else {
            try await worker.complete(job, result: "the LMS's registration was removed") { _ in }
            return nil
        }
        // Switched off: its scores stay pending, sent by the sweep once it is on again.
        guard registration.enabled else {
            try await worker.complete(job, result: "the LMS's registration is switched off") { _ in }
            return nil
        }
        // One poster per LMS: a second job queued by a race leaves the posting to the first.
        if try await QueuedJob.query(on: app.db).filter(\.$kind == kind).filter(\.$payload == job.payload).filter(\.$status == .running)
            .filter(\.$id != job.requireID()).count() > 0 {
            try await worker.complete(job, result: "another job posts this LMS's scores") { _ in }
            return nil
        }
        try await lookForLineItems(registration, app: app)
        // The line items that failed in a row (a success clears them): several failing means the LMS looks down. A line
        // item failing twice in a run (two students' scores) backs off whole: its other rows are not tried one by one.
        var sent = 0, tried = 0, failing = Set<String>(), failedOnce = Set<String>(), resting = Set<String>()
        while tried < LTIGradeSync.batch {
            tried += 1
            let now = app.clock.now()
            // Switched off while posting: the rest wait.
            guard try await LTIRegistration.query(on: app.db).filter(\.$id == payload.registration).filter(\.$enabled == true).count() > 0 else { break }
            guard let row = try await LTIScorePost.query(on: app.db).filter(\.$registration.$id == payload.registration).filter(\.$status == .pending)
                .group(.or, { $0.filter(\.$retryAt == nil).filter(\.$retryAt <= now) }).filter(\.$lineItemURL !~ Array(resting))
                .sort(\.$changedAt).first() else { break }
            let read = row.version
            let (outcome, score) = try await LTIGradeSync.post(row, registration: registration, app: app, now: now)
            let sql = try app.db.sqlDatabase()
            if case .transient = outcome {} else { (failing, failedOnce) = ([], failedOnce.subtracting([row.lineItemURL])) }
            switch outcome {
            case .sent:
                // Sent: unless the grade changed again while the post was out (then it stays pending for the next one).
                try await sql.raw("""
                    UPDATE lti_score_posts SET status = \(bind: LTIScorePost.Status.sent.rawValue), sent_at = \(bind: now), score_sent = \(bind: score?.scoreGiven),
                      progress_sent = \(bind: score?.gradingProgress), last_error = NULL, attempts = 0, retry_at = NULL
                    WHERE id = \(bind: row.requireID()) AND version = \(bind: read)
                    """).run()
                sent += 1
            case .refused(let reason):
                try await sql.raw("""
                    UPDATE lti_score_posts SET status = \(bind: LTIScorePost.Status.failed.rawValue), last_error = \(bind: reason)
                    WHERE id = \(bind: row.requireID()) AND version = \(bind: read)
                    """).run()
                app.logger.warning("LTI score for \(row.subject) refused by \(registration.name): \(reason)")
            case .withheld:
                try await sql.raw("""
                    UPDATE lti_score_posts SET status = \(bind: LTIScorePost.Status.withheld.rawValue) WHERE id = \(bind: row.requireID()) AND version = \(bind: read)
                    """).run()
            case .wait(let delay):
                throw RetryLater(delay: delay, reason: "\(registration.name) asked to wait \(Int(delay)) s")
            case .transient(let reason):
                // This row backs off on its own: 10 s, 20 s, … up to an hour; the others go on.
                let delay = min(3600, 10 * pow(2, Double(min(row.attempts, 9))))
                try await sql.raw("""
                    UPDATE lti_score_posts SET last_error = \(bind: reason), attempts = attempts + 1, retry_at = \(bind: now.addingTimeInterval(delay))
                    WHERE id = \(bind: row.requireID()) AND version = \(bind: read)
                    """).run()
                if failedOnce.contains(row.lineItemURL) {
                    // Twice on this line item: all of its waiting rows back off with this one.
                    try await sql.raw("""
                        UPDATE lti_score_posts SET retry_at = \(bind: now.addingTimeInterval(delay))
                        WHERE registration_id = \(bind: payload.registration) AND line_item_url = \(bind: row.lineItemURL)
                          AND status = \(bind: LTIScorePost.Status.pending.rawValue) AND (retry_at IS NULL OR retry_at < \(bind: now.addingTimeInterval(delay)))
                        """).run()
                    resting.insert(row.lineItemURL)
                }
                failedOnce.insert(row.lineItemURL)
                failing.insert(row.lineItemURL)
                // Several line items in a row: the LMS looks down, and the whole job waits (backing off with its
                // attempts). One failing line item only backs its own rows off.
                if failing.count >= LTIGradeSync.downAfter {
                    throw RetryLater(delay: min(3600, 10 * pow(2, Double(min(job.attempts, 9)))), reason: reason)
                }
            }
        }
        try await worker.complete(job, result: "posted \(sent) score(s)") { tx in
            // More to send (the batch is done, a change came while the last post was out, a row waits its turn): the
            // next job takes it, when the first of them is due.
            let pending = LTIScorePost.query(on: tx).filter(\.$registration.$id == payload.registration).filter(\.$status == .pending)
            guard try await pending.count() > 0 else { return }
            let now = app.clock.now()
            let due = try await pending.copy().group(.or) { $0.filter(\.$retryAt == nil).filter(\.$retryAt <= now) }.count() > 0
            let at = due ? now : max(now, try await pending.copy().min(\.$retryAt) ?? now)
            try await JobQueue.enqueue(LTIGradeSync.kind, payload: job.payload, maxAttempts: 1000, runAfter: at, at: now, on: tx)
        }
        return nil
    }

    /// Each line item of this LMS to look for (a few per run): found or made, its students' scores go in the outbox;
    /// not there, it is looked for again when grades are published again or a link to it is launched.
    func lookForLineItems(_ registration: LTIRegistration, app: Application) async throws {
        let start = app.clock.now()
        let due = try await LTILineItem.query(on: app.db).join(LTIContext.self, on: \LTILineItem.$context.$id == \LTIContext.$id)
            .filter(LTIContext.self, \.$registration.$id == registration.requireID()).filter(\.$url == nil).filter(\.$lookedUpAt == nil)
            .group(.or) { $0.filter(\.$retryAt == nil).filter(\.$retryAt <= start) }
            .with(\.$context).with(\.$assignment).limit(20).all()
        for item in due {
            let now = app.clock.now()
            switch try await LTIGradeSync.look(for: item.assignment, in: item.context, registration: registration, app: app, now: now) {
            case .success(.found(let url)):
                try await app.writes.transaction { tx in
                    item.url = url
                    item.lookedUpAt = now
                    try await item.save(on: tx)
                    _ = try await LTIGradeSync.outbox(assignment: try item.assignment.requireID(), lineItem: url, on: tx, now: now)
                }
            case .success(.none):
                item.lookedUpAt = now
                try await item.save(on: app.db)
            case .failure(.refused(let reason)):
                item.lookedUpAt = now
                try await item.save(on: app.db)
                app.logger.warning("LTI line item for \(item.assignment.title) at \(registration.name): \(reason)")
            case .failure(.wait(let delay)):
                throw RetryLater(delay: delay, reason: "\(registration.name) asked to wait \(Int(delay)) s")
            case .failure(let other):
                // Backs off on its own (30 s, 1 min, … up to an hour), looked for again by the sweep; the scores
                // already known go on.
                item.retryAt = now.addingTimeInterval(min(3600, 30 * pow(2, Double(min(item.attempts, 7)))))
                item.attempts += 1
                try await item.save(on: app.db)
                app.logger.warning("LTI line item for \(item.assignment.title) at \(registration.name) not looked up: \(other)")
            }
        }
    }

    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        app.logger.error("LTI grade passback stopped after \(job.attempts) attempts: \(reason); staff can resend")
    }
}
