// The programme's burn-down: credits remaining (granted so far minus spent so far) at the end of each day, drawn
// as an SVG on the server (no JavaScript, readable by screen readers through its title and the table beside it).
import Fluent
import Foundation
import Insight
import Ledger

struct BurnDownPoint: Codable, Equatable, Sendable {
    var day: String
    var remaining: Credits
}

enum BurnDownChart {
    /// One point per day with a grant or a settled use, oldest first (two columns of the journal, one query).
    static func points(programmeID: UUID, on db: any Database) async throws -> [BurnDownPoint] {
        let entries = try await LedgerEntry.query(on: db).filter(\.$programmeID == programmeID)
            .filter(\.$kind ~~ [.grant, .settle]).sort(\.$createdAt).field(\.$kind).field(\.$amount).field(\.$createdAt).all()
        var points: [BurnDownPoint] = [], remaining: Int64 = 0
        for entry in entries {
            remaining += entry.kind == .grant ? entry.amount : -entry.amount
            let day = entry.createdAt.day
            if points.last?.day == day { points[points.count - 1].remaining = Credits(micro: remaining) }
            else { points.append(BurnDownPoint(day: day, remaining: Credits(micro: remaining))) }
        }
        return points
    }

    /// A 640×220 line chart; the y axis runs from zero to the highest remaining value.
    static func svg(_ points: [BurnDownPoint], title: String) -> String {
        SVGChart.line(points.map { .init($0.day, Double($0.remaining.micro)) }, title: title, empty: "No credits granted or used yet.") {
            "\(Credits(micro: Int64($0)))"
        }
    }
}
