// Alerts at 80% and 100% of any allocation or allowance: one notice per person, account and threshold, for the
// people who can act on it — a member about their own allowance, instructors or the PI about their allocation,
// programme managers about allocations and the pool. Found by a scan (a fixed number of queries, whatever the
// number of accounts), which the expiry sweep runs every minute; nothing slows a hold down.
import Fluent
import Foundation
import Ledger

enum LedgerAlerts {
    static let thresholds = [80, 100]

    /// Records the notices that are due and not yet recorded; returns how many were new.
    @discardableResult
    static func scan(on db: any Database, now: Date = Date()) async throws -> Int {
        let accounts = try await LedgerAccount.query(on: db).filter(\.$kind != .partner).all()
        var due: [(account: LedgerAccount, threshold: Int, used: Credits, total: Credits)] = []
        let tree = AccountTree(accounts)  // parents and children are always in the same programme
        for account in accounts {
            let balance = tree.rolledUp(account)
            guard balance.total > .zero else { continue }
            for threshold in thresholds where balance.usedPercent >= threshold {
                due.append((account, threshold, balance.spent, balance.total))
            }
        }
        guard !due.isEmpty else { return 0 }
        let accountIDs = Set(due.compactMap(\.account.id))
        let recorded = Set(try await Notice.query(on: db).filter(\.$accountID ~~ accountIDs).all()
            .map { "\($0.$user.id)|\($0.accountID!)|\($0.threshold ?? 0)" })
        // Who to tell: loaded once for every place involved.
        let courseIDs = Set(due.compactMap(\.account.courseID)), projectIDs = Set(due.compactMap(\.account.projectID))
        let programmeIDs = Set(due.map(\.account.$programme.id))
        let instructors = Dictionary(grouping: try await CourseMember.query(on: db).filter(\.$course.$id ~~ courseIDs)
            .filter(\.$role == .instructor).all(), by: { $0.$course.id })
        let pis = Dictionary(grouping: try await ProjectMember.query(on: db).filter(\.$project.$id ~~ projectIDs)
            .filter(\.$role == .pi).all(), by: { $0.$project.id })
        let managers = Dictionary(grouping: try await ProgrammeMember.query(on: db).filter(\.$programme.$id ~~ programmeIDs)
            .filter(\.$role == .manager).all(), by: { $0.$programme.id })
        var notices: [Notice] = [], planned = recorded
        for (account, threshold, used, total) in due {
            guard let accountID = account.id else { continue }
            let state = threshold >= 100 ? "is used up" : "is \(threshold)% used"
            let amounts = "(\(used) of \(total) credits)"
            var recipients: [(UUID, String, String?)] = []
            let placeLink = account.courseID.map { SitePath.courseCredits(.id($0)).url } ?? account.projectID.map { SitePath.projectCredits(.id($0)).url }
            switch account.kind {
            case .allowance:
                if let owner = account.userID {
                    let place = account.label.components(separatedBy: " allowance in ").last ?? ""
                    recipients.append((owner, "Your allowance in \(place) \(state) \(amounts). Your instructor or PI can raise it.", SitePath.credits.url))
                }
            case .course, .project:
                let staff = account.kind == .course
                    ? (instructors[account.courseID ?? UUID()] ?? []).map(\.$user.id)
                    : (pis[account.projectID ?? UUID()] ?? []).map(\.$user.id)
                let sentence = "\(account.label.prefix(1).uppercased() + account.label.dropFirst()) \(state) \(amounts)."
                for user in staff { recipients.append((user, sentence + " A programme manager can allocate more.", placeLink)) }
                for manager in managers[account.$programme.id] ?? [] { recipients.append((manager.$user.id, sentence, SitePath.programmeCredits(.id(account.$programme.id)).url)) }
            case .pool:
                for manager in managers[account.$programme.id] ?? [] {
                    recipients.append((manager.$user.id, "The programme pool \(state) \(amounts).", SitePath.programmeCredits(.id(account.$programme.id)).url))
                }
            case .partner:
                break
            }
            for (user, message, link) in recipients where planned.insert("\(user)|\(accountID)|\(threshold)").inserted {
                notices.append(Notice(userID: user, kind: "credits_\(threshold)", message: message, link: link, accountID: accountID,
                                      threshold: threshold, at: now))
            }
        }
        for notice in notices {
            do { try await notice.create(on: db) } catch where Writes.isUniqueViolation(error) { continue }  // a concurrent scan
        }
        return notices.count
    }
}

extension LedgerAlerts {
    /// A use the platform charged beyond its hold (the hold was closed before its settle, or was too small): tells the
    /// place's staff (instructors or PIs) and the programme's managers, once per use, what was charged and what is
    /// owed. Written in the caller's transaction, with the charge.
    static func useChargedBeyondHold(_ charge: LedgerStore.UseCharge, accountID: UUID, memo: String, on db: any Database,
                                     now: Date = Date()) async throws {
        guard charge.holdWasClosed || charge.debt > 0,
              let account = try await LedgerAccount.find(accountID, on: db) else { return }
        let why = charge.holdWasClosed ? "was charged after its hold had been closed" : "used more than its hold"
        var message = "\(memo.prefix(1).uppercased() + memo.dropFirst()) (\(account.label)) \(why): \(Credits(micro: charge.charged)) credits from the free balance"
        if charge.debt > 0 { message += ", \(Credits(micro: charge.debt)) credits recorded as debt" }
        message += "."
        var staff: [UUID] = []
        if let courseID = account.courseID {
            staff = try await CourseMember.query(on: db).filter(\.$course.$id == courseID).filter(\.$role == .instructor).all().map(\.$user.id)
        } else if let projectID = account.projectID {
            staff = try await ProjectMember.query(on: db).filter(\.$project.$id == projectID).filter(\.$role == .pi).all().map(\.$user.id)
        }
        let managers = try await ProgrammeMember.query(on: db).filter(\.$programme.$id == account.$programme.id)
            .filter(\.$role == .manager).all().map(\.$user.id)
        let link = account.courseID.map { SitePath.courseCredits(.id($0)).url } ?? account.projectID.map { SitePath.projectCredits(.id($0)).url }
        for user in Set(staff + managers) {
            // No threshold: one notice per such use (the unique index counts NULL thresholds as distinct).
            try await Notice(userID: user, kind: "credits_overdue", message: message, link: link, accountID: accountID, threshold: nil, at: now)
                .create(on: db)
        }
    }
}
