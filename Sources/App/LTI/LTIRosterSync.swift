// Roster sync (LTI Names and Role Provisioning Services 2.0): an LMS course's members, read from the roster address
// its launches name — after a launch when the last read is more than an hour old, and nightly — following every
// `Link: rel="next"` page (Canvas sends 50 a page). Members the LMS lists as active get an account (by the same rules
// as a launch: issuer and subject, or a trusted email) and their LMS role (raised, never lowered); students and TAs
// linked through that LMS who are no longer listed, or listed inactive, are marked as having left — kept with their
// work and grades, no longer let in. Instructors are never marked: the course keeps its staff. Nothing changes
// unless every page was read.
import Fluent
import Foundation
import Identity
import NIOCore
import SQLKit
import Vapor
import AsyncHTTPClient

enum LTIRosterSync {
    static let kind = "lti-roster"
    static let scope = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
    /// A roster read less than this long ago is not read again after a launch.
    static let fresh: TimeInterval = 3600
    /// Read nightly: a roster older than this is read again by the sweep.
    static let nightly: TimeInterval = 86_400
    static let mostPages = 200

    struct Payload: Codable { var context: UUID }

    /// Queues a read of the LMS course's roster unless one is queued or running.
    static func queue(_ contextID: UUID, on db: any Database, now: Date) async throws {
        try await JobQueue.enqueueUnlessLive(kind, payload: try JobQueue.encode(Payload(context: contextID)), maxAttempts: 20, at: now, on: db)
    }

    /// The sweep's part: rosters not read for a day.
    @Sendable static func sweep(_ app: Application) async throws {
        let now = app.clock.now()
        let stale = try await LTIContext.query(on: app.db).filter(\.$membershipsURL != nil).group(.or) {
            $0.filter(\.$rosterSyncedAt == nil).filter(\.$rosterSyncedAt < now.addingTimeInterval(-nightly))
        }.with(\.$registration).all()
        // Not an LMS course of a retired deployment.
        let deployed = Set(try await LTIDeployment.query(on: app.db).all().map { "\($0.$registration.id) \($0.deploymentID)" })
        for context in stale where context.registration.enabled && deployed.contains("\(context.$registration.id) \(context.deploymentID)") {
            try await queue(try context.requireID(), on: app.db, now: now)
        }
    }

    /// One member as NRPS lists them.
    struct Member: Decodable {
        var userID: String
        var roles: [String]
        var status: String?
        var email: String?
        var name: String?
        var givenName: String?
        var familyName: String?
        enum CodingKeys: String, CodingKey {
            case userID = "user_id", roles, status, email, name, givenName = "given_name", familyName = "family_name"
        }
        var active: Bool { (status ?? "Active").lowercased() == "active" }
    }

    struct Container: Decodable { var members: [Member] }

    /// Every page of the roster at `address`, or why not.
    static func read(_ address: String, registration: LTIRegistration, app: Application, now: Date) async throws -> Result<[Member], LTIServices.Outcome> {
        var members: [Member] = [], next: String? = address, pages = 0
        while let page = next {
            pages += 1
            guard pages <= mostPages else { return .failure(.refused("The roster has more than \(mostPages) pages.")) }
            guard IdentityProviders.acceptable(endpoint: page, issuer: registration.issuer), sameOrigin(page, address) else {
                return .failure(.refused("The roster's next page is not on the roster's own host (https, outside this machine and its private network)."))
            }
            let answer: LTIServices.Answer
            switch try await LTIServices.call(page, accept: "application/vnd.ims.lti-nrps.v2.membershipcontainer+json", scope: scope,
                                              what: "its roster", registration: registration, app: app, now: now, timeout: .seconds(20), limit: 8 << 20) {
            case .success(let value): answer = value
            case .failure(let outcome): return .failure(outcome)
            }
            guard let container = try? JSONDecoder().decode(Container.self, from: Data(buffer: answer.body)) else {
                return .failure(.refused("The LMS's roster is not a membership container."))
            }
            members += container.members
            next = nextPage(answer.headers)
        }
        return .success(members)
    }

    static func sameOrigin(_ a: String, _ b: String) -> Bool {
        guard let x = URLComponents(string: a), let y = URLComponents(string: b) else { return false }
        return x.scheme?.lowercased() == y.scheme?.lowercased() && x.host?.lowercased() == y.host?.lowercased() && x.port == y.port
    }

