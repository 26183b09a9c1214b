// The credits ledger over HTTP: programme managers grant and allocate, instructors and PIs set allowances and see
// each member's use, everyone sees their own allowances, and clients reserve, settle and void holds. Every
// handler asks the policy, then calls the ledger store.
import Fluent
import SQLKit
import Foundation
import Ledger
import Vapor

enum CreditsController {
    struct HoldInput: CheckedInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case courseID, projectID, amount, reason, idempotencyKey, fromAllocation, lifetimeSeconds }
        typealias Fields = CodingKeys
        var courseID: UUID?
        var projectID: UUID?
        var amount: Credits
        var reason: String
        /// Optional: without one (nor an Idempotency-Key header) each request is a hold of its own.
        var idempotencyKey: String?
        var fromAllocation: Bool?
        var lifetimeSeconds: Int?
    }

    struct PriceInput: CheckedInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case meter, price, effectiveFrom }
        typealias Fields = CodingKeys
        var meter: String
        var price: Credits
        var effectiveFrom: String
    }

    struct PriceDTO: Content { var meter: String; var price: Credits; var per: String; var effectiveFrom: Date }

    // MARK: Programme

    @Sendable static func programme(req: Request) async throws -> ProgrammeCreditsDTO {
        let (programme, _, _) = try await req.programme(for: Policy.Action.viewProgrammeCredits)
        return try await CreditsViews.programme(programme, on: req.db)
    }

    /// Records the partner's grant into the programme pool.
    @Sendable static func grant(req: Request) async throws -> Response {
        let (programme, user, _) = try await req.programme(for: Policy.Action.manageProgramme)
        let input = try req.input(GrantInput.self)
        try await ProgrammeTransfers.grant(input, key: try idempotencyKey(input.idempotencyKey, req), to: programme, by: user, ledger: req.ledger)
        return try await CreditsViews.programme(programme, on: req.db).encodeResponse(status: .created, for: req)
    }

    /// Moves credits from the pool to a course's or project's allocation (and sets its expiry when given).
    @Sendable static func allocate(req: Request) async throws -> Response {
        let (programme, user, _) = try await req.programme(for: Policy.Action.manageProgramme)
        let input = try req.input(AllocationInput.self)
        try await ProgrammeTransfers.move(input, key: try idempotencyKey(input.idempotencyKey, req), in: programme, down: true, by: user, ledger: req.ledger)
        return try await CreditsViews.programme(programme, on: req.db).encodeResponse(status: .created, for: req)
    }

    /// Moves credits from an allocation back to the pool.
    @Sendable static func giveBack(req: Request) async throws -> Response {
        let (programme, user, _) = try await req.programme(for: Policy.Action.manageProgramme)
        let input = try req.input(AllocationInput.self)
        try await ProgrammeTransfers.move(input, key: try idempotencyKey(input.idempotencyKey, req), in: programme, down: false, by: user, ledger: req.ledger)
        return try await CreditsViews.programme(programme, on: req.db).encodeResponse(status: .created, for: req)
    }

    // MARK: Courses and projects

    @Sendable static func course(req: Request) async throws -> PlaceCreditsDTO {
        let (course, _, _) = try await req.course(for: Policy.Action.viewRoster)
        return try await CreditsViews.place(.course(course), allocation: try await req.ledger.allocation(of: .course(course)), on: req.db)
    }

    @Sendable static func project(req: Request) async throws -> PlaceCreditsDTO {
        let (project, _, _) = try await req.project(for: Policy.Action.viewProject)
        return try await CreditsViews.place(.project(project), allocation: try await req.ledger.allocation(of: .project(project)), on: req.db)
    }

    @Sendable static func setCourseDefault(req: Request) async throws -> PlaceCreditsDTO {
        let (course, user, _) = try await req.course(for: Policy.Action.manageCourse)
        let allocation = try await req.ledger.setDefaultAllowance(in: .course(course), to: try req.input(AmountInput.self).amount, actor: user.id)
        return try await CreditsViews.place(.course(course), allocation: allocation, on: req.db)
    }

    @Sendable static func setProjectDefault(req: Request) async throws -> PlaceCreditsDTO {
        let (project, user, _) = try await req.project(for: Policy.Action.manageProject)
        let allocation = try await req.ledger.setDefaultAllowance(in: .project(project), to: try req.input(AmountInput.self).amount, actor: user.id)
        return try await CreditsViews.place(.project(project), allocation: allocation, on: req.db)
    }

    @Sendable static func setCourseAllowance(req: Request) async throws -> MemberCreditsDTO {
        let (course, user, _) = try await req.course(for: Policy.Action.manageCourse)
        return try await setAllowance(req, .course(course), by: user)
    }

    @Sendable static func setProjectAllowance(req: Request) async throws -> MemberCreditsDTO {
        let (project, user, _) = try await req.project(for: Policy.Action.manageProject)
        return try await setAllowance(req, .project(project), by: user)
    }

    private static func setAllowance(_ req: Request, _ place: LedgerPlace, by user: User) async throws -> MemberCreditsDTO {
        let amount = try req.input(AmountInput.self).amount
        guard let (member, role) = try await place.member(try req.userIDParameter(), on: req.db) else {
            throw Abort(.notFound, reason: "That person is not a member of \(place.name).")
        }
        let account = try await req.ledger.setAllowance(of: member, in: place, to: amount, actor: user.id)
        return MemberCreditsDTO(userID: try member.requireID(), name: member.displayName, role: role, accountID: account.id, balance: BalanceDTO(account))
    }

    @Sendable static func mine(req: Request) async throws -> [MyAllowanceDTO] {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        return try await CreditsViews.mine(user, on: req.db)
    }

    // MARK: Holds

    /// Reserves from the caller's allowance in the course or project (created on first use with the default), or,
    /// for staff with `fromAllocation`, from the allocation itself.
    @Sendable static func reserve(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        let input = try req.input(HoldInput.self)
        let ledger = req.ledger
        let account: LedgerAccount
        switch (input.courseID, input.projectID) {
        case (let courseID?, nil):
            guard let course = try await Course.find(courseID, on: req.db) else { throw Abort(.notFound, reason: "No such course.") }
            let access = try await CourseAccess.load(user, course, on: req.db)
            if input.fromAllocation == true {
                try Policy.require(user, can: .chargeAllocation(access, nil))
                account = try await ledger.allocation(of: .course(course))
            } else {
                try Policy.require(user, can: .spendOwnAllowance(courseRole: access.courseRole, projectRole: nil))
                account = try await ledger.allowance(of: user, in: .course(course))
            }
        case (nil, let projectID?):
            guard let project = try await ResearchProject.find(projectID, on: req.db) else { throw Abort(.notFound, reason: "No such project.") }
            let access = try await ProjectAccess.load(user, project, on: req.db)
            if input.fromAllocation == true {
                try Policy.require(user, can: .chargeAllocation(nil, access))
                account = try await ledger.allocation(of: .project(project))
            } else {
                try Policy.require(user, can: .spendOwnAllowance(courseRole: nil, projectRole: access.projectRole))
                account = try await ledger.allowance(of: user, in: .project(project))
            }
        default:
            throw InputRejection("Give exactly one of courseID and projectID.")
        }
        // Keys are the client's own: two people's "1" are different keys. Without a key every request is a new hold.
        let key = "user:\(try user.requireID()):" + (try Self.idempotencyKey(input.idempotencyKey, req) ?? "unkeyed:\(UUID().uuidString.lowercased())")
        let lifetime = input.lifetimeSeconds.map { TimeInterval(max(1, min($0, 7 * 24 * 3600))) }
        let hold = try await ledger.reserve(account, amount: input.amount, reason: input.reason, key: key, lifetime: lifetime, actor: user.id,
                                            origin: .person)
        return try await HoldDTO(hold).encodeResponse(status: .created, for: req)
    }

    /// Either the amount, or the measured usage per meter (priced at the list in force when the hold was made).
    struct SettleInput: CheckedInput, Content {
        enum CodingKeys: String, CodingKey, CaseIterable { case amount, usage }
        typealias Fields = CodingKeys
        var amount: Credits?
        var usage: [String: Int64]?
    }

    @Sendable static func settle(req: Request) async throws -> HoldDTO {
        let hold = try await Self.hold(req)
        let input = try req.input(SettleInput.self)
        let actual: Credits
        switch (input.amount, input.usage) {
        case (let amount?, nil): actual = amount
        case (nil, let usage?):
            var measured: [Meter: Int64] = [:]
            for (name, quantity) in usage {
                guard Meter(name).isKnown, quantity >= 0 else { throw InputRejection("usage: '\(name)' is not a meter, or its quantity is negative.") }
                measured[Meter(name)] = quantity
            }
            do {
                actual = try await Prices.list(on: req.db).cost(of: measured, at: hold.createdAt ?? Date())
            } catch let error as PricingError {
                throw InputRejection(error.description)
            }
        default: throw InputRejection("Give exactly one of amount and usage.")
        }
        return try HoldDTO(try await req.ledger.settle(hold.requireID(), actual: actual, actor: req.auth.get(User.self)?.id))
    }

    @Sendable static func void(req: Request) async throws -> HoldDTO {
        let hold = try await Self.hold(req)
        return try HoldDTO(try await req.ledger.void(hold.requireID(), actor: req.auth.get(User.self)?.id))
    }

    private static func hold(_ req: Request) async throws -> LedgerHold {
        let user = try req.auth.require(User.self)
        guard let id = req.parameters.get("holdID", as: UUID.self), let hold = try await LedgerHold.find(id, on: req.db) else { throw Abort(.notFound) }
        try Policy.require(user, can: .closeHold(createdBy: hold.createdBy, origin: hold.origin))
        return hold
    }

    // MARK: Statements and prices

    @Sendable static func entries(req: Request) async throws -> Page<EntryDTO> {
        try await CreditsViews.entries(of: try await readableAccount(req), on: req.db, for: req)
    }

    /// The account named by `:accountID`, if the caller may read its statement.
    static func readableAccount(_ req: Request) async throws -> LedgerAccount {
        let user = try req.auth.require(User.self)
        guard let id = req.parameters.get("accountID", as: UUID.self), let account = try await LedgerAccount.find(id, on: req.db) else { throw Abort(.notFound) }
        let userID = try user.requireID()
        let programmeRole = try await ProgrammeMember.query(on: req.db).filter(\.$programme.$id == account.$programme.id)
            .filter(\.$user.$id == userID).first()?.role
        var access = StatementAccess(isOwnAllowance: account.kind == .allowance && account.userID == userID, programmeRole: programmeRole)
        if let courseID = account.courseID, let course = try await Course.find(courseID, on: req.db) {
            access.course = try await CourseAccess.load(user, course, on: req.db)
        } else if let projectID = account.projectID, let project = try await ResearchProject.find(projectID, on: req.db) {
            access.project = try await ProjectAccess.load(user, project, on: req.db)
        }
        try Policy.require(user, can: .viewStatement(access))
        return account
    }

    /// GET …/credits/statement.csv: every entry of the programme (managers).
    @Sendable static func programmeStatement(req: Request) async throws -> Response {
        let (programme, _, _) = try await req.programme(for: Policy.Action.manageProgramme)
        return .csvDownload(try await LedgerStatements.csv(programme: programme, on: req.db), filename: "\(programme.name) credits.csv")
    }

    /// GET /api/v1/credits/accounts/:accountID/statement.csv: one account's entries, for whoever may read them.
    @Sendable static func accountStatement(req: Request) async throws -> Response {
        let account = try await readableAccount(req)
        guard let programme = try await Programme.find(account.$programme.id, on: req.db) else { throw Abort(.notFound) }
        return .csvDownload(try await LedgerStatements.csv(programme: programme, account: account.requireID(), on: req.db),
                            filename: "\(account.label) statement.csv")
    }


    @Sendable static func prices(req: Request) async throws -> [PriceDTO] {
        try Policy.require(try req.auth.require(User.self), can: .viewSelf)
        return try await LedgerPrice.query(on: req.db).sort(\.$meter).sort(\.$effectiveFrom).all().map(priceDTO)
    }

    @Sendable static func setPrice(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        let input = try req.input(PriceInput.self)
        var checks = InputChecks()
        let meter = Meter(input.meter.trimmingCharacters(in: .whitespaces))
        if !meter.isKnown { checks.add("meter '\(input.meter)' is not one of sandbox_cpu_second, sandbox_wall_second, lab_hour, lab_cpu_hour, lab_memory_gb_hour, model_input_tokens:MODEL, model_output_tokens:MODEL.") }
        if input.price < .zero { checks.add("price is 0 or more credits (a negative price would pay for use).") }
        let from = checks.date(input.effectiveFrom, "effectiveFrom")
        try checks.finish()
        if try await LedgerPrice.query(on: req.db).filter(\.$meter == meter.name).filter(\.$effectiveFrom == from!).first() != nil {
            throw InputRejection.conflict("\(meter) already has a price from \(input.effectiveFrom); a new price takes effect at a new time.")
        }
        let price = LedgerPrice(meter: meter.name, price: input.price.micro, effectiveFrom: from!)
        try await price.create(on: req.db)
        req.application.gatewayCache.forgetAll()
        return try await priceDTO(price).encodeResponse(status: .created, for: req)
    }

    private static func priceDTO(_ price: LedgerPrice) -> PriceDTO {
        let meter = Meter(price.meter)
        let per: String
        switch meter.unitsPerPricedUnit {
        case 1_000: per = "second"
        case 60: per = "hour"
        case 1_000_000: per = "million tokens"
        default: per = "unit"
        }
        return PriceDTO(meter: price.meter, price: Credits(micro: price.price), per: per, effectiveFrom: price.effectiveFrom)
    }

    // MARK: Helpers

    /// The client's idempotency key (body field or `Idempotency-Key` header), at most 200 characters.
    static func idempotencyKey(_ field: String?, _ req: Request) throws -> String? {
        guard let key = field ?? req.headers.first(name: "Idempotency-Key") else { return nil }
        guard !key.isEmpty, key.count <= 200 else { throw InputRejection("idempotencyKey must be 1 to 200 characters.") }
        return key
    }
}

