// A course's lab environments: created and changed by those who manage the course, checked whole before anything
// is written; a new or changed set-up script is saved with its set-up job in one transaction (`LabSetupHandler`
// builds the environment layer). Staff see every environment; students those open to them.
import Fluent
import Foundation
import Labs
import Vapor

struct LabInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, setupScript, cpuMillis, memoryMB, processes, homeQuotaMB, idleMinutes, longestMinutes, network, openTo, schedule, readySessions
        case chargeCPU, chargeMemory
    }
    typealias Fields = CodingKeys
    var name: String?
    var kind: String?
    var setupScript: String?
    var cpuMillis: Int?
    var memoryMB: Int?
    var processes: Int?
    var homeQuotaMB: Int?
    var idleMinutes: Int?
    var longestMinutes: Int?
    var network: Bool?
    var openTo: String?
    /// Weekly windows in UTC, one per line (`mon,wed 09:00-11:00`); empty: always.
    var schedule: String?
    /// Sessions each lab host keeps started ahead of need (0 to 50).
    var readySessions: Int?
    /// Whether sessions also pay for their CPU time and their memory over time (the price list's `lab_cpu_hour` and
    /// `lab_memory_gb_hour`), besides lab time. Default: no.
    var chargeCPU: Bool?
    var chargeMemory: Bool?

    init() {}
}

extension LabInput: APIInput {
    static var schema: JSONSchema {
        func range(_ limits: ClosedRange<Int>) -> JSONSchema { .integer(minimum: limits.lowerBound, maximum: limits.upperBound) }
        return .object([
            "name": .text(max: LabEnvironments.maxName), "kind": .choice(LabKind.self), "setupScript": .optionalText(max: LabEnvironments.maxScript),
            "cpuMillis": range(LabLimits.cpuMillisRange), "memoryMB": range(LabLimits.memoryMBRange), "processes": range(LabLimits.processesRange),
            "homeQuotaMB": range(LabLimits.homeQuotaMBRange), "idleMinutes": range(LabLimits.idleMinutesRange),
            "longestMinutes": range(LabLimits.longestMinutesRange), "network": .boolean, "openTo": .choice(LabAudience.self),
            "schedule": .optionalText(max: LabEnvironments.maxSchedule), "readySessions": range(LabReadyPool.range),
            "chargeCPU": .boolean, "chargeMemory": .boolean,
        ], required: ["name", "kind"])
    }
}

enum LabEnvironments {
    static let maxName = 100
    static let maxScript = 20_000
    static let maxSchedule = 2_000

    /// Creates an environment from checked input, with its set-up job when it has a script, in one transaction.
    static func create(in course: Course, _ input: LabInput, by user: User, at now: Date, writes: Writes) async throws -> LabEnvironment {
        let lab = LabEnvironment()
        lab.$course.id = try course.requireID()
        (lab.createdBy, lab.createdAt, lab.updatedAt, lab.setupVersion, lab.startFileNames) = (try user.requireID(), now, now, 0, "")
        try apply(input, to: lab, creating: true)
        try await writes.transaction { tx in
            try await ensureUniqueName(lab, on: tx)
            try await startSetup(of: lab, at: now, on: tx)
        }
        return lab
    }

    /// Changes the fields given; a new set-up script means a new set-up (the sessions keep the old layer until it is ready).
    static func update(_ lab: LabEnvironment, _ input: LabInput, at now: Date, writes: Writes) async throws {
        let scriptBefore = lab.setupScript
        try apply(input, to: lab, creating: false)
        lab.updatedAt = now
        try await writes.transaction { tx in
            try await ensureUniqueName(lab, on: tx)
            if lab.setupScript != scriptBefore {
                try await startSetup(of: lab, at: now, on: tx)
            } else {
                try await lab.save(on: tx)
            }
        }
    }

    /// Runs the set-up again (a new version: e.g. to pick up newer packages); refused while one is waiting.
    static func setUpAgain(_ lab: LabEnvironment, at now: Date, writes: Writes) async throws {
        guard lab.setupStatus != .pending else { throw InputRejection.conflict("The set-up is already waiting to run; its log appears here when it ends.") }
        guard lab.setupStatus != .notNeeded else { throw InputRejection.conflict("This environment has no set-up script, so there is nothing to run.") }
        lab.updatedAt = now
        try await writes.transaction { tx in try await startSetup(of: lab, at: now, on: tx) }
    }

    /// A new set-up version: pending with its job (saved — created, the first time — in the caller's transaction),
    /// or, for a terminal without a script, nothing to build.
    private static func startSetup(of lab: LabEnvironment, at now: Date, on db: any Database) async throws {
        lab.setupVersion += 1
        lab.setupLog = nil
        let needed = !lab.setupScript.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        lab.setupStatus = needed ? .pending : .notNeeded
        try await lab.save(on: db)
        if needed { try await LabSetupHandler.enqueue(lab, at: now, on: db) }
    }

