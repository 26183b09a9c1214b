// Grade passback (LTI Assignment and Grade Services 2.0), through an outbox on the durable queue. When a grade
// changes (a result, an adjustment, grades published) and its assignment's grades are published, every LMS line item
// linked to the assignment gets a pending row for the student — in the change's own transaction — and the LMS's
// job is queued if none is. That job posts one score at a time per LMS, the student's current grade read at the
// moment of posting (so a post never sends a stale score), with an access token kept per LMS and scope until it
// expires. A 429 or 503 is answered by waiting its Retry-After; other failures back off and retry; a score the LMS
// refuses (4xx) stays failed with its answer until staff resend it. `timestamp` is the post's time and
// `submittedAt` the hand-in's, so the LMS does not mark work late by when the post went out.
import Fluent
import Foundation
import Identity
import NIOCore
import NIOHTTP1
import SQLKit
import Vapor
import AsyncHTTPClient

enum LTIGradeSync {
    static let kind = "lti-scores"
    static let scoreScope = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    /// Posts per run, after which the job queues itself again (its lease stays short, others get a turn).
    static let batch = 100

    struct Payload: Codable { var registration: UUID }

    // MARK: The outbox

    /// The grade listener: rows for the students whose grade `change` touched, on line items of published assignments.
    @Sendable static func changed(_ change: GradeChange, on db: any Database, now: Date) async throws {
        let sql = try db.sqlDatabase()
        let filter: SQLQueryString
        switch change {
        case .submission(let id):
            filter = "a.id = (SELECT assignment_id FROM submissions WHERE id = \(bind: id) AND is_test_run = \(bind: false)) AND m.user_id = (SELECT user_id FROM submissions WHERE id = \(bind: id))"
        case .assignment(let id):
            filter = "a.id = \(bind: id)"
        }
        // Each student of the course linked at the link's LMS, for each line item of the assignment: one statement.
        let rows = try await sql.raw("""
            SELECT DISTINCT rl.line_item_url, c.registration_id, a.id AS assignment_id, m.user_id, e.subject
            FROM lti_resource_links rl
            JOIN lti_contexts c ON c.id = rl.context_id
            JOIN lti_registrations r ON r.id = c.registration_id
            JOIN assignments a ON a.id = rl.assignment_id
            JOIN course_members m ON m.course_id = a.course_id AND m.role = \(bind: CourseRole.student.rawValue)
            JOIN external_identities e ON e.user_id = m.user_id AND e.issuer = r.issuer
            WHERE rl.line_item_url IS NOT NULL AND a.grades_published_at IS NOT NULL AND \(filter)
            """).all()
        guard !rows.isEmpty else { return }
        var registrations = Set<UUID>()
        for row in rows {
            let registration = try row.decode(column: "registration_id", as: UUID.self)
            registrations.insert(registration)
            try await sql.raw("""
                INSERT INTO lti_score_posts (id, registration_id, line_item_url, assignment_id, user_id, subject, status, changed_at, version)
                VALUES (\(bind: UUID()), \(bind: registration), \(bind: try row.decode(column: "line_item_url", as: String.self)),
                        \(bind: try row.decode(column: "assignment_id", as: UUID.self)), \(bind: try row.decode(column: "user_id", as: UUID.self)),
                        \(bind: try row.decode(column: "subject", as: String.self)), \(bind: LTIScorePost.Status.pending.rawValue), \(bind: now), 1)
                ON CONFLICT (line_item_url, user_id) DO UPDATE SET status = \(bind: LTIScorePost.Status.pending.rawValue), changed_at = \(bind: now),
                  version = lti_score_posts.version + 1, last_error = NULL, subject = excluded.subject
                """).run()
        }
        for registration in registrations { try await queue(registration, on: db, now: now) }
    }

