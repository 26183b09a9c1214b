// When students may start an environment's sessions: always, or weekly windows in UTC written one per line, e.g.
//   mon,wed 09:00-11:00
//   fri 14:00-17:30
// Staff may start sessions at any time (to prepare and try the lab).
import Foundation

public struct LabSchedule: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        /// 1 = Monday … 7 = Sunday.
        public var weekday: Int
        /// Minutes after midnight (UTC); `end` is after `start`, at most 24:00.
        public var start: Int
        public var end: Int
    }

    /// Empty: always open.
    public private(set) var windows: [Window]

    public static let always = LabSchedule(windows: [])
    public static let maxWindows = 50
    static let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    public var isAlways: Bool { windows.isEmpty }

    /// Reads the text form; every problem is one sentence naming its line.
    public static func parse(_ text: String) -> Result<LabSchedule, LabScheduleProblem> {
        var windows: [Window] = [], problems: [String] = []
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        for (index, line) in lines.enumerated() where !line.isEmpty {
            let parts = line.lowercased().split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                problems.append("schedule line \(index + 1) ('\(line)') is not 'days HH:MM-HH:MM', e.g. 'mon,wed 09:00-11:00'.")
                continue
            }
            let dayNames = parts[0].split(separator: ",").map(String.init)
            let dayNumbers = dayNames.compactMap { days.firstIndex(of: String($0.prefix(3))).map { $0 + 1 } }
            let times = parts[1].split(separator: "-").map(String.init)
            guard !dayNames.isEmpty, dayNumbers.count == dayNames.count, dayNames.allSatisfy({ $0.count >= 3 && days.contains(String($0.prefix(3))) }) else {
                problems.append("schedule line \(index + 1): days are mon, tue, wed, thu, fri, sat, sun, separated by commas.")
                continue
            }
            guard times.count == 2, let start = minutes(times[0]), let end = minutes(times[1]), end > start else {
                problems.append("schedule line \(index + 1): the time is HH:MM-HH:MM in UTC, the end after the start (24:00 ends the day).")
                continue
            }
            windows += dayNumbers.map { Window(weekday: $0, start: start, end: end) }
        }
        if windows.count > maxWindows { problems.append("the schedule has more than \(maxWindows) windows.") }
        return problems.isEmpty ? .success(LabSchedule(windows: windows)) : .failure(LabScheduleProblem(problems: problems))
    }

    /// HH:MM (00:00 to 24:00) as minutes after midnight.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
              (0...24).contains(hours), (0...59).contains(minutes), hours < 24 || minutes == 0 else { return nil }
        return hours * 60 + minutes
    }

    /// Whether `date` falls in a window (always, when there are none).
    public func isOpen(at date: Date) -> Bool {
        guard !isAlways else { return true }
        let (weekday, minute) = Self.weekdayAndMinute(date)
        return windows.contains { $0.weekday == weekday && $0.start <= minute && minute < $0.end }
    }

    /// Monday = 1, and minutes after midnight, in UTC.
    static func weekdayAndMinute(_ date: Date) -> (Int, Int) {
        let seconds = Int(floor(date.timeIntervalSince1970))
        let days = Int(floor(Double(seconds) / 86_400))
        // 1970-01-01 was a Thursday (4).
        let weekday = ((days % 7) + 7 + 3) % 7 + 1
        let minute = (seconds - days * 86_400) / 60
        return (weekday, minute)
    }

    /// The text form, one line per window (as `parse` reads it back).
    public var text: String {
        windows.map { window in
            func clock(_ minutes: Int) -> String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }
            return "\(Self.days[window.weekday - 1]) \(clock(window.start))-\(clock(window.end))"
        }.joined(separator: "\n")
    }
}

public struct LabScheduleProblem: Error, Sendable, Equatable {
    public var problems: [String]
}
