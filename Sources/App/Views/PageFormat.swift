// How pages write times: one format everywhere (UTC, unambiguous for a class spread over time zones), e.g.
// "5 Sep 2026, 07:03 UTC". Written from the date's UTC parts rather than by a DateFormatter made per call (which
// cost a twentieth of a large overview page).
import Foundation

enum PageFormat {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func when(_ date: Date?) -> String? {
        guard let date else { return nil }
        let parts = Calendar.utc.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ value: Int?) -> String { let text = String(value ?? 0); return text.count < 2 ? "0" + text : text }
        return "\(parts.day ?? 1) \(months[(parts.month ?? 1) - 1]) \(parts.year ?? 1970), \(two(parts.hour)):\(two(parts.minute)) UTC"
    }
}
