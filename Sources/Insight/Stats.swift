// Small summaries the insight pages show: medians, histograms, days in a range. Plain values, no database.
import Foundation

public enum Stats {
    /// The median (the mean of the two middle values for an even count), nil for no values.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Counts of `values` in `buckets` equal slices of 0...maximum (a value equal to the maximum falls in the last);
    /// values outside the range are clamped into the first or last slice.
    public static func histogram(_ values: [Double], maximum: Double, buckets: Int) -> [Int] {
        guard buckets > 0 else { return [] }
        var counts = Array(repeating: 0, count: buckets)
        guard maximum > 0 else {
            if !values.isEmpty { counts[0] = values.count }
            return counts
        }
        for value in values {
            let index = Int((value / maximum * Double(buckets)).rounded(.down))
            counts[min(max(index, 0), buckets - 1)] += 1
        }
        return counts
    }

    /// The UTC days from `start` to `end` inclusive as "yyyy-MM-dd", oldest first.
    public static func days(from start: Date, to end: Date) -> [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var day = calendar.startOfDay(for: start), out: [String] = []
        let last = calendar.startOfDay(for: end)
        while day <= last && out.count < 3660 {
            out.append(dayString(day))
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
        return out
    }

    /// The seconds a lab session counts from `from` to `now`: to its end, or, while it runs, to when it was last seen.
    public static func sessionSeconds(started: Date, seen: Date, stopped: Date?, from: Date = .distantPast, now: Date) -> Double {
        let end = min(stopped ?? max(seen, started), now)
        return max(0, end.timeIntervalSince(max(started, from)))
    }

    /// The day number (days since 1970-01-01, UTC) of the Monday starting the ISO week of day number `day`.
    public static func weekStart(_ day: Int) -> Int { day - ((day + 3) % 7 + 7) % 7 }

    public static func dayString(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }
}

/// How long until (or since) a moment, in the words a deadline list uses: "2 days 4 h", "3 h 20 min", "5 min".
public enum TimeLeft {
    public static func describe(seconds: Double) -> String {
        let total = Int(abs(seconds) / 60), days = total / 1440, hours = (total % 1440) / 60, minutes = total % 60
        let text: String
        if days > 0 { text = "\(days) day\(days == 1 ? "" : "s")" + (hours > 0 ? " \(hours) h" : "") }
        else if hours > 0 { text = "\(hours) h" + (minutes > 0 ? " \(minutes) min" : "") }
        else { text = "\(max(minutes, 1)) min" }
        return seconds < 0 ? "overdue by \(text)" : "\(text) left"
    }
}
