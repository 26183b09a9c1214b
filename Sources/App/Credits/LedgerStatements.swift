// Statements as CSV: every entry of a programme, or of one account, oldest first, in the form spreadsheets and
// the partner's finance team read.
import Fluent
import Foundation
import Ledger

enum LedgerStatements {
    static func csv(programme: Programme, account: UUID? = nil, on db: any Database) async throws -> String {
        let programmeID = try programme.requireID()
        let accounts = try await LedgerAccount.query(on: db).filter(\.$programme.$id == programmeID).all()
        let labels = Dictionary(uniqueKeysWithValues: accounts.compactMap { account in account.id.map { ($0, account.label) } })
        let query = LedgerEntry.query(on: db).filter(\.$programmeID == programmeID).sort(\.$createdAt).sort(\.$id)
        if let account { query.group(.or) { $0.filter(\.$fromAccountID == account).filter(\.$toAccountID == account) } }
        var lines = ["time,kind,from,to,credits,hold,memo"]
        for entry in try await query.all() {
            let cells = [ISO8601DateFormatter().string(from: entry.createdAt), entry.kind.rawValue,
                         entry.fromAccountID.flatMap { labels[$0] } ?? "", entry.toAccountID.flatMap { labels[$0] } ?? "",
                         Credits(micro: entry.amount).description, entry.holdID?.uuidString ?? "", entry.memo]
            lines.append(CSVCells.row(cells))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
