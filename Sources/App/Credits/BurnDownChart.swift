// The programme's burn-down: credits remaining (granted so far minus spent so far) at the end of each day, drawn
// as an SVG on the server (no JavaScript, readable by screen readers through its title and the table beside it).
import Fluent
import Foundation
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
        let width = 640.0, height = 220.0, left = 70.0, bottom = 30.0, top = 12.0, right = 12.0
        let escapedTitle = title.htmlEscaped()
        guard !points.isEmpty else {
            return #"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 640 60" width="640" height="60"><title>\#(escapedTitle)</title>"#
                + #"<text x="10" y="35" font-size="14">No credits granted or used yet.</text></svg>"#
        }
        let maxValue = max(points.map(\.remaining.micro).max() ?? 1, 1)
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let step = points.count > 1 ? plotWidth / Double(points.count - 1) : 0
        func y(_ micro: Int64) -> Double { top + plotHeight * (1 - Double(max(micro, 0)) / Double(maxValue)) }
        let coordinates = points.enumerated().map { index, point in
            String(format: "%.1f,%.1f", left + Double(index) * step, y(point.remaining.micro))
        }
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 \#(Int(width)) \#(Int(height))" width="\#(Int(width))" height="\#(Int(height))">"#
        svg += "<title>\(escapedTitle)</title>"
        svg += #"<line x1="\#(left)" y1="\#(top)" x2="\#(left)" y2="\#(height - bottom)" stroke="dimgray"/>"#
        svg += #"<line x1="\#(left)" y1="\#(height - bottom)" x2="\#(width - right)" y2="\#(height - bottom)" stroke="dimgray"/>"#
        svg += #"<text x="\#(left - 6)" y="\#(top + 10)" font-size="12" text-anchor="end">\#(Credits(micro: maxValue))</text>"#
        svg += #"<text x="\#(left - 6)" y="\#(height - bottom)" font-size="12" text-anchor="end">0</text>"#
        svg += #"<text x="\#(left)" y="\#(height - 8)" font-size="12">\#(points.first!.day)</text>"#
        svg += #"<text x="\#(width - right)" y="\#(height - 8)" font-size="12" text-anchor="end">\#(points.last!.day)</text>"#
        svg += #"<polyline fill="none" stroke="rgb(11,92,173)" stroke-width="2" points="\#(coordinates.joined(separator: " "))"/>"#
        for coordinate in coordinates {
            let parts = coordinate.split(separator: ",")
            svg += #"<circle cx="\#(parts[0])" cy="\#(parts[1])" r="3" fill="rgb(11,92,173)"/>"#
        }
        return svg + "</svg>"
    }
}
