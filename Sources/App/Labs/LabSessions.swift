// Lab sessions: started (checks, the first 30 minutes held, the row — in one write transaction — then the sandbox
// on the lab host with most room, one prepared ahead of need when one is ready), paid minute by minute (`tick`: the
// use since the hold began — time, and where the environment charges them, the CPU time and memory its host measured
// from the session's cgroup — settled on it, and a new hold for what follows, as far as the allowance goes), and
// ended exactly once (`finish`: a conditional update claims the ending; the hold is settled for the use up to then).
// A session whose host went quiet is ended by the sweep, charged up to the host's last sign of life from the figures
// it recorded then (each metering pass records them). See Labs/LabMetering for the arithmetic.
import Fluent
import Foundation
import Labs
import Ledger
import Sandbox
import SQLKit
import Vapor

enum LabSessions {
    /// A host that has not been heard from for this long has stopped: its sessions are ended by the sweep.
    static let quietSeconds: TimeInterval = 180

    /// Starts `user`'s session of the lab: 409 (with why) when it cannot start now. Staff sessions, and class
    /// sessions staff start for everyone (`chargeCourse`), are paid from the course's allocation; the rest from the
    /// person's allowance.
    static func start(_ lab: LabEnvironment, course: Course, user: User, access: CourseAccess, app: Application, now: Date,
                      chargeCourse: Bool = false, scheduled: Bool = false) async throws -> LabSession {
        let isStaff = Policy.allows(user, .viewLab(access, openTo: .staff)), staff = isStaff || scheduled
        switch lab.setupStatus {
        case .ready, .notNeeded: break
        case .pending: throw Refusal("“\(lab.name)” is still being set up; try again in a few minutes.")
        case .failed: throw Refusal("“\(lab.name)” could not be set up; the course staff have been shown why.")
        }
        if !staff, !LabEnvironments.schedule(of: lab).isOpen(at: now) {
            throw Refusal("“\(lab.name)” can be started at these times (UTC): \(lab.schedule.replacingOccurrences(of: "\n", with: "; ")).")
        }
        let labID = try lab.requireID(), userID = try user.requireID()
        let rate = try await rate(of: lab, on: app.db, at: now)
        let ledger = app.ledger(on: app.db)
        let fromCourse = isStaff || chargeCourse
        let account = fromCourse ? try await ledger.allocation(of: .course(course)) : try await ledger.allowance(of: user, in: .course(course))
        // The host with most room gets ready (the environment, the home; a session prepared ahead of need when one is
        // ready, whose id becomes this session's), or the next when it does not answer; from here on a refusal gives it back.
        // A host that refuses (full since its room was counted) is passed over too; its reason is said if none can.
        var chosen: (host: LabHostLink, id: UUID, token: UUID)?, refused: Refusal?
        for candidate in try await LabHosts.candidates(app: app, at: now) where chosen == nil {
            do {
                let (id, token) = try await candidate.ready(lab: lab, user: userID, proposed: UUID(), app: app)
                chosen = (candidate, id, token)
            } catch is LabHosts.Unreachable {
                continue
            } catch let refusal as Refusal {
                refused = refusal
            }
        }
        guard let (host, sessionID, token) = chosen else {
            throw refused ?? Refusal("No lab host answered; please try again in a minute, and tell the course staff if it lasts.")
        }
        // Getting ready may have taken minutes (a host's first session of an environment builds it): the session
        // starts, and is paid for, from now.
        let now = max(now, app.clock.now())
        let session = LabSession()
        (session.id, session.$lab.id, session.$user.id, session.status, session.host) = (sessionID, labID, userID, .running, host.name)
        (session.chargeCPU, session.chargeMemory, session.cpuMillis, session.memoryMB) = (lab.chargeCPU, lab.chargeMemory, lab.cpuMillis, lab.memoryMB)
        (session.heldFrom, session.heldSeconds, session.holds, session.charged) = (now, LabMetering.heldSeconds, 0, 0)
        (session.startedAt, session.endsAt, session.seenAt) = (now, now.addingTimeInterval(TimeInterval(lab.longestMinutes * 60)), now)
        do {
            try await app.writeTransaction(on: app.db) { tx in
                if try await LabSession.query(on: tx).filter(\.$lab.$id == labID).filter(\.$user.$id == userID).filter(\.$status == .running).count() > 0 {
                    throw Refusal("You already have a session of “\(lab.name)” running; open it, or stop it first.")
                }
                if !rate.isFree {
                    guard let next = LabMetering.nextHold(free: Credits(micro: try await freeBalance(try account.requireID(), on: tx)), rate: rate),
                          next.seconds >= 60 else {
                        let charges = rate.perCPUHour > .zero || rate.perGBHour > .zero ? "can cost up to" : "costs"
                        throw Refusal("Not started: a minute of “\(lab.name)” \(charges) \(LabMetering.worstCost(seconds: 60, rate: rate)) credits, more than "
                                      + (fromCourse ? "the course's allocation has left. A programme manager can allocate more credits to \(course.code)."
                                               : "your allowance has left. " + (try await LedgerPlace.course(course).whoToAsk(on: tx))))
                    }
                    let hold = try await app.ledger(inWrite: tx).reserve(account, amount: next.amount, reason: "lab “\(lab.name)”",
                                                                         key: holdKey(sessionID, 1), lifetime: TimeInterval(next.seconds + 3_600), actor: userID)
                    (session.holdID, session.heldSeconds, session.holds) = (try hold.requireID(), next.seconds, 1)
                }
                try await session.create(on: tx)
            }
        } catch {
            await host.giveBack(sessionID, token: token, app: app)
            if Writes.isUniqueViolation(error) { throw Refusal("You already have a session of “\(lab.name)” running; open it, or stop it first.") }
            throw error
        }
        do {
            try await host.begin(session, lab: lab, token: token, app: app)
        } catch {
            app.logger.error("Lab session \(sessionID) could not start: \(error)")
            try await finish(sessionID, reason: "It could not start on the lab host (the platform's log says why).", status: .failed, app: app, at: now)
            throw Refusal("The lab could not start; please try again, and tell the course staff if it keeps failing.")
        }
        return session
    }

