// What the ledger looks like to the people allowed to see it, loaded with a fixed number of queries. Amounts are
// credits as exact decimal strings ("12.5").
import Fluent
import Foundation
import Insight
import Ledger
import Vapor

struct BalanceDTO: Content, Equatable {
    /// Free to spend (or give on).
    var free: Credits
    /// Set aside for uses in progress.
    var held: Credits
    /// Used, by this account and everything below it.
    var spent: Credits
    /// Everything it was given: free + held + spent + what it gave on and still counts below it.
    var total: Credits
    /// spent ÷ total, in whole percent (0 when nothing was given).
    var usedPercent: Int
    /// Used but not paid (a run charged after its hold was gone, beyond the free credits), here and below: owed.
    var debt: Credits

    init(free: Int64, held: Int64, spent: Int64, below: Int64 = 0, debt: Int64 = 0) {
        self.debt = Credits(micro: debt)
        self.free = Credits(micro: free)
        self.held = Credits(micro: held)
        self.spent = Credits(micro: spent)
        total = Credits(micro: free + held + spent + below)
        usedPercent = total.micro > 0 ? Int((Int128(spent) * 100) / Int128(total.micro)) : 0
    }

    init(_ account: LedgerAccount) { self.init(free: account.balance, held: account.held, spent: account.spent, debt: account.debt) }
}

extension BalanceDTO: APIBody {
    static let schemaName = "Balance"
    static let schema = JSONSchema.object(["free": .credits, "held": .credits, "spent": .credits, "total": .credits, "usedPercent": .integer(), "debt": .credits],
                                          required: ["free", "held", "spent", "total", "usedPercent", "debt"])
    static let samples = [BalanceDTO(free: 5_000_000, held: 1_500_000, spent: 3_500_000, below: 10_000_000, debt: 250_000)]
}

struct AllocationDTO: Content {
    var accountID: UUID
    var kind: AccountKind
    var placeID: UUID
    var name: String
    /// The allocation with its members' allowances rolled up: spent includes what members spent.
    var balance: BalanceDTO
    var defaultAllowance: Credits?
    var expiresAt: Date?
}

extension AllocationDTO: APIBody {
    static let schemaName = "Allocation"
    static let schema = JSONSchema.object([
        "accountID": .string(format: "uuid"), "kind": .choice(AccountKind.self), "placeID": .string(format: "uuid"), "name": .string(),
        "balance": .ref(BalanceDTO.self), "defaultAllowance": .credits, "expiresAt": .string(format: "date-time"),
    ], required: ["accountID", "kind", "placeID", "name", "balance"])
    static var parts: [any APIBody.Type] { [BalanceDTO.self] }
    static let samples = [AllocationDTO(accountID: Sample.id, kind: .course, placeID: Sample.id, name: "CS101", balance: BalanceDTO.samples[0],
                                        defaultAllowance: Credits(micro: 2_000_000), expiresAt: Sample.date)]
}

struct ProgrammeCreditsDTO: Content {
    var programmeID: UUID
    /// Everything the partner has granted.
    var granted: Credits
    var pool: BalanceDTO
    var allocations: [AllocationDTO]
}

extension ProgrammeCreditsDTO: APIBody {
    static let schemaName = "ProgrammeCredits"
    static let schema = JSONSchema.object(["programmeID": .string(format: "uuid"), "granted": .credits, "pool": .ref(BalanceDTO.self),
                                           "allocations": .array(.ref(AllocationDTO.self))], required: ["programmeID", "granted", "pool", "allocations"])
    static var parts: [any APIBody.Type] { [BalanceDTO.self, AllocationDTO.self] }
    static let samples = [ProgrammeCreditsDTO(programmeID: Sample.id, granted: Credits(micro: 100_000_000), pool: BalanceDTO.samples[0],
                                              allocations: AllocationDTO.samples)]
}

struct MemberCreditsDTO: Content {
    var userID: UUID
    var name: String
    var role: String
    /// Nil until the member first uses (or is given) credits.
    var accountID: UUID?
    var balance: BalanceDTO?
}

extension MemberCreditsDTO: APIBody {
    static let schemaName = "MemberCredits"
    static let schema = JSONSchema.object(["userID": .string(format: "uuid"), "name": .string(), "role": .string(),
                                           "accountID": .string(format: "uuid"), "balance": .ref(BalanceDTO.self)], required: ["userID", "name", "role"])
    static var parts: [any APIBody.Type] { [BalanceDTO.self] }
    static let samples = [
        MemberCreditsDTO(userID: Sample.id, name: "Ada", role: "student", accountID: Sample.id, balance: BalanceDTO.samples[0]),
        MemberCreditsDTO(userID: Sample.id, name: "Ben", role: "student", accountID: nil, balance: nil),
    ]
}

struct PlaceCreditsDTO: Content {
    var allocation: AllocationDTO
    var members: [MemberCreditsDTO]
}