extension CreditsController.PriceDTO: APIBody {
    static let schemaName = "Price"
    static let schema = JSONSchema.object(["meter": .string(), "price": .credits, "per": .string(), "effectiveFrom": .string(format: "date-time")],
                                          required: ["meter", "price", "per", "effectiveFrom"])
    static let samples = [Self(meter: "sandbox_cpu_second", price: Credits(micro: 1_000), per: "CPU second", effectiveFrom: Sample.date)]
}

extension CreditsController.HoldInput: APIInput {
    static let schema = JSONSchema.object([
        "courseID": .string(format: "uuid"), "projectID": .string(format: "uuid"), "amount": .positiveCreditsInput, "reason": .string(),
        "idempotencyKey": .idempotencyKey, "fromAllocation": .boolean, "lifetimeSeconds": .integer(),
    ], required: ["amount", "reason", "idempotencyKey"])
}

extension CreditsController.PriceInput: APIInput {
    static let schema = JSONSchema.object([
        "meter": .string(pattern: "^ *(sandbox_cpu_second|sandbox_wall_second|lab_hour|lab_cpu_hour|lab_memory_gb_hour|model_(input|output)_tokens:.*[^: ]) *$"), "price": .creditsInput,
        "effectiveFrom": .string(format: "date"),
    ], required: ["meter", "price", "effectiveFrom"])
}

extension CreditsController.SettleInput: APIInput {
    /// Either the amount, or the usage per meter.
    static let schema = JSONSchema.object(["amount": .creditsInput, "usage": .object([:], required: [])], required: [])
}
