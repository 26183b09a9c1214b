// CSV cells for exports opened in spreadsheets: quoted when they hold a comma, quote or line break, and a leading
// = + - @ (a formula to a spreadsheet), tab or carriage return neutralised with an apostrophe unless the cell is a number.
import Foundation
import Ledger

enum CSVCells {
    static func field(_ value: String) -> String {
        let safe = value.first.map { "=+-@\t\r".contains($0) } == true && Credits.parse(value) == nil ? "'" + value : value
        return safe.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + safe.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : safe
    }

    static func row(_ cells: [String]) -> String { cells.map(field).joined(separator: ",") }
}