    static func holdKey(_ sessionID: UUID, _ number: Int) -> String { "lab:\(sessionID.uuidString.lowercased()):\(number)" }

    /// What an hour of a session costs on each meter at `time` (a meter without a price, or one not charged, costs
    /// nothing), with the caps that bound its use: on the lab's terms now (a start), or on those a session was
    /// started under (its holds and settles, whatever the lab has become since).
    static func rate(of lab: LabEnvironment, on db: any Database, at time: Date) async throws -> LabRate {
        try await rate(chargeCPU: lab.chargeCPU, chargeMemory: lab.chargeMemory, cpuMillis: lab.cpuMillis, memoryMB: lab.memoryMB, on: db, at: time)
    }

    static func rate(of session: LabSession, on db: any Database, at time: Date) async throws -> LabRate {
        try await rate(chargeCPU: session.chargeCPU, chargeMemory: session.chargeMemory, cpuMillis: session.cpuMillis, memoryMB: session.memoryMB, on: db, at: time)
    }

    private static func rate(chargeCPU: Bool, chargeMemory: Bool, cpuMillis: Int, memoryMB: Int, on db: any Database, at time: Date) async throws -> LabRate {
        let prices = try await Prices.list(on: db)
        func price(_ meter: Meter, _ charged: Bool) -> Credits { charged ? prices.price(of: meter, at: time)?.price ?? .zero : .zero }
        return LabRate(perHour: price(.labHour, true), perCPUHour: price(.labCPUHour, chargeCPU), perGBHour: price(.labMemoryGBHour, chargeMemory),
                       cpuMillis: cpuMillis, memoryMB: memoryMB)
    }

    static func freeBalance(_ accountID: UUID, on db: any Database) async throws -> Int64 {
        try await db.sqlDatabase().raw("SELECT balance FROM ledger_accounts WHERE id = \(bind: accountID)").first()?.decode(column: "balance", as: Int64.self) ?? 0
    }

    enum TickOutcome: Equatable { case going, stop(String), gone }

