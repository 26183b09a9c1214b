// Credits moving between a programme's levels: the partner's grant into the pool, and allocations from the pool to a
// course or project (or back). Used by the JSON API and the credits pages alike; the ledger store checks and writes.
import Fluent
import Ledger
import Vapor

struct GrantInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case amount, memo, idempotencyKey }
    typealias Fields = CodingKeys
    var amount: Credits
    var memo: String?
    var idempotencyKey: String?
}

extension GrantInput: APIInput {
    /// Amounts are credits: 12 or "12.5".
    static let schema = JSONSchema.object(["amount": .positiveCreditsInput, "memo": .string(), "idempotencyKey": .idempotencyKey], required: ["amount"])
}

struct AllocationInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case courseID, projectID, amount, expiresOn, memo, idempotencyKey }
    typealias Fields = CodingKeys
    var courseID: UUID?
    var projectID: UUID?
    var amount: Credits
    var expiresOn: String?
    var memo: String?
    var idempotencyKey: String?
}

extension AllocationInput: APIInput {
    static let schema = JSONSchema.object(["courseID": .string(format: "uuid"), "projectID": .string(format: "uuid"), "amount": .positiveCreditsInput,
                                           "expiresOn": .string(format: "date"), "memo": .string(), "idempotencyKey": .idempotencyKey], required: ["amount"])
}

/// One amount: an allowance, or the default allowance of a course or project.
struct AmountInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case amount }
    typealias Fields = CodingKeys
    var amount: Credits
}

extension AmountInput: APIInput {
    static let schema = JSONSchema.object(["amount": .creditsInput], required: ["amount"])
}

enum ProgrammeTransfers {
    /// Records the partner's grant into the programme pool (once per idempotency key: the client's, from the body
    /// or the Idempotency-Key header).
    static func grant(_ input: GrantInput, key: String?, to programme: Programme, by user: User, ledger: LedgerStore) async throws {
        try await ledger.transfer(.grant, from: try await ledger.partnerAccount(of: programme), to: try await ledger.pool(of: programme),
                                  amount: input.amount, memo: memo(input.memo, "grant from \(programme.partnerOrganisation)"),
                                  key: try key.map { "programme:\(try programme.requireID()):\($0)" }, actor: user.id)
    }

    @discardableResult
    static func move(_ input: AllocationInput, key: String?, in programme: Programme, down: Bool, by user: User,
                     ledger: LedgerStore) async throws -> LedgerPlace {
        let place = try await place(courseID: input.courseID, projectID: input.projectID, in: programme, on: ledger.db)
        var checks = InputChecks()
        let expiry = input.expiresOn.flatMap { $0.isEmpty ? nil : checks.date($0, "expiresOn") }
        try checks.finish()
        let allocation = try await ledger.allocation(of: place), pool = try await ledger.pool(of: programme)
        if let expiry, down {
            allocation.expiresAt = expiry
            try await allocation.save(on: ledger.db)
        }
        try await ledger.transfer(down ? .allocate : .return, from: down ? pool : allocation, to: down ? allocation : pool, amount: input.amount,
                                  memo: memo(input.memo, down ? "allocation to \(place.name)" : "returned by \(place.name)"),
                                  key: try key.map { "programme:\(try programme.requireID()):\($0)" }, actor: user.id)
        return place
    }

    static func place(courseID: UUID?, projectID: UUID?, in programme: Programme, on db: any Database) async throws -> LedgerPlace {
        let programmeID = try programme.requireID()
        switch (courseID, projectID) {
        case (let id?, nil):
            guard let course = try await Course.find(id, on: db), course.$programme.id == programmeID else {
                throw InputRejection.conflict("The programme has no course with the id \(id).")
            }
            return .course(course)
        case (nil, let id?):
            guard let project = try await ResearchProject.find(id, on: db), project.$programme.id == programmeID else {
                throw InputRejection.conflict("The programme has no project with the id \(id).")
            }
            return .project(project)
        default:
            throw InputRejection("Give exactly one of courseID and projectID.")
        }
    }

    private static func memo(_ given: String?, _ fallback: String) -> String {
        let trimmed = given?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return trimmed.isEmpty ? fallback : String(trimmed.prefix(200))
    }
}
