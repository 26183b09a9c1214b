import Foundation
import Labs
import Testing

@Suite struct LabScheduleTests {
    /// 2026-12-07 was a Monday.
    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func emptyMeansAlways() throws {
        let schedule = try LabSchedule.parse(" \n").get()
        #expect(schedule.isAlways)
        #expect(schedule.isOpen(at: Self.utc("2026-12-06T03:00:00Z")))
    }

    @Test func windowsOpenOnTheirDaysAndHoursOnly() throws {
        let schedule = try LabSchedule.parse("mon,wed 09:00-11:00\nfri 14:00-24:00").get()
        #expect(schedule.windows.count == 3)
        #expect(schedule.isOpen(at: Self.utc("2026-12-07T09:00:00Z")))   // Monday, first minute
        #expect(schedule.isOpen(at: Self.utc("2026-12-07T10:59:59Z")))
        #expect(!schedule.isOpen(at: Self.utc("2026-12-07T11:00:00Z")))  // the end is not in the window
        #expect(!schedule.isOpen(at: Self.utc("2026-12-08T09:30:00Z")))  // Tuesday
        #expect(schedule.isOpen(at: Self.utc("2026-12-09T10:00:00Z")))   // Wednesday
        #expect(schedule.isOpen(at: Self.utc("2026-12-11T23:59:00Z")))   // Friday until midnight
        #expect(!schedule.isOpen(at: Self.utc("2026-12-12T00:00:00Z")))  // Saturday
        // A Monday before 1970 is still a Monday.
        #expect(LabSchedule.parse("mon 09:00-11:00").map { $0.isOpen(at: Self.utc("1969-12-29T09:30:00Z")) } == .success(true))
    }

    @Test func textRoundTrips() throws {
        let schedule = try LabSchedule.parse("Monday,fri 08:30-10:00").get()
        #expect(schedule.text == "mon 08:30-10:00\nfri 08:30-10:00")
        #expect(try LabSchedule.parse(schedule.text).get() == schedule)
    }

    @Test func badLinesAreNamed() {
        guard case .failure(let problem) = LabSchedule.parse("mon 9-11\nfunday 09:00-10:00\ntue 11:00-10:00\nwed 10:00-24:30\nthu") else {
            Issue.record("accepted"); return
        }
        #expect(problem.problems.count == 5)
        #expect(problem.problems[0].contains("line 1"))
        #expect(problem.problems[1].contains("days are mon"))
        #expect(problem.problems[4].contains("line 5"))
    }
}

@Suite struct LabLimitsTests {
    @Test func defaultsAreInRange() {
        for kind in LabKind.allCases { #expect(LabLimits.defaults(for: kind).problems.isEmpty) }
    }

    @Test func everyLimitOutOfRangeIsNamed() {
        let limits = LabLimits(cpuMillis: 50, memoryMB: 64, processes: 5000, homeQuotaMB: 0, idleMinutes: 1, longestMinutes: 1000)
        #expect(limits.problems.count == 6)
        #expect(limits.problems.contains("cpuMillis must be 100 to 8000."))
        var longIdle = LabLimits.defaults(for: .terminal)
        longIdle.idleMinutes = 200
        longIdle.longestMinutes = 60
        #expect(longIdle.problems == ["idleMinutes is longer than longestMinutes."])
    }
}

@Suite struct LabReadyPoolTests {
    @Test func startsTowardTheTargetNoMoreThanTwoAtOnceOnTheHost() {
        #expect(LabReadyPool.toStart(target: 5, ready: 0, starting: 0, startingOnHost: 0) == 2)
        #expect(LabReadyPool.toStart(target: 5, ready: 0, starting: 1, startingOnHost: 1) == 1)
        #expect(LabReadyPool.toStart(target: 5, ready: 4, starting: 0, startingOnHost: 0) == 1)
        #expect(LabReadyPool.toStart(target: 5, ready: 5, starting: 0, startingOnHost: 0) == 0)
        // Another environment's starts on the same host count against the two.
        #expect(LabReadyPool.toStart(target: 5, ready: 0, starting: 0, startingOnHost: 2) == 0)
        // Fewer wanted than are there (the target was lowered): none started.
        #expect(LabReadyPool.toStart(target: 1, ready: 3, starting: 0, startingOnHost: 0) == 0)
        #expect(LabReadyPool.toStart(target: 0, ready: 0, starting: 0, startingOnHost: 0) == 0)
    }

    @Test func keptReadyWhileOpenAndFromAQuarterHourBeforeAWindowOpens() throws {
        let schedule = try LabSchedule.parse("mon 09:00-11:00").get()
        #expect(LabReadyPool.wanted(schedule, at: LabScheduleTests.utc("2026-12-07T10:00:00Z")))
        #expect(LabReadyPool.wanted(schedule, at: LabScheduleTests.utc("2026-12-07T08:46:00Z")))
        #expect(!LabReadyPool.wanted(schedule, at: LabScheduleTests.utc("2026-12-07T08:40:00Z")))
        #expect(!LabReadyPool.wanted(schedule, at: LabScheduleTests.utc("2026-12-07T11:00:00Z")))
        #expect(LabReadyPool.wanted(.always, at: LabScheduleTests.utc("2026-12-06T03:00:00Z")))
    }
}