    /// The `rel="next"` target of the Link headers (RFC 8288), if any.
    static func nextPage(_ headers: HTTPHeaders) -> String? {
        // The raw values: commas inside a link's target or a quoted parameter are not separators.
        for value in headers["Link"] {
            for link in splitLinks(String(value)) {
                let parts = link.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">") else { continue }
                let relations = parts.dropFirst().compactMap { parameter -> [String]? in
                    let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard pair.count == 2, pair[0].lowercased() == "rel" else { return nil }
                    return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased().split(separator: " ").map(String.init)
                }.flatMap { $0 }
                if relations.contains("next") { return String(target.dropFirst().dropLast()) }
            }
        }
        return nil
    }

    /// Splits a Link header's value at the commas between links (not those inside <…> or quotes).
    static func splitLinks(_ value: String) -> [String] {
        var links: [String] = [], current = "", inTarget = false, inQuotes = false
        for character in value {
            switch character {
            case "<" where !inQuotes: inTarget = true
            case ">" where !inQuotes: inTarget = false
            case "\"" where !inTarget: inQuotes.toggle()
            case "," where !inTarget && !inQuotes:
                links.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { links.append(current) }
        return links
    }

    /// A read that came to nothing still counts as the day's: the sweep tries again a day later.
    static func attempted(_ context: LTIContext, on db: any Database, now: Date) async throws {
        context.rosterSyncedAt = now
        try await context.save(on: db)
    }

    struct Summary: Equatable {
        var listed = 0, added = 0, left = 0, skipped = 0
    }

    /// Applies a whole roster, read from `readAt` on, to the course, in one transaction: a few statements for the
    /// whole roster (its people and memberships read at once), and one per change. Someone who launched from that LMS
    /// after the read began (a roster page fetched before they joined the LMS course) is not marked as having left.
    static func apply(_ members: [Member], to context: LTIContext, registration: LTIRegistration, writes: Writes, readAt: Date, now: Date) async throws -> Summary {
        // A roster with no one active is the LMS's mistake (or a cut-off answer), not a class that all left.
        guard members.contains(where: \.active) else { throw Abort(.badGateway, reason: "The LMS's roster lists no active member; nothing was changed.") }
        let courseID = try context.course.requireID(), contextID = try context.requireID()
        let listed = members.filter { $0.active && !$0.userID.isEmpty && $0.userID.utf8.count <= 255 }
        return try await writes.transaction { db in
            var summary = Summary(listed: members.count)
            var identities: [String: ExternalIdentity] = [:]
            for chunk in stride(from: 0, to: listed.count, by: 500).map({ Array(listed[$0..<min(listed.count, $0 + 500)]) }) {
                for identity in try await ExternalIdentity.query(on: db).filter(\.$issuer == registration.issuer)
                    .filter(\.$subject ~~ chunk.map(\.userID)).with(\.$user).all() {
                    identities[identity.subject] = identity
                }
            }
            var memberships = Dictionary(try await CourseMember.query(on: db).filter(\.$course.$id == courseID).all().map { ($0.$user.id, $0) },
                                         uniquingKeysWith: { first, _ in first })
            var present = Set<UUID>()
            for member in listed {
                let user: User
                if let known = identities[member.userID]?.user {
                    // An administrator, or an account the LMS may not sign in to: left as it is.
                    guard known.isActive, !known.isAdmin else { summary.skipped += 1; continue }
                    user = known
                } else {
                    let name = member.name ?? [member.givenName, member.familyName].compactMap { $0 }.joined(separator: " ")
                    do {
                        user = try await LTILaunches.person(.init(subject: member.userID, email: member.email, name: name.isEmpty ? nil : name),
                                                            registration: registration, on: db, now: now)
                    } catch let refusal as any AbortError where refusal.status == .forbidden {
                        summary.skipped += 1
                        continue
                    }
                }
                let userID = try user.requireID()
                guard present.insert(userID).inserted else { continue }
                if try await LTILaunches.admit(userID, to: courseID, as: LTIRoles.courseRole(member.roles), by: contextID, member: memberships[userID], on: db) {
                    summary.added += 1
                }
                memberships[userID] = nil
            }
            // Students and TAs this LMS course admitted who are no longer listed as active have left (not those the
            // course's staff added, nor another LMS course's) — unless they launched from the LMS since the read began.
            let leaving = memberships.values.filter { $0.admittedBy == contextID && $0.leftAt == nil && $0.role != .instructor && !present.contains($0.$user.id) }
            let sql = try db.sqlDatabase()
            for start in stride(from: 0, to: leaving.count, by: 500) {
                let ids = try leaving[start..<min(leaving.count, start + 500)].map { try $0.requireID() }
                summary.left += try await sql.raw("""
                    UPDATE course_members SET left_at = \(bind: now)
                    WHERE id IN (\(binds: ids)) AND left_at IS NULL AND NOT EXISTS (
                      SELECT 1 FROM external_identities e WHERE e.user_id = course_members.user_id AND e.issuer = \(bind: registration.issuer)
                        AND e.last_seen_at > \(bind: readAt))
                    RETURNING id
                    """).all().count
            }
            context.rosterSyncedAt = now
            try await context.save(on: db)
            return summary
        }
    }
}

/// Reads one LMS course's roster and applies it.
struct LTIRosterHandler: JobHandler {
    var kind: String { LTIRosterSync.kind }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        let app = worker.app, job = claimed.job
        let payload = try JobQueue.decode(LTIRosterSync.Payload.self, job.payload)
        guard let context = try await LTIContext.query(on: app.db).filter(\.$id == payload.context).with(\.$course).with(\.$registration).first(),
              let address = context.membershipsURL else {
            try await worker.complete(job, result: "the LMS course or its roster address is gone") { _ in }
            return nil
        }
        guard context.registration.enabled else {
            try await worker.complete(job, result: "the LMS's registration is switched off") { _ in }
            return nil
        }
        guard try await LTIDeployment.query(on: app.db).filter(\.$registration.$id == context.$registration.id)
            .filter(\.$deploymentID == context.deploymentID).count() > 0 else {
            try await worker.complete(job, result: "the LMS course's deployment was retired") { _ in }
            return nil
        }
        let now = app.clock.now()
        switch try await LTIRosterSync.read(address, registration: context.registration, app: app, now: now) {
        case .success(let members):
            let summary: LTIRosterSync.Summary
            do { summary = try await LTIRosterSync.apply(members, to: context, registration: context.registration, writes: app.writes, readAt: now, now: app.clock.now()) } catch let refusal as any AbortError {
                try await worker.complete(job, result: "not applied: \(refusal.reason)") { tx in try await LTIRosterSync.attempted(context, on: tx, now: now) }
                app.logger.warning("LTI roster of \(context.course.code) not applied: \(refusal.reason)")
                return nil
            }
            // Those who left are let into nothing, their labs included: running sessions stop (settled for their time).
            // Everyone marked as having left, not only this read's: a stop that failed last time is made now.
            let courseID = try context.course.requireID()
            let leavers = try await CourseMember.query(on: app.db).filter(\.$course.$id == courseID).filter(\.$leftAt != nil).all(\.$user.$id)
            let stopped = try await LabSessions.stopAll(of: leavers, inCourse: courseID, reason: "You are no longer in this course (its LMS roster).",
                                                        app: app, at: now)
            app.logger.info("LTI roster of \(context.course.code): \(summary.listed) listed, \(summary.added) added, \(summary.left) left (\(stopped) lab sessions stopped), \(summary.skipped) skipped")
            try await worker.complete(job, result: "\(summary.listed) listed, \(summary.added) added, \(summary.left) left") { _ in }
        case .failure(.wait(let delay)):
            throw RetryLater(delay: delay, reason: "the LMS asked to wait \(Int(delay)) s")
        case .failure(.transient(let reason)):
            throw RetryLater(delay: min(3600, 30 * pow(2, Double(min(job.attempts, 7)))), reason: reason)
        case .failure(let outcome):
            // Not read (the LMS refused): tried again tomorrow, not at every sweep.
            try await worker.complete(job, result: "not read: \(outcome)") { tx in try await LTIRosterSync.attempted(context, on: tx, now: now) }
            app.logger.warning("LTI roster of \(context.course.code) not read: \(outcome)")
        }
        return nil
    }

    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        if let payload = try? JobQueue.decode(LTIRosterSync.Payload.self, job.payload), let context = try await LTIContext.find(payload.context, on: app.db) {
            try await LTIRosterSync.attempted(context, on: app.db, now: app.clock.now())
        }
        app.logger.error("LTI roster sync stopped after \(job.attempts) attempts: \(reason); the nightly sweep tries again")
    }
}
