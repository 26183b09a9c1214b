// What the templates of the credits pages are given (their view-models; links come from SitePath).
import Foundation
import Ledger
import Vapor

struct MyCreditsPage: Encodable {
    struct Allowance: Encodable {
        var allowance: MyAllowanceDTO
        var entries: [EntryDTO]
        /// The API's statement download (getStatementCSV).
        var statementCSV: String
        init(allowance: MyAllowanceDTO, entries: [EntryDTO]) {
            (self.allowance, self.entries) = (allowance, entries)
            statementCSV = "/api/v1/credits/accounts/\(allowance.accountID)/statement.csv"
        }
    }
    var title = "My credits"
    var page: PageContext
    var allowances: [Allowance]
}

struct ProgrammeCreditsPage: Encodable {
    struct Row: Encodable {
        var kind: String
        var placeID: UUID
        var name: String
        var balance: BalanceDTO
        var defaultAllowance: Credits?
        var expiresOn: String?
    }
    var title: String
    var page: PageContext
    var programmeLink: String, allocate: String, grant: String
    /// The API's statement download (getProgrammeStatementCSV).
    var statementCSV: String
    var programmeName: String
    var granted: Credits
    var pool: BalanceDTO
    var rows: [Row]
    var chart: String
    var points: [BurnDownPoint]
    var canManage: Bool
}

struct PlaceCreditsPage: Encodable {
    var title: String
    var page: PageContext
    /// Where the place's allowance forms go.
    var defaultAllowance: String, allowances: String
    var name: String
    var credits: PlaceCreditsDTO
    var nearCap: [MemberCreditsDTO]
    var canManage: Bool
}