    private static func ensureUniqueName(_ lab: LabEnvironment, on db: any Database) async throws {
        var query = LabEnvironment.query(on: db).filter(\.$course.$id == lab.$course.id).filter(\.$name == lab.name)
        if let id = lab.id { query = query.filter(\.$id != id) }
        if try await query.count() > 0 { throw InputRejection.conflict("The course already has a lab environment named “\(lab.name)”.") }
    }

    /// Checks every field given (all problems at once) and copies them; on create, name and kind are required and
    /// the rest take the kind's defaults.
    private static func apply(_ input: LabInput, to lab: LabEnvironment, creating: Bool) throws {
        var checks = InputChecks()
        if creating || input.name != nil, let name = checks.text(input.name, "name", max: maxName) { lab.name = name }
        let kind: LabKind?
        if creating {
            kind = checks.choice(input.kind, "kind", as: LabKind.self)
            if let kind { lab.kind = kind }
        } else {
            kind = lab.kind
            if let given = input.kind, given.trimmingCharacters(in: .whitespaces).lowercased() != lab.kind.rawValue {
                checks.add("kind cannot change once the environment exists (make a new one).")
            }
        }
        if creating || input.setupScript != nil {
            let script = input.setupScript ?? kind?.defaultSetupScript ?? ""
            if script.count > maxScript { checks.add("setupScript is longer than \(maxScript) characters.") } else {
                lab.setupScript = script.replacingOccurrences(of: "\r\n", with: "\n")
            }
        }
        if kind == .jupyterlab, (creating || input.setupScript != nil), (input.setupScript ?? kind?.defaultSetupScript ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            checks.add("setupScript cannot be empty for a jupyterlab environment: it installs JupyterLab (e.g. pip install jupyterlab).")
        }
        do {  // checked even when the kind is not (every problem at once); kept only when it is
            let base = creating ? LabLimits.defaults(for: kind ?? .terminal) : lab.limits
            let limits = LabLimits(cpuMillis: input.cpuMillis ?? base.cpuMillis, memoryMB: input.memoryMB ?? base.memoryMB,
                                   processes: input.processes ?? base.processes, homeQuotaMB: input.homeQuotaMB ?? base.homeQuotaMB,
                                   idleMinutes: input.idleMinutes ?? base.idleMinutes, longestMinutes: input.longestMinutes ?? base.longestMinutes)
            if limits.problems.isEmpty { lab.limits = limits } else { limits.problems.forEach { checks.add($0) } }
        }
        if creating || input.network != nil { lab.network = input.network ?? false }
        if creating || input.chargeCPU != nil { lab.chargeCPU = input.chargeCPU ?? false }
        if creating || input.chargeMemory != nil { lab.chargeMemory = input.chargeMemory ?? false }
        if creating || input.readySessions != nil {
            let ready = input.readySessions ?? 0
            if LabReadyPool.range.contains(ready) { lab.readySessions = ready } else {
                checks.add("readySessions must be \(LabReadyPool.range.lowerBound) to \(LabReadyPool.range.upperBound).")
            }
        }
        if creating || input.openTo != nil {
            if let audience = checks.choice(input.openTo ?? LabAudience.staff.rawValue, "openTo", as: LabAudience.self) { lab.openTo = audience }
        }
        if creating || input.schedule != nil {
            let text = input.schedule ?? ""
            if text.count > maxSchedule { checks.add("schedule is longer than \(maxSchedule) characters.") } else {
                switch LabSchedule.parse(text) {
                case .success(let schedule): lab.schedule = schedule.text
                case .failure(let problem): problem.problems.forEach { checks.add($0) }
                }
            }
        }
        try checks.finish()
    }

    /// The course's environments the person may see (staff: all; students: those open to them), by name.
    static func visible(in course: Course, to user: User, _ access: CourseAccess, on db: any Database) async throws -> [LabEnvironment] {
        try await LabEnvironment.query(on: db).filter(\.$course.$id == course.requireID()).sort(\.$name).all()
            .filter { Policy.allows(user, .viewLab(access, openTo: $0.openTo)) }
    }

    static func schedule(of lab: LabEnvironment) -> LabSchedule { (try? LabSchedule.parse(lab.schedule).get()) ?? .always }
}