extension PlaceCreditsDTO: APIBody {
    static let schemaName = "PlaceCredits"
    static let schema = JSONSchema.object(["allocation": .ref(AllocationDTO.self), "members": .array(.ref(MemberCreditsDTO.self))],
                                          required: ["allocation", "members"])
    static var parts: [any APIBody.Type] { [AllocationDTO.self, MemberCreditsDTO.self] }
    static let samples = [PlaceCreditsDTO(allocation: AllocationDTO.samples[0], members: MemberCreditsDTO.samples)]
}

struct MyAllowanceDTO: Content {
    var accountID: UUID
    var kind: AccountKind
    var placeID: UUID
    var name: String
    var balance: BalanceDTO
}

extension MyAllowanceDTO: APIBody {
    static let schemaName = "Allowance"
    static let schema = JSONSchema.object(["accountID": .string(format: "uuid"), "kind": .choice(AccountKind.self), "placeID": .string(format: "uuid"),
                                           "name": .string(), "balance": .ref(BalanceDTO.self)], required: ["accountID", "kind", "placeID", "name", "balance"])
    static var parts: [any APIBody.Type] { [BalanceDTO.self] }
    static let samples = [MyAllowanceDTO(accountID: Sample.id, kind: .allowance, placeID: Sample.id, name: "CS101", balance: BalanceDTO.samples[0])]
}

struct HoldDTO: Content {
    var id: UUID
    var accountID: UUID
    var amount: Credits
    var status: HoldStatus
    var settled: Credits?
    var reason: String
    var expiresAt: Date

    init(_ hold: LedgerHold) throws {
        id = try hold.requireID()
        accountID = hold.$account.id
        amount = Credits(micro: hold.amount)
        status = hold.status
        settled = hold.settledAmount.map(Credits.init(micro:))
        reason = hold.reason
        expiresAt = hold.expiresAt
    }
}

extension HoldDTO: APIBody {
    static let schemaName = "Hold"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "accountID": .string(format: "uuid"), "amount": .credits,
                                           "status": .choice(HoldStatus.self), "settled": .credits, "reason": .string(), "expiresAt": .string(format: "date-time")],
                                          required: ["id", "accountID", "amount", "status", "reason", "expiresAt"])
    static var samples: [HoldDTO] {
        let hold = LedgerHold()
        hold.id = Sample.id
        hold.$account.id = Sample.id
        hold.amount = 2_000_000
        hold.status = .settled
        hold.settledAmount = 1_250_000
        hold.reason = "grading run"
        hold.expiresAt = Sample.date
        return [try! HoldDTO(hold)]
    }
}

struct EntryDTO: Content {
    var id: UUID
    var kind: LedgerEntryKind
    /// Positive when credits came into this account's free balance, negative when they left it.
    var change: Credits
    /// What the entry moved (always positive), e.g. what a settle spent.
    var amount: Credits
    var memo: String
    var holdID: UUID?
    var at: Date
}

extension EntryDTO: APIBody {
    static let schemaName = "Entry"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "kind": .choice(LedgerEntryKind.self), "change": .credits, "amount": .credits,
                                           "memo": .string(), "holdID": .string(format: "uuid"), "at": .string(format: "date-time")],
                                          required: ["id", "kind", "change", "amount", "memo", "at"])
    static let samples = [EntryDTO(id: Sample.id, kind: .settle, change: Credits(micro: -1_250_000), amount: Credits(micro: 1_250_000),
                                   memo: "grading run", holdID: Sample.id, at: Sample.date)]
}

enum CreditsViews {
    /// Two queries: the programme's accounts, and the names of its courses and projects.
    static func programme(_ programme: Programme, on db: any Database) async throws -> ProgrammeCreditsDTO {
        let id = try programme.requireID()
        let accounts = try await LedgerAccount.query(on: db).filter(\.$programme.$id == id).all()
        let partner = accounts.first { $0.kind == .partner }, pool = accounts.first { $0.kind == .pool }
        let allocations = accounts.filter { $0.kind == .course || $0.kind == .project }
        let names = try await placeNames(allocations, on: db)
        let tree = AccountTree(accounts)
        return ProgrammeCreditsDTO(
            programmeID: id, granted: Credits(micro: -(partner?.balance ?? 0)),
            pool: pool.map { tree.rolledUp($0) } ?? BalanceDTO(free: 0, held: 0, spent: 0),
            allocations: try allocations.map { try allocation($0, name: names[$0.courseID ?? $0.projectID ?? UUID()] ?? "?", in: tree) }
                .naturallySorted(by: \.name))
    }