    /// Pays for the use since the hold began and holds the next stretch; says when the session must stop (the
    /// allowance is spent, or the longest-session limit is reached). Runs on the session's host, which passes the
    /// figures it measured (`used`: the session's CPU time and memory-seconds so far; time is `now`).
    @discardableResult
    static func tick(_ sessionID: UUID, app: Application, at now: Date, used figures: LabUsage? = nil) async throws -> TickOutcome {
        try await app.writeTransaction(on: app.db) { tx in
            // The row is claimed first (PostgreSQL locks it until this commits): a finish under way meanwhile waits,
            // and one that came first leaves nothing to claim — never a new hold written onto an ended session.
            let claimed = try await tx.sqlDatabase().raw("UPDATE lab_sessions SET seen_at = \(bind: now) WHERE id = \(bind: sessionID) AND status = 'running' RETURNING id").all()
            guard !claimed.isEmpty, let session = try await LabSession.find(sessionID, on: tx) else { return .gone }
            if now >= session.endsAt { return .stop("It reached the lab's longest session.") }
            record(figures, in: session)
            let used = try await settle(session, until: now, on: tx, app: app)
            session.charged += used
            session.seenAt = now
            let rate = try await rate(of: session, on: tx, at: now)
            if rate.isFree { session.holdID = nil } else {
                // The account that pays: the last hold's (a session that started while lab time was free pays from
                // the same account a start would use).
                var accountID: UUID? = nil
                if let holdID = session.holdID { accountID = try await LedgerHold.find(holdID, on: tx)?.$account.id }
                if accountID == nil { accountID = try await payingAccount(of: session, app: app, on: tx) }
                guard let accountID, let account = try await LedgerAccount.find(accountID, on: tx),
                      let next = LabMetering.nextHold(free: Credits(micro: account.balance), rate: rate) else {
                    session.holdID = nil
                    session.heldSeconds = 0
                    holdFrom(now, session)
                    try await session.save(on: tx)
                    return .stop("The allowance ran out.")
                }
                let hold = try await app.ledger(inWrite: tx).reserve(account, amount: next.amount, reason: "lab session", key: holdKey(sessionID, session.holds + 1),
                                                                     lifetime: TimeInterval(next.seconds + 3_600), actor: session.$user.id)
                (session.holdID, session.heldSeconds, session.holds) = (try hold.requireID(), next.seconds, session.holds + 1)
            }
            holdFrom(now, session)
            try await session.save(on: tx)
            return .going
        }
    }

    /// The host's latest figures for the session (never lower than those recorded: a figure read as the sandbox
    /// ended may lag one read a moment before).
    private static func record(_ figures: LabUsage?, in session: LabSession) {
        guard let figures else { return }
        session.cpuMs = max(session.cpuMs, figures.cpuMs)
        session.memoryMBSeconds = max(session.memoryMBSeconds, figures.memoryMBSeconds)
    }

    /// The next stretch starts: at `time`, from the figures recorded now.
    private static func holdFrom(_ time: Date, _ session: LabSession) {
        (session.heldFrom, session.heldCPUMs, session.heldMemoryMBSeconds) = (time, session.cpuMs, session.memoryMBSeconds)
    }

    /// The account a session without a hold pays from: the course's allocation for staff, else the person's allowance.
    private static func payingAccount(of session: LabSession, app: Application, on tx: any Database) async throws -> UUID? {
        guard let lab = try await LabEnvironment.find(session.$lab.id, on: tx), let course = try await Course.find(lab.$course.id, on: tx),
              let user = try await User.find(session.$user.id, on: tx) else { return nil }
        let access = try await CourseAccess.load(user, course, on: tx)
        let ledger = app.ledger(inWrite: tx)
        let account = Policy.allows(user, .viewLab(access, openTo: .staff)) ? try await ledger.allocation(of: .course(course))
                                                                             : try await ledger.allowance(of: user, in: .course(course))
        return try account.requireID()
    }

    /// Settles the session's open hold for its use from `heldFrom` to `until` — the time, and the CPU time and
    /// memory recorded since (where the environment charges them), at the prices of when the hold began — never more
    /// than the hold; returns the micro-credits charged.
    private static func settle(_ session: LabSession, until: Date, on tx: any Database, app: Application) async throws -> Int64 {
        guard let holdID = session.holdID, let hold = try await LedgerHold.find(holdID, on: tx), hold.status == .open else { return 0 }
        let stretch = LabUsage(seconds: max(0, Int(until.timeIntervalSince(session.heldFrom).rounded(.up))), cpuMs: session.cpuMs - session.heldCPUMs,
                               memoryMBSeconds: session.memoryMBSeconds - session.heldMemoryMBSeconds)
        let rate = try await rate(of: session, on: tx, at: session.heldFrom)
        let cost = LabMetering.settlement(stretch, heldSeconds: session.heldSeconds, rate: rate, held: Credits(micro: hold.amount))
        _ = try await app.ledger(inWrite: tx).settle(holdID, actual: cost)
        return cost.micro
    }