    /// Queues the LMS's job unless one is queued or running (one poster per LMS).
    static func queue(_ registration: UUID, on db: any Database, now: Date) async throws {
        try await JobQueue.enqueueUnlessLive(kind, payload: try JobQueue.encode(Payload(registration: registration)), maxAttempts: 1000, at: now, on: db)
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
                UPDATE lti_score_posts SET status = \(bind: LTIScorePost.Status.pending.rawValue), changed_at = \(bind: now), version = version + 1, last_error = NULL
                WHERE id IN (\(binds: try rows.map { try $0.requireID() }))
                """).run()
            for registration in Set(rows.map { $0.$registration.id }) { try await queue(registration, on: tx, now: now) }
            return rows.count
        }
    }

    /// The sweep's part: an LMS with scores waiting and no job (a change that came as its job was finishing) gets one.
    @Sendable static func sweep(_ app: Application) async throws {
        let waiting = try await LTIScorePost.query(on: app.db).filter(\.$status == .pending).field(\.$registration.$id).unique().all()
        let on = try await LTIRegistration.query(on: app.db).filter(\.$enabled == true).all(\.$id)
        for registration in Set(waiting.map { $0.$registration.id }).intersection(on) { try await queue(registration, on: app.db, now: app.clock.now()) }
    }

    // MARK: Posting

    /// What posting one score came to.
    enum Outcome: Error, Equatable {
        case sent
        /// The LMS asks to wait (429, 503): the whole job waits, the row stays pending.
        case wait(TimeInterval)
        /// A failure worth trying again later (network, 5xx).
        case transient(String)
        /// The LMS refused this score (4xx): failed until staff resend.
        case refused(String)
        /// The assignment's grades are not published (any more): kept back until they are.
        case withheld
    }

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
        var body = ByteBuffer(data: try JSONEncoder().encode(score))
        for attempt in 0..<2 {
            let token: String
            switch try await app.ltiServiceTokens.token(for: registration, scope: scoreScope, app: app, now: now) {
            case .success(let value): token = value
            case .failure(let outcome): return (outcome, score)
            }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: .contentType, value: "application/vnd.ims.lis.v1.score+json")
            request.headers.add(name: .authorization, value: "Bearer \(token)")
            request.body = .bytes(body)
            let response: HTTPClientResponse
            do { response = try await app.identityHTTP.send(request, .seconds(15)) } catch {
                return (.transient("The LMS could not be reached: \(error)"), score)
            }
            let text = String(buffer: (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer()).prefix(300)
            switch response.status.code {
            case 200..<300: return (.sent, score)
            case 401 where attempt == 0:
                await app.ltiServiceTokens.forget(registration: try registration.requireID(), scope: scoreScope)
                body = ByteBuffer(data: try JSONEncoder().encode(score))
                continue
            case 429, 503: return (.wait(retryAfter(response.headers, now: now)), score)
            case 400..<500: return (.refused("The LMS answered \(response.status.code): \(text)"), score)
            default: return (.transient("The LMS answered \(response.status.code): \(text)"), score)
            }
        }
        return (.refused("The LMS refused the access token it had just given."), score)
    }

    /// Retry-After in seconds or as a date; 30 s when absent; at most an hour.
    static func retryAfter(_ headers: HTTPHeaders, now: Date) -> TimeInterval {
        guard let value = headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces) else { return 30 }
        if let seconds = Double(value), seconds.isFinite { return min(3600, max(1, seconds)) }
        let format = DateFormatter()
        (format.locale, format.dateFormat) = (Locale(identifier: "en_US_POSIX"), "EEE, dd MMM yyyy HH:mm:ss zzz")
        if let date = format.date(from: value) { return min(3600, max(1, date.timeIntervalSince(now))) }
        return 30
    }
}

/// The LMS's job: posts its pending scores one at a time.
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
        var sent = 0
        while sent < LTIGradeSync.batch {
            guard let row = try await LTIScorePost.query(on: app.db).filter(\.$registration.$id == payload.registration)
                .filter(\.$status == .pending).sort(\.$changedAt).first() else { break }
            let read = row.version
            let now = app.clock.now()
            let (outcome, score) = try await LTIGradeSync.post(row, registration: registration, app: app, now: now)
            let sql = try app.db.sqlDatabase()
            switch outcome {
            case .sent:
                // Sent: unless the grade changed again while the post was out (then it stays pending for the next one).
                try await sql.raw("""
                    UPDATE lti_score_posts SET status = \(bind: LTIScorePost.Status.sent.rawValue), sent_at = \(bind: now), score_sent = \(bind: score?.scoreGiven),
                      progress_sent = \(bind: score?.gradingProgress), last_error = NULL
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
                try await sql.raw("UPDATE lti_score_posts SET last_error = \(bind: reason) WHERE id = \(bind: row.requireID())").run()
                // Backs off with the job's attempts: 10 s, 20 s, … up to an hour.
                throw RetryLater(delay: min(3600, 10 * pow(2, Double(min(job.attempts, 9)))), reason: reason)
            }
        }
        try await worker.complete(job, result: "posted \(sent) score(s)") { tx in
            // More to send (the batch is done, or a change came while the last post was out): the next job takes it.
            if try await LTIScorePost.query(on: tx).filter(\.$registration.$id == payload.registration).filter(\.$status == .pending).count() > 0 {
                try await JobQueue.enqueue(LTIGradeSync.kind, payload: job.payload, maxAttempts: 1000, at: app.clock.now(), on: tx)
            }
        }
        return nil
    }

    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        app.logger.error("LTI grade passback stopped after \(job.attempts) attempts: \(reason); staff can resend")
    }
}

