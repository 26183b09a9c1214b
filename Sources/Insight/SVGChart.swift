// Charts drawn on the server as SVG: readable without JavaScript, announced to screen readers by their <title>, and
// always shown beside a table or a CSV/JSON link carrying the same numbers. Plain values in, markup out.
import Foundation

public enum SVGChart {
    /// One labelled value: a day, a score bucket, a test's name.
    public struct Point: Equatable, Sendable {
        public var label: String
        public var value: Double
        public init(_ label: String, _ value: Double) { (self.label, self.value) = (label, value) }
    }

    /// A line over the points in order, y from zero to the highest value (e.g. credits remaining by day).
    public static func line(_ points: [Point], title: String, empty: String, format: (Double) -> String = plain) -> String {
        let frame = Frame(width: 640, height: 220, left: 70, bottom: 30, top: 12, right: 12)
        guard !points.isEmpty else { return emptyChart(title: title, message: empty) }
        let maxValue = max(points.map(\.value).max() ?? 1, 1)
        let step = points.count > 1 ? frame.plotWidth / Double(points.count - 1) : 0
        let coordinates = points.enumerated().map { index, point in
            decimal(frame.left + Double(index) * step) + "," + decimal(frame.y(point.value, max: maxValue))
        }
        var svg = frame.open(title: title) + frame.axes(maxLabel: format(maxValue))
        svg += frame.xLabels(first: points.first!.label, last: points.last!.label)
        svg += #"<polyline fill="none" stroke="\#(colour)" stroke-width="2" points="\#(coordinates.joined(separator: " "))"/>"#
        for coordinate in coordinates {
            let parts = coordinate.split(separator: ",")
            svg += #"<circle cx="\#(parts[0])" cy="\#(parts[1])" r="3" fill="\#(colour)"/>"#
        }
        return svg + "</svg>"
    }

    /// Vertical bars, one per point, each with its value in a tooltip (e.g. hand-ins per day, a score histogram).
    public static func bars(_ points: [Point], title: String, empty: String, format: (Double) -> String = plain) -> String {
        let frame = Frame(width: 640, height: 220, left: 50, bottom: 30, top: 12, right: 12)
        guard !points.isEmpty, points.contains(where: { $0.value != 0 }) else { return emptyChart(title: title, message: empty) }
        let maxValue = max(points.map(\.value).max() ?? 1, 1)
        let slot = frame.plotWidth / Double(points.count), barWidth = max(slot * 0.8, 1)
        var svg = frame.open(title: title) + frame.axes(maxLabel: format(maxValue))
        svg += frame.xLabels(first: points.first!.label, last: points.last!.label)
        for (index, point) in points.enumerated() {
            let top = frame.y(point.value, max: maxValue)
            svg += #"<rect x="\#(decimal(frame.left + Double(index) * slot + (slot - barWidth) / 2))" y="\#(decimal(top))" width="\#(decimal(barWidth))" height="\#(decimal(frame.height - frame.bottom - top))" fill="\#(colour)">"#
            svg += "<title>\(escape(point.label)): \(escape(format(point.value)))</title></rect>"
        }
        return svg + "</svg>"
    }

    /// Horizontal bars with their labels, for shares from 0 to 1 (e.g. each test's pass rate); values are clamped.
    public static func shares(_ points: [Point], title: String, empty: String) -> String {
        guard !points.isEmpty else { return emptyChart(title: title, message: empty) }
        let row = 22.0, labelWidth = 260.0, barSpace = 320.0, width = 640.0
        let height = row * Double(points.count) + 8
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 \#(Int(width)) \#(Int(height))" width="\#(Int(width))" height="\#(Int(height))">"#
        svg += "<title>\(escape(title))</title>"
        for (index, point) in points.enumerated() {
            let y = 4 + Double(index) * row, share = min(max(point.value, 0), 1)
            let label = point.label.count > 40 ? String(point.label.prefix(39)) + "…" : point.label
            svg += #"<text x="\#(decimal(labelWidth - 6))" y="\#(decimal(y + 14))" font-size="12" text-anchor="end">"# + escape(label) + "</text>"
            svg += #"<rect x="\#(decimal(labelWidth))" y="\#(decimal(y + 2))" width="\#(decimal(barSpace))" height="16" fill="rgb(230,230,230)"/>"#
            svg += #"<rect x="\#(decimal(labelWidth))" y="\#(decimal(y + 2))" width="\#(decimal(barSpace * share))" height="16" fill="\#(colour)"/>"#
            svg += #"<text x="\#(decimal(labelWidth + barSpace + 6))" y="\#(decimal(y + 14))" font-size="12">\#(Int((share * 100).rounded()))%</text>"#
        }
        return svg + "</svg>"
    }