    /// Stops a running session: on its host (which finishes it as it stops), or finished here when the host does not
    /// run it (charged up to now) or does not answer or is no longer known (charged up to its host's last report, as
    /// the sweep would: nothing after it is known to have run).
    static func stop(_ session: LabSession, reason: String, app: Application, at time: Date) async throws {
        let id = try session.requireID()
        let link = try await LabHosts.link(of: session, app: app)
        switch await link?.stop(id, reason: reason, app: app) {
        case .stopped: return
        case .notRunning: try await finish(id, reason: reason, app: app, at: time)
        case .unreachable, nil:
            let seen = try await LabSession.find(id, on: app.db)?.seenAt ?? time
            try await finish(id, reason: reason, app: app, at: min(time, seen))
        }
    }

    /// Stops the running sessions of `users` in the course's labs (they left the course); how many stopped (one that
    /// fails is logged, the others still stop).
    static func stopAll(of users: [UUID], inCourse courseID: UUID, reason: String, app: Application, at time: Date) async throws -> Int {
        guard !users.isEmpty else { return 0 }
        let labs = try await LabEnvironment.query(on: app.db).filter(\.$course.$id == courseID).all(\.$id)
        guard !labs.isEmpty else { return 0 }
        let sessions = try await LabSession.query(on: app.db).filter(\.$lab.$id ~~ labs).filter(\.$user.$id ~~ users)
            .filter(\.$status == .running).all()
        var stopped = 0
        for session in sessions {
            do {
                try await stop(session, reason: reason, app: app, at: time)
                stopped += 1
            } catch {
                app.logger.error("Lab session \(session.id?.uuidString ?? "?") could not be stopped: \(error); tried again at the next roster read.")
            }
        }
        return stopped
    }

    /// Ends a running session once: the ending is claimed by a conditional update, then the hold is settled for the
    /// use up to `at` (`used`: its host's last figures; without them, those recorded at its host's last metering pass), in the same
    /// transaction. A session already ended is left as it is.
    static func finish(_ sessionID: UUID, reason: String, status: LabSessionStatus = .stopped, app: Application, at time: Date,
                       used figures: LabUsage? = nil, homeProblem: String? = nil) async throws {
        try await app.writeTransaction(on: app.db) { tx in
            let claimed = try await tx.sqlDatabase().raw("""
                UPDATE lab_sessions SET status = \(bind: status.rawValue), stopped_at = \(bind: time), stop_reason = \(bind: String(reason.prefix(500)))
                WHERE id = \(bind: sessionID) AND status = 'running' RETURNING id
                """).all()
            guard !claimed.isEmpty, let session = try await LabSession.find(sessionID, on: tx) else { return }
            record(figures, in: session)
            // What its person is told of its files from now on: how its last keep went (a save's refusal while it ran is
            // past: the last keep, or the host's end, has the last word).
            session.homeSaveProblem = homeProblem
            session.charged += try await settle(session, until: min(time, session.heldFrom.addingTimeInterval(TimeInterval(session.heldSeconds))),
                                                on: tx, app: app)
            session.holdID = nil
            try await session.save(on: tx)
        }
    }

    /// Sessions whose host went quiet: ended, charged up to the host's last sign of life (the platform's sweep).
    static func sweep(app: Application, at now: Date) async throws -> Int {
        let quiet = try await LabSession.query(on: app.db).filter(\.$status == .running).filter(\.$seenAt < now.addingTimeInterval(-quietSeconds)).all()
        for session in quiet {
            try await finish(try session.requireID(), reason: "Its lab host stopped; it was charged up to the host's last report.", app: app, at: session.seenAt)
        }
        return quiet.count
    }

    /// How much time the session's paying account has left at least (the current hold's unused part and what the
    /// free credits pay for, with CPU and memory, where charged, at the session's caps); nil when it costs nothing or
    /// has ended.
    static func secondsLeft(_ session: LabSession, on db: any Database, at now: Date) async throws -> Int? {
        guard session.status == .running, let holdID = session.holdID, let hold = try await LedgerHold.find(holdID, on: db) else { return nil }
        let rate = try await rate(of: session, on: db, at: now)
        guard !rate.isFree else { return nil }
        let free = try await freeBalance(hold.$account.id, on: db)
        let unused = max(0, Int(session.heldFrom.addingTimeInterval(TimeInterval(session.heldSeconds)).timeIntervalSince(now)))
        return unused + (LabMetering.coverage(of: Credits(micro: free), rate: rate) ?? 0)
    }
}