/// Access tokens for the LMSs' services, per LMS and scope, until a minute before they expire; one request at a time
/// per LMS and scope.
actor LTIServiceTokens {
    private var kept: [String: (token: String, until: Date)] = [:]
    private var inFlight: [String: Task<Result<ServiceToken, LTIGradeSync.Outcome>, any Error>] = [:]

    func token(for registration: LTIRegistration, scope: String, app: Application, now: Date) async throws -> Result<String, LTIGradeSync.Outcome> {
        let key = "\(try registration.requireID()) \(scope)"
        if let kept = kept[key], kept.until > now { return .success(kept.token) }
        let task = inFlight[key] ?? Task { try await Self.fetch(registration, scope: scope, app: app, now: now) }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        switch try await task.value {
        case .success(let answer):
            kept[key] = (answer.accessToken, now.addingTimeInterval(max(0, (answer.expiresIn ?? 3600) - 60)))
            return .success(answer.accessToken)
        case .failure(let outcome):
            return .failure(outcome)
        }
    }

    func forget(registration: UUID, scope: String) {
        kept["\(registration) \(scope)"] = nil
    }

    /// The client credentials grant with a JWT assertion signed by the tool's key.
    static func fetch(_ registration: LTIRegistration, scope: String, app: Application, now: Date) async throws -> Result<ServiceToken, LTIGradeSync.Outcome> {
        let key = try await LTIToolKeys.signing(secret: app.platformSecret, on: app.db, now: now, logger: app.logger)
        let assertion = try await key.sign(ClientAssertion(clientID: registration.clientID, tokenURL: registration.tokenURL, now: now))
        let form = [("grant_type", "client_credentials"), ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", assertion), ("scope", scope)]
            .map { "\($0.0)=\(SingleSignOns.formEncode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: registration.tokenURL)
        request.method = .POST
        request.headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
        request.headers.add(name: .accept, value: "application/json")
        request.body = .bytes(ByteBuffer(string: form))
        let response: HTTPClientResponse
        do { response = try await app.identityHTTP.send(request, .seconds(15)) } catch {
            return .failure(.transient("The LMS's token endpoint could not be reached: \(error)"))
        }
        let body = try? await response.body.collect(upTo: 64 * 1024)
        switch response.status.code {
        case 200..<300:
            guard let body, let answer = try? JSONDecoder().decode(ServiceToken.self, from: Data(buffer: body)), !answer.accessToken.isEmpty else {
                return .failure(.transient("The LMS's token endpoint answered without an access token."))
            }
            return .success(answer)
        case 429, 503: return .failure(.wait(LTIGradeSync.retryAfter(response.headers, now: now)))
        case 400..<500:
            // The registration is wrong (client id, key set not entered at the LMS, scope not granted): every score of
            // this LMS would fail the same way, so the job waits and tries again rather than failing each row.
            let text = body.map { String(buffer: $0).prefix(300) } ?? ""
            return .failure(.transient("The LMS refused the tool's access token request (\(response.status.code)): \(text)"))
        default: return .failure(.transient("The LMS's token endpoint answered \(response.status.code)."))
        }
    }
}

extension Application {
    private struct LTIServiceTokensKey: StorageKey { typealias Value = LTIServiceTokens }
    var ltiServiceTokens: LTIServiceTokens {
        /// Set once in `configure`.
        get { storage[LTIServiceTokensKey.self]! }
        set { storage[LTIServiceTokensKey.self] = newValue }
    }
}
