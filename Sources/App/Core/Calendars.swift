// The calendar pages and reports count days in.
import Foundation

extension Calendar {
    /// The Gregorian calendar in UTC, as pages write times.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