    /// Three queries: the allocation and its allowances, the place's members, their names.
    static func place(_ place: LedgerPlace, allocation: LedgerAccount, on db: any Database) async throws -> PlaceCreditsDTO {
        let allowances = try await LedgerAccount.query(on: db).filter(\.$parent.$id == allocation.requireID()).all()
        let byUser = Dictionary(allowances.compactMap { account in account.userID.map { ($0, account) } }, uniquingKeysWith: { a, _ in a })
        let members: [MemberDTO]
        switch place {
        case .course(let course): members = try await People.members(CourseMember.self, place: course.requireID(), on: db)
        case .project(let project): members = try await People.members(ProjectMember.self, place: project.requireID(), on: db)
        }
        return PlaceCreditsDTO(
            allocation: try Self.allocation(allocation, name: place.name, in: AccountTree([allocation] + allowances)),
            members: members.map { member in
                let account = byUser[member.userID]
                return MemberCreditsDTO(userID: member.userID, name: member.name, role: member.role, accountID: account?.id, balance: account.map(BalanceDTO.init))
            })
    }

    /// Two queries: the person's allowances and the names of their places.
    static func mine(_ user: User, on db: any Database) async throws -> [MyAllowanceDTO] {
        let accounts = try await LedgerAccount.query(on: db).filter(\.$userID == user.requireID()).filter(\.$kind == .allowance).all()
        let names = try await placeNames(accounts, on: db)
        return try accounts.map { account in
            let placeID = account.courseID ?? account.projectID!
            return MyAllowanceDTO(accountID: try account.requireID(), kind: account.courseID != nil ? .course : .project, placeID: placeID,
                                  name: names[placeID] ?? "?", balance: BalanceDTO(account))
        }.naturallySorted(by: \.name)
    }

    static func entries(of account: LedgerAccount, on db: any Database, for req: Request) async throws -> Page<EntryDTO> {
        let id = try account.requireID()
        return try await LedgerEntry.query(on: db)
            .group(.or) { $0.filter(\.$fromAccountID == id).filter(\.$toAccountID == id) }
            .sort(\.$createdAt, .descending).sort(\.$id)
            .paginate(for: req)
            .map { try entry($0, for: id) }
    }

    /// One journal entry as it changed `account`'s free balance.
    static func entry(_ entry: LedgerEntry, for account: UUID) throws -> EntryDTO {
        let change: Int64
        switch entry.kind {
        case .settle: change = 0  // from held to spent: the free balance does not change
        case .reserve: change = -entry.amount
        case .release, .void: change = entry.amount
        case .debt: change = 0  // owed, not taken: the free balance had nothing left
        default: change = entry.toAccountID == account ? entry.amount : -entry.amount
        }
        return EntryDTO(id: try entry.requireID(), kind: entry.kind, change: Credits(micro: change), amount: Credits(micro: entry.amount), memo: entry.memo, holdID: entry.holdID, at: entry.createdAt)
    }

    private static func allocation(_ account: LedgerAccount, name: String, in tree: AccountTree) throws -> AllocationDTO {
        AllocationDTO(accountID: try account.requireID(), kind: account.kind, placeID: account.courseID ?? account.projectID!, name: name,
                      balance: tree.rolledUp(account), defaultAllowance: account.defaultAllowance.map(Credits.init(micro:)),
                      expiresAt: account.expiresAt)
    }

    private static func placeNames(_ accounts: [LedgerAccount], on db: any Database) async throws -> [UUID: String] {
        let courseIDs = Set(accounts.compactMap(\.courseID)), projectIDs = Set(accounts.compactMap(\.projectID))
        var names: [UUID: String] = [:]
        if !courseIDs.isEmpty {
            for course in try await Course.query(on: db).filter(\.$id ~~ courseIDs).all() { names[try course.requireID()] = "\(course.code) \(course.title)" }
        }
        if !projectIDs.isEmpty {
            for project in try await ResearchProject.query(on: db).filter(\.$id ~~ projectIDs).all() { names[try project.requireID()] = project.title }
        }
        return names
    }
}

/// Accounts with their children indexed once, so rolling each one up costs only its own subtree.
struct AccountTree {
    private let children: [UUID: [LedgerAccount]]

    init(_ accounts: [LedgerAccount]) {
        children = Dictionary(grouping: accounts.filter { $0.$parent.id != nil }, by: { $0.$parent.id! })
    }

    /// The account's own free and held credits, with held, spent and the total including everything below it.
    func rolledUp(_ account: LedgerAccount) -> BalanceDTO {
        var spentBelow: Int64 = 0, heldBelow: Int64 = 0, freeBelow: Int64 = 0, debtBelow: Int64 = 0
        var frontier = [account.id].compactMap { $0 }
        while let next = frontier.popLast() {
            for child in children[next] ?? [] {
                spentBelow += child.spent; heldBelow += child.held; freeBelow += child.balance; debtBelow += child.debt
                if let id = child.id { frontier.append(id) }
            }
        }
        return BalanceDTO(free: account.balance, held: account.held + heldBelow, spent: account.spent + spentBelow, below: freeBelow,
                          debt: account.debt + debtBelow)
    }
}