    /// A small line without axes for a table cell (e.g. credits used per day over four weeks).
    public static func sparkline(_ values: [Double], title: String, width: Int = 120, height: Int = 24) -> String {
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" role="img" class="spark" viewBox="0 0 \#(width) \#(height)" width="\#(width)" height="\#(height)">"#
        svg += "<title>\(escape(title))</title>"
        guard values.count > 1 else { return svg + "</svg>" }
        let top = max(values.max() ?? 0, 0), usable = Double(height - 4)
        let step = Double(width - 2) / Double(values.count - 1)
        let coordinates = values.enumerated().map { index, value in
            decimal(1 + Double(index) * step) + "," + decimal(2 + usable * (top > 0 ? 1 - max(value, 0) / top : 1))
        }
        svg += #"<polyline fill="none" stroke="\#(colour)" stroke-width="1.5" points="\#(coordinates.joined(separator: " "))"/>"#
        return svg + "</svg>"
    }

    /// Text made safe for SVG or HTML content and attributes.
    public static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {  // scalars: a quote followed by a combining mark is still a quote
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// A coordinate with one decimal ("12.0", "-3.5"), written without `String(format:)`, which is slow on Linux and
    /// was a tenth of a large overview page's time.
    public static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "0.0" }
        let tenths = Int((value * 10).rounded()), whole = abs(tenths) / 10, digit = abs(tenths) % 10
        return (tenths < 0 ? "-" : "") + String(whole) + "." + String(digit)
    }

    public static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.2f", value)
    }

    static let colour = "rgb(11,92,173)"

    static func emptyChart(title: String, message: String) -> String {
        #"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 640 60" width="640" height="60"><title>\#(escape(title))</title>"#
            + #"<text x="10" y="35" font-size="14">\#(escape(message))</text></svg>"#
    }

    /// A plot area inside margins, with the axes and end labels every chart with axes shares.
    struct Frame {
        var width: Double, height: Double, left: Double, bottom: Double, top: Double, right: Double
        var plotWidth: Double { width - left - right }
        var plotHeight: Double { height - top - bottom }
        func y(_ value: Double, max maxValue: Double) -> Double { top + plotHeight * (1 - Swift.max(value, 0) / maxValue) }

        func open(title: String) -> String {
            #"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 \#(Int(width)) \#(Int(height))" width="\#(Int(width))" height="\#(Int(height))">"#
                + "<title>\(escape(title))</title>"
        }

        func axes(maxLabel: String) -> String {
            #"<line x1="\#(left)" y1="\#(top)" x2="\#(left)" y2="\#(height - bottom)" stroke="dimgray"/>"#
                + #"<line x1="\#(left)" y1="\#(height - bottom)" x2="\#(width - right)" y2="\#(height - bottom)" stroke="dimgray"/>"#
                + #"<text x="\#(left - 6)" y="\#(top + 10)" font-size="12" text-anchor="end">\#(escape(maxLabel))</text>"#
                + #"<text x="\#(left - 6)" y="\#(height - bottom)" font-size="12" text-anchor="end">0</text>"#
        }

        func xLabels(first: String, last: String) -> String {
            #"<text x="\#(left)" y="\#(height - 8)" font-size="12">\#(escape(first))</text>"#
                + #"<text x="\#(width - right)" y="\#(height - 8)" font-size="12" text-anchor="end">\#(escape(last))</text>"#
        }
    }
}
