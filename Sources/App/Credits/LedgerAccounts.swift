// Which ledger account belongs to which place and person, created when first needed: the partner's account and
// the pool with the programme's first grant, an allocation with a course's or project's first credits, a
// member's allowance with their first use (funded with the place's default allowance, if one is set).
import Fluent
import Foundation
import Insight
import Ledger
import Vapor

/// A place whose allocation members spend from.
enum LedgerPlace: Sendable {
    case course(Course)
    case project(ResearchProject)

    var id: UUID { switch self { case .course(let c): c.id!; case .project(let p): p.id! } }
    var programmeID: UUID { switch self { case .course(let c): c.$programme.id; case .project(let p): p.$programme.id } }
    var kind: AccountKind { switch self { case .course: .course; case .project: .project } }
    var name: String { switch self { case .course(let c): c.code; case .project(let p): "the project “\(p.title)”" } }
    var naturalKey: String { "\(kind.rawValue):\(id.uuidString.lowercased())" }

    /// The member of this place with that id, and their role; nil when they are not a member.
    func member(_ userID: UUID, on db: any Database) async throws -> (user: User, role: String)? {
        func find<M: PlaceMembership>(_ type: M.Type) async throws -> (User, String)? {
            guard let membership = try await M.query(place: id, on: db).filter("user_id", .equal, userID).first() else { return nil }
            return (membership.member, membership.role.rawValue)
        }
        switch self {
        case .course: return try await find(CourseMember.self)
        case .project: return try await find(ProjectMember.self)
        }
    }

    /// Whom a member asks for a larger allowance here, as a sentence: the course's instructors, the project's PIs.
    func whoToAsk(on db: any Database) async throws -> String {
        switch self {
        case .course(let course):
            let names = try await CourseMember.query(on: db).filter(\.$course.$id == course.requireID()).filter(\.$role == .instructor)
                .with(\.$user).all().map(\.user.displayName).naturallySorted()
            return "Ask your instructor" + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))") + " to raise your allowance in \(course.code)."
        case .project(let project):
            let names = try await ProjectMember.query(on: db).filter(\.$project.$id == project.requireID()).filter(\.$role == .pi)
                .with(\.$user).all().map(\.user.displayName).naturallySorted()
            return "Ask the project's PI" + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))") + " to raise your allowance."
        }
    }
}

extension LedgerStore {
    func partnerAccount(of programme: Programme) async throws -> LedgerAccount {
        let id = try programme.requireID()
        return try await account("partner:\(id.uuidString.lowercased())") {
            LedgerAccount(programmeID: id, kind: .partner, parentID: nil, naturalKey: $0, label: "\(programme.partnerOrganisation)'s grant account")
        }
    }

    func pool(of programme: Programme) async throws -> LedgerAccount {
        let id = try programme.requireID()
        let partner = try await partnerAccount(of: programme)
        return try await account("pool:\(id.uuidString.lowercased())") {
            LedgerAccount(programmeID: id, kind: .pool, parentID: partner.id, naturalKey: $0, label: "the programme pool")
        }
    }

    func allocation(of place: LedgerPlace) async throws -> LedgerAccount {
        if let existing = try await LedgerAccount.query(on: db).filter(\.$naturalKey == place.naturalKey).first() { return existing }
        guard let programme = try await Programme.find(place.programmeID, on: db) else { throw Abort(.notFound) }
        let pool = try await pool(of: programme)
        return try await account(place.naturalKey) {
            let account = LedgerAccount(programmeID: place.programmeID, kind: place.kind, parentID: pool.id, naturalKey: $0,
                                        label: "the \(place.name) allocation")
            if case .course(let course) = place { account.courseID = course.id } else { account.projectID = place.id }
            return account
        }
    }