struct LabDTO: Content {
    var id: UUID
    var courseID: UUID
    var name: String
    var kind: LabKind
    var setupVersion: Int
    var setupStatus: SetupStatus
    /// Staff only: the script and its last run's log.
    var setupScript: String?
    var setupLog: String?
    var cpuMillis: Int
    var memoryMB: Int
    var processes: Int
    var homeQuotaMB: Int
    var idleMinutes: Int
    var longestMinutes: Int
    var network: Bool
    /// Whether sessions also pay for their CPU time and their memory over time.
    var chargeCPU: Bool
    var chargeMemory: Bool
    var openTo: LabAudience
    var schedule: String
    var readySessions: Int
    /// Staff only, when asked of one environment: how many sessions the lab hosts have ready to start at once now.
    var readyNow: Int?
    /// Whether students may start a session now by the schedule.
    var openNow: Bool
    /// The files every new home starts with.
    var startFiles: [String]
    var createdAt: Date
    var updatedAt: Date

    init(_ lab: LabEnvironment, staff: Bool, now: Date) throws {
        (id, courseID, name, kind) = (try lab.requireID(), lab.$course.id, lab.name, lab.kind)
        (setupVersion, setupStatus) = (lab.setupVersion, lab.setupStatus)
        (setupScript, setupLog) = staff ? (lab.setupScript, lab.setupLog) : (nil, nil)
        (cpuMillis, memoryMB, processes, homeQuotaMB, idleMinutes, longestMinutes) =
            (lab.cpuMillis, lab.memoryMB, lab.processes, lab.homeQuotaMB, lab.idleMinutes, lab.longestMinutes)
        (network, openTo, schedule, readySessions) = (lab.network, lab.openTo, lab.schedule, lab.readySessions)
        (chargeCPU, chargeMemory) = (lab.chargeCPU, lab.chargeMemory)
        openNow = LabEnvironments.schedule(of: lab).isOpen(at: now)
        startFiles = LabHomes.startFileNames(lab)
        (createdAt, updatedAt) = (lab.createdAt, lab.updatedAt)
    }
}

extension LabDTO: APIBody {
    static let schemaName = "Lab"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "courseID": .string(format: "uuid"), "name": .string(), "kind": .choice(LabKind.self),
        "setupVersion": .integer(), "setupStatus": .choice(SetupStatus.self), "setupScript": .string(), "setupLog": .string(),
        "cpuMillis": .integer(), "memoryMB": .integer(), "processes": .integer(), "homeQuotaMB": .integer(), "idleMinutes": .integer(),
        "longestMinutes": .integer(), "network": .boolean, "chargeCPU": .boolean, "chargeMemory": .boolean, "openTo": .choice(LabAudience.self), "schedule": .string(),
        "readySessions": .integer(), "readyNow": .integer(), "openNow": .boolean,
        "startFiles": .array(.string()), "createdAt": .string(format: "date-time"), "updatedAt": .string(format: "date-time"),
    ], required: ["id", "courseID", "name", "kind", "setupVersion", "setupStatus", "cpuMillis", "memoryMB", "processes", "homeQuotaMB",
                  "idleMinutes", "longestMinutes", "network", "chargeCPU", "chargeMemory", "openTo", "schedule", "readySessions", "openNow", "startFiles", "createdAt", "updatedAt"])
    static var samples: [LabDTO] {
        let lab = LabEnvironment()
        lab.id = Sample.id
        lab.$course.id = Sample.id
        (lab.name, lab.kind, lab.setupScript, lab.setupVersion, lab.setupStatus, lab.setupLog) =
            ("Python notebooks", .jupyterlab, "pip install jupyterlab numpy\n", 2, .ready, "Successfully installed jupyterlab")
        lab.limits = LabLimits.defaults(for: .jupyterlab)
        (lab.network, lab.openTo, lab.schedule, lab.createdAt, lab.updatedAt) = (false, .students, "mon 09:00-11:00", Sample.date, Sample.date)
        (lab.startFileNames, lab.readySessions, lab.chargeCPU, lab.chargeMemory) = ("intro.ipynb", 4, true, false)
        var sample = try! LabDTO(lab, staff: true, now: Sample.date)
        sample.readyNow = 3
        return [sample]
    }
}

extension Request {
    /// The lab environment named by `:labID`, its course, the signed-in user and their access; 404 unless the
    /// policy allows `action` (students never find an environment open to staff only).
    func lab(for action: (CourseAccess, LabEnvironment) -> Policy.Action) async throws -> LabInContext {
        let user = try auth.require(User.self)
        guard let id = parameters.get("labID", as: UUID.self), let lab = try await LabEnvironment.find(id, on: db),
              let course = try await Course.find(lab.$course.id, on: db) else { throw Abort(.notFound) }
        let access = try await CourseAccess.load(user, course, on: db)
        try Policy.require(user, can: .viewLab(access, openTo: lab.openTo))
        try Policy.require(user, can: action(access, lab))
        return LabInContext(lab: lab, course: course, user: user, access: access)
    }
}

struct LabInContext {
    let lab: LabEnvironment
    let course: Course
    let user: User
    let access: CourseAccess
}