struct LabSessionDTO: Content {
    var id: UUID
    var labID: UUID
    var status: LabSessionStatus
    var startedAt: Date
    /// When the longest-session limit stops it.
    var endsAt: Date
    var stoppedAt: Date?
    var stopReason: String?
    /// Credits charged so far.
    var charged: Credits
    /// What it has used so far (measured whether or not charged; recorded each minute): CPU-seconds, and memory
    /// GB-seconds (the memory it held, over time).
    var cpuSeconds: Double
    var memoryGBSeconds: Double
    /// Time the allowance still pays for (nil: lab time is free, or the session ended).
    var secondsLeft: Int?
    /// Set when the allowance runs out within 5 minutes.
    var warning: String?
    /// Set when the session will stop for being idle within 5 minutes: when, unless the person does something.
    var idleStopsAt: Date?
    /// When its files were last saved while it runs (should its host fail, they are as of then; nil: not yet).
    var homeSavedAt: Date?
    /// While it runs: why the last save was refused, and what to do (nil: it was not, or one has succeeded since).
    /// Once ended: what its last keep left out, or that it could not keep them (nil: kept whole).
    var homeSaveProblem: String?

    static func make(_ session: LabSession, _ req: Request) async throws -> LabSessionDTO {
        let now = req.now, left = try await LabSessions.secondsLeft(session, on: req.db, at: now)
        let warning = left.flatMap { $0 < LabMetering.warnSeconds ? "Your allowance runs out in \(max(0, $0 / 60)) min \($0 % 60) s; the lab then stops (your files are kept)." : nil }
        let idle = session.status == .running ? try await LabHosts.link(of: session, app: req.application)?.idleStopsAt(try session.requireID(), now: now, app: req.application) : nil
        return LabSessionDTO(id: try session.requireID(), labID: session.$lab.id, status: session.status, startedAt: session.startedAt, endsAt: session.endsAt,
                             stoppedAt: session.stoppedAt, stopReason: session.stopReason, charged: Credits(micro: session.charged),
                             cpuSeconds: (Double(session.cpuMs) / 100).rounded() / 10, memoryGBSeconds: (Double(session.memoryMBSeconds) / 102.4).rounded() / 10,
                             secondsLeft: left, warning: warning, idleStopsAt: idle, homeSavedAt: session.homeSavedAt,
                             homeSaveProblem: session.homeSaveProblem)
    }
}

extension LabSessionDTO: APIBody {
    static let schemaName = "LabSession"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "labID": .string(format: "uuid"), "status": .choice(LabSessionStatus.self),
        "startedAt": .string(format: "date-time"), "endsAt": .string(format: "date-time"), "stoppedAt": .string(format: "date-time"),
        "stopReason": .string(), "charged": .credits, "cpuSeconds": .number(minimum: 0), "memoryGBSeconds": .number(minimum: 0), "secondsLeft": .integer(), "warning": .string(), "idleStopsAt": .string(format: "date-time"),
        "homeSavedAt": .string(format: "date-time"), "homeSaveProblem": .string(),
    ], required: ["id", "labID", "status", "startedAt", "endsAt", "charged", "cpuSeconds", "memoryGBSeconds"])
    static let samples = [
        LabSessionDTO(id: Sample.id, labID: Sample.id, status: .running, startedAt: Sample.date, endsAt: Sample.date, stoppedAt: nil, stopReason: nil,
                      charged: Credits(micro: 250_000), cpuSeconds: 12.5, memoryGBSeconds: 40.2, secondsLeft: 240, warning: "Your allowance runs out in 4 min 0 s; the lab then stops (your files are kept).",
                      idleStopsAt: Sample.date, homeSavedAt: Sample.date,
                      homeSaveProblem: LabHost.saveProblem(SaveRefused(reason: "they add up to 1200 MB, more than the 1024 MB the home keeps"), at: Sample.date)),
        LabSessionDTO(id: Sample.id, labID: Sample.id, status: .stopped, startedAt: Sample.date, endsAt: Sample.date, stoppedAt: Sample.date,
                      stopReason: "Stopped by you.", charged: Credits(micro: 1_000_000), cpuSeconds: 300, memoryGBSeconds: 1_800, secondsLeft: nil, warning: nil, idleStopsAt: nil, homeSavedAt: Sample.date,
                      homeSaveProblem: LabHost.lastKeepProblem(.kept(leftOut: ["data/big.bin"]), quotaMB: 1024)),
    ]
}

extension Request {
    /// The lab session named by `:sessionID`, when it is the caller's; 404 for anyone else's.
    func labSession() async throws -> (LabSession, User) {
        let user = try auth.require(User.self)
        guard let id = parameters.get("sessionID", as: UUID.self), let session = try await LabSession.find(id, on: db) else { throw Abort(.notFound) }
        try Policy.require(user, can: .useLabSession(ownerID: session.$user.id))
        return (session, user)
    }
}