    /// The member's allowance in the place; created on first use and funded with the place's default allowance
    /// from its allocation (refused, naming the allocation, when it has not enough).
    func allowance(of user: User, in place: LedgerPlace) async throws -> LedgerAccount {
        let key = "allowance:\(place.naturalKey):\(try user.requireID().uuidString.lowercased())"
        let parent = try await allocation(of: place)
        let account = try await account(key) {
            let account = LedgerAccount(programmeID: place.programmeID, kind: .allowance, parentID: parent.id, naturalKey: $0,
                                        label: "\(user.displayName)'s allowance in \(place.name)", userID: user.id)
            if case .course = place { account.courseID = place.id } else { account.projectID = place.id }
            return account
        }
        // Funded once with the default (the key makes a retry, or a concurrent first use, move nothing twice).
        guard let first = parent.defaultAllowance, first > 0, Self.given(account) == 0 else { return account }
        try await transfer(.allocate, from: parent, to: account, amount: Credits(micro: first), memo: "default allowance",
                           key: "default-allowance:\(key)")
        return try await LedgerAccount.find(account.requireID(), on: db)!
    }

    /// What a member has been given in all: free, held and spent.
    static func given(_ account: LedgerAccount) -> Int64 { account.balance + account.held + account.spent }

    /// Sets the member's allowance to `total` in all (free + held + spent): more comes from the allocation, less
    /// goes back to it (at most what is free).
    func setAllowance(of user: User, in place: LedgerPlace, to total: Credits, actor: UUID?) async throws -> LedgerAccount {
        guard total >= .zero else { throw InputRejection("An allowance cannot be below zero.") }
        let account = try await allowance(of: user, in: place)
        let parent = try await allocation(of: place)
        let difference = total.micro - Self.given(account)
        if difference > 0 {
            try await transfer(.allocate, from: parent, to: account, amount: Credits(micro: difference), memo: "allowance raised to \(total)", actor: actor)
        } else if difference < 0 {
            let back = min(-difference, account.balance)
            guard back == -difference else {
                throw Abort(.conflict, reason: "\(user.displayName) has already used or holds \(Credits(micro: account.spent + account.held)) credits; the allowance cannot go below that.")
            }
            try await transfer(.return, from: account, to: parent, amount: Credits(micro: back), memo: "allowance lowered to \(total)", actor: actor)
        }
        return try await LedgerAccount.find(account.requireID(), on: db)!
    }

    /// Sets what each member's allowance starts with, and raises every existing allowance that is below it.
    func setDefaultAllowance(in place: LedgerPlace, to amount: Credits, actor: UUID?) async throws -> LedgerAccount {
        guard amount >= .zero else { throw InputRejection("A default allowance cannot be below zero.") }
        let parent = try await allocation(of: place)
        let below = try await LedgerAccount.query(on: db).filter(\.$parent.$id == parent.requireID()).filter(\.$kind == .allowance).all()
            .filter { Self.given($0) < amount.micro }
        // Summed without overflow: a large default times many members (each up to `Credits.maximum`) could pass
        // Int64; such a sum is more than any allocation holds, so it is refused like any other shortfall.
        let needed = below.reduce(Int64(0)) { sum, account in
            let (total, overflow) = sum.addingReportingOverflow(amount.micro - Self.given(account))
            return overflow ? Int64.max : total
        }
        guard needed <= parent.balance else {
            throw LedgerRefusal.notEnough(account: parent.label, available: Credits(micro: parent.balance), needed: Credits(micro: needed))
        }
        parent.defaultAllowance = amount.micro
        try await parent.save(on: db)
        for account in below {
            try await transfer(.allocate, from: parent, to: account, amount: Credits(micro: amount.micro - Self.given(account)),
                               memo: "default allowance raised to \(amount)", actor: actor)
        }
        return try await LedgerAccount.find(parent.requireID(), on: db)!
    }

    /// Finds the account with this natural key, or creates it (a concurrent creation wins, and is returned).
    private func account(_ naturalKey: String, make: (String) -> LedgerAccount) async throws -> LedgerAccount {
        if let existing = try await LedgerAccount.query(on: db).filter(\.$naturalKey == naturalKey).first() { return existing }
        let account = make(naturalKey)
        do {
            try await account.create(on: db)
            return account
        } catch where Writes.isUniqueViolation(error) {
            return try await LedgerAccount.query(on: db).filter(\.$naturalKey == naturalKey).first()!
        }
    }
}
