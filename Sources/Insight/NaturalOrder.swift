// Names in the order people read them: "Student 2" before "Student 10", "émile" beside "Emile". One key serves both
// the sorts done in memory and the database's ORDER BY (users.sort_key), so a page and its JSON list agree.
// Not `localizedStandardCompare`: on Linux it follows the process's locale, and a paginated SQL order must not.
import Foundation

public enum NaturalOrder {
    /// A key whose plain byte order is the natural order: case and accents folded, white space collapsed, and each
    /// run of digits written as its length (two digits) followed by the digits without leading zeros, so that 2 < 10
    /// compares as "012" < "0210". Runs longer than 99 digits are cut (no name needs them).
    public static func sortKey(_ text: String) -> String {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil).lowercased()
        var key = "", digits = "", pendingSpace = false
        key.reserveCapacity(folded.utf8.count + 4)
        func flushDigits() {
            guard !digits.isEmpty else { return }
            var significant = Substring(digits).drop { $0 == "0" }
            if significant.isEmpty { significant = "0" }
            significant = significant.prefix(99)
            key += (significant.count < 10 ? "0" : "") + String(significant.count) + significant
            digits = ""
        }
        for scalar in folded.unicodeScalars {
            if scalar.properties.isWhitespace {
                flushDigits()
                pendingSpace = !key.isEmpty
                continue
            }
            if pendingSpace { key += " "; pendingSpace = false }
            if ("0"..."9").contains(scalar) {
                digits.unicodeScalars.append(scalar)
            } else {
                flushDigits()
                key.unicodeScalars.append(scalar)
            }
        }
        flushDigits()
        // In NFC, Swift's comparison of two keys is the comparison of their bytes, as the database's is.
        return key.precomposedStringWithCanonicalMapping
    }

    /// `a` comes before `b`; equal keys fall back to the text itself so the order is total and repeatable.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        let (left, right) = (sortKey(a), sortKey(b))
        return left != right ? left < right : a < b
    }
}

extension Sequence {
    /// The elements in the natural order of `name`, each key computed once; ties keep a repeatable order by the
    /// name itself, then by the elements' original order.
    public func naturallySorted(by name: (Element) -> String) -> [Element] {
        let keyed = enumerated().map { (key: NaturalOrder.sortKey(name($0.element)), name: name($0.element), index: $0.offset, element: $0.element) }
        return keyed.sorted { ($0.key, $0.name, $0.index) < ($1.key, $1.name, $1.index) }.map(\.element)
    }

    /// Sorted by a group first (e.g. a role's rank), then by the natural order of `name` within it.
    public func naturallySorted<Group: Comparable>(group: (Element) -> Group, by name: (Element) -> String) -> [Element] {
        let keyed = enumerated().map { (group: group($0.element), key: NaturalOrder.sortKey(name($0.element)), name: name($0.element), index: $0.offset, element: $0.element) }
        return keyed.sorted {
            if $0.group != $1.group { return $0.group < $1.group }
            return ($0.key, $0.name, $0.index) < ($1.key, $1.name, $1.index)
        }.map(\.element)
    }
}

extension Sequence where Element == String {
    public func naturallySorted() -> [String] { naturallySorted { $0 } }
}
