// Reading what the scheduler says: the job completion log (jobcomp/filetxt, one line per ended job — the record a
// cluster without slurmdbd keeps) and `squeue --json` (jobs still queued or running, with the scheduler's reason).
// Slurm's accounting, where slurmdbd keeps it, is read in SlurmAccounting.swift.
import Foundation

/// An ended job, from its line in the job completion log.
public struct SlurmJobRecord: Equatable, Sendable {
    public var jobID: Int
    public var name: String
    public var state: SlurmJobState
    public var start: Date?
    public var end: Date?
    /// What the job held while it ran (nil when it never ran: no node was allocated).
    public var allocated: SlurmResources?
    public var exitCode: Int?
    /// Its time limit in minutes (nil: none, or unreadable).
    public var timeLimitMinutes: Int?
    /// Whether every field's name appears once in its line. A job's owner can rename the job (and set other free
    /// text) while it runs; a name that imitates later fields — or a line break — makes the line ambiguous, and an
    /// ambiguous record is not believed.
    public var unambiguous = true
    /// Every instant the line's start and end times can mean. Slurm writes local times without their offset, so in the
    /// hour a change back from summer time repeats, one time names two instants; `start` and `end` are then those of
    /// the shortest run, until `placed` reads them against what the platform saw.
    public var startInstants: [Date] = []
    public var endInstants: [Date] = []
    /// The seconds it ran as the record states them (Slurm's accounting does; the completion log has only times).
    public var recordedElapsed: Int64? = nil
    public var submitted: Date? = nil

    /// This record with a repeated hour's times read against what the platform saw of the job: it started when
    /// squeue said (`startedAt`, exact when the job was seen running) — or, never seen running, after the last look
    /// that found it waiting (`lastSeenUnended`) —, and it ended after the last look that found it unended and before
    /// the look that found it ended (`foundEndedAt`), give or take a minute for the clocks. Of the readings left, the
    /// shortest run with its end not before its start stands.
    public func placed(startedAt: Date?, lastSeenUnended: Date?, foundEndedAt: Date?) -> SlurmJobRecord {
        guard startInstants.count > 1 || endInstants.count > 1 else { return self }
        let slack: TimeInterval = 60
        func narrowed(_ instants: [Date], _ keep: (Date) -> Bool) -> [Date] {
            let kept = instants.filter(keep)
            return kept.isEmpty ? instants : kept
        }
        var starts = startInstants
        if let startedAt {
            starts = starts.min { abs($0.timeIntervalSince(startedAt)) < abs($1.timeIntervalSince(startedAt)) }.map { [$0] } ?? []
        } else if let lastSeenUnended {
            starts = narrowed(starts) { $0 >= lastSeenUnended.addingTimeInterval(-slack) }
        }
        let ends = narrowed(endInstants) { end in
            (lastSeenUnended.map { end >= $0.addingTimeInterval(-slack) } ?? true) && (foundEndedAt.map { end <= $0.addingTimeInterval(slack) } ?? true)
        }
        var record = self
        let pairs = starts.flatMap { start in ends.filter { $0 >= start }.map { (start, $0) } }
        if let shortest = pairs.min(by: { $0.1.timeIntervalSince($0.0) < $1.1.timeIntervalSince($1.0) }) {
            (record.start, record.end) = shortest
        } else {
            (record.start, record.end) = (starts.first, ends.first)
        }
        return record
    }

    /// Seconds it ran: as recorded, or between start and end (0 when it never ran).
    public var elapsedSeconds: Int64 {
        guard allocated != nil else { return 0 }
        if let recordedElapsed { return max(0, recordedElapsed) }
        guard let start, let end else { return 0 }
        return max(0, Int64(end.timeIntervalSince(start).rounded()))
    }

    /// The seconds billed: elapsed, but never past the time limit. Slurm ends a job that overran only at its next
    /// check of limits (up to half a minute later) and after KillWait; that time is the scheduler's, not the job's,
    /// and the hold made before it was queued covered the limit.
    public var billedSeconds: Int64 {
        guard let limit = timeLimitMinutes else { return elapsedSeconds }
        return min(elapsedSeconds, Int64(limit) * 60)
    }

    /// The seconds billed against a limit the platform knows (the record's own limit can be lowered by the job's
    /// owner while it runs, so it is not trusted for billing): elapsed, never past `limitSeconds`.
    public func billedSeconds(limit limitSeconds: Int64) -> Int64 { min(elapsedSeconds, limitSeconds) }

    /// What it used: allocated resources × billed time.
    public var usage: SlurmUsage {
        guard let allocated else { return SlurmUsage(coreSeconds: 0, memoryMBSeconds: 0, gpuSeconds: 0) }
        return SlurmUsage(allocated, seconds: billedSeconds)
    }
}

public enum SlurmJobCompletionLog {
    /// The fields of a line, in the order Slurm writes them. A value runs up to the next field's name, so a work
    /// folder with a space in it is read whole. (A job's owner can rename it to imitate later fields: such a line is
    /// marked ambiguous, see `SlurmJobRecord.unambiguous`.)
    static let fields = ["JobId", "UserId", "GroupId", "Name", "JobState", "Partition", "TimeLimit", "StartTime", "EndTime",
                         "NodeList", "NodeCnt", "ProcCnt", "WorkDir", "ReservationName", "Tres", "Account", "QOS", "WcKey",
                         "Cluster", "SubmitTime", "EligibleTime", "DerivedExitCode", "ExitCode"]

    /// The line's fields by name; nil when it is not a job record.
    static func fields(of line: Substring) -> [String: String]? {
        guard line.hasPrefix("JobId=") else { return nil }
        var found: [(name: String, range: Range<Substring.Index>)] = []
        var from = line.startIndex
        for name in fields {
            let marker = (found.isEmpty ? "" : " ") + name + "="
            guard let range = line[from...].range(of: marker) else { continue }
            found.append((name, range))
            from = range.upperBound
        }
        var values: [String: String] = [:]
        for (index, field) in found.enumerated() {
            let end = index + 1 < found.count ? found[index + 1].range.lowerBound : line.endIndex
            values[field.name] = String(line[field.range.upperBound..<end]).trimmingCharacters(in: .whitespaces)
        }
        return values
    }

    /// The records in `text` (lines that are not records are skipped); times are read in `timeZone`, the cluster's
    /// (Slurm writes them in its local time, without a zone).
    public static func records(in text: String, timeZone: TimeZone) -> [SlurmJobRecord] {
        text.split(whereSeparator: \.isNewline).compactMap { record(from: $0, timeZone: timeZone) }
    }

    public static func record(from line: Substring, timeZone: TimeZone) -> SlurmJobRecord? {
        guard let values = fields(of: line), let id = values["JobId"].flatMap({ Int($0) }), let state = values["JobState"] else { return nil }
        let unambiguous = fields.allSatisfy { name in line.components(separatedBy: (name == "JobId" ? "" : " ") + name + "=").count == 2 }
        let nodes = values["NodeCnt"].flatMap { Int($0) } ?? 0
        let exit = values["ExitCode"]?.split(separator: ":").first.flatMap { Int($0) }
        let starts = values["StartTime"].map { instants($0, timeZone) } ?? [], ends = values["EndTime"].map { instants($0, timeZone) } ?? []
        return SlurmJobRecord(jobID: id, name: values["Name"] ?? "", state: SlurmJobState(state), start: starts.first, end: ends.first,
                              allocated: nodes > 0 ? values["Tres"].flatMap { SlurmResources(tres: $0) } : nil, exitCode: exit,
                              timeLimitMinutes: values["TimeLimit"].flatMap { Int($0) }, unambiguous: unambiguous,
                              startInstants: starts, endInstants: ends)
            .placed(startedAt: nil, lastSeenUnended: nil, foundEndedAt: nil)
    }

    /// Every instant `2026-10-25T02:30:00` can name in `timeZone`, earliest first: one, two in an hour the clocks
    /// repeat, and (for a time the clocks skipped) the one `Calendar` moves it to. Empty for `Unknown`, `None` or
    /// anything else.
    static func instants(_ text: String, _ timeZone: TimeZone) -> [Date] {
        guard let asUTC = time(text, TimeZone(identifier: "UTC")!) else { return [] }
        // Each offset the zone has within a day of it; an instant counts when the zone has that offset at it.
        let offsets = Set([-86_400.0, 0, 86_400].map { timeZone.secondsFromGMT(for: asUTC.addingTimeInterval($0)) })
        let found = offsets.map { asUTC.addingTimeInterval(-TimeInterval($0)) }.filter { timeZone.secondsFromGMT(for: $0) == Int(asUTC.timeIntervalSince($0)) }
        return found.isEmpty ? [time(text, timeZone)].compactMap { $0 } : found.sorted()
    }

    /// `2026-12-06T01:48:35` in `timeZone`; nil for `Unknown`, `None` or anything else.
    static func time(_ text: String, _ timeZone: TimeZone) -> Date? {
        let parts = text.split(whereSeparator: { $0 == "-" || $0 == "T" || $0 == ":" }).map { Int($0) }
        guard parts.count == 6, parts.allSatisfy({ $0 != nil }) else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day, components.hour, components.minute, components.second) =
            (parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar.date(from: components)
    }
}

/// A job `squeue --json` lists (queued, running, or ended a moment ago).
public struct SlurmQueuedJob: Equatable, Sendable {
    public var jobID: Int
    public var name: String
    public var state: SlurmJobState
    /// The scheduler's reason for where it is ("Priority", "Resources", "BeginTime"; nil for "None").
    public var reason: String?
    public var start: Date?
    public var allocated: SlurmResources?
    public var partition: String? = nil
    public var submitted: Date? = nil
    /// Whose job it is, by name (as the cluster knows its users; its ids need not be any other host's).
    public var userName: String? = nil
    /// How many times it was put back in the queue after it started (`restart_cnt`).
    public var restarts: Int = 0
}

public enum SlurmQueue {
    private struct Document: Decodable {
        struct Job: Decodable {
            var job_id: Int
            var name: String?
            var job_state: Flexible<String>
            var state_reason: String?
            var start_time: Flexible<Int64>?
            var submit_time: Flexible<Int64>?
            var tres_alloc_str: String?
            var user_name: String?
            var partition: String?
            var restart_cnt: Flexible<Int>?
        }
        var jobs: [Job]
    }

    /// Slurm's JSON as it comes: a job's name is whatever bytes the job gave it (`scontrol update JobName=…`); should a
    /// Slurm write them as they are (22.05 here writes "?"), one name that is not UTF-8 would make the whole answer undecodable — every
    /// job of the cluster unfollowed. Such bytes are read as U+FFFD first; the name then matches no job's.
    static func decodeLossy<T: Decodable>(_ type: T.Type, from json: Data) throws -> T {
        let text = String(decoding: json, as: UTF8.self)
        return try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// A value as Slurm 22.05 writes it, or as later versions do: a list (`["RUNNING"]`) or a number with flags
    /// (`{"set": true, "number": 1796521712}`).
    struct Flexible<Value: Decodable & Sendable>: Decodable {
        var value: Value?
        struct Numbered: Decodable { var set: Bool?; var number: Value? }
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let plain = try? container.decode(Value.self) { value = plain; return }
            if let list = try? container.decode([Value].self) { value = list.first; return }
            let numbered = try container.decode(Numbered.self)
            value = numbered.set == false ? nil : numbered.number
        }
    }

    /// Of `jobs`, those of the account `name`: by the name the cluster gives each job's user, since the cluster's uid
    /// for the account need not be this host's. A job listed without a name (a uid the cluster could not resolve) is
    /// no one's.
    public static func owned(_ jobs: [SlurmQueuedJob], by name: String) -> [SlurmQueuedJob] {
        jobs.filter { $0.userName == name }
    }

    /// The jobs in `squeue --json`'s answer; throws when it is not that document.
    public static func jobs(json: Data) throws -> [SlurmQueuedJob] {
        try decodeLossy(Document.self, from: json).jobs.map { job in
            let state = SlurmJobState(job.job_state.value ?? "")
            let reason = job.state_reason.flatMap { $0.isEmpty || $0 == "None" ? nil : $0 }
            let started = state == .pending ? nil : job.start_time?.value.flatMap { $0 > 0 ? Date(timeIntervalSince1970: TimeInterval($0)) : nil }
            let allocated = job.tres_alloc_str.flatMap { $0.isEmpty ? nil : SlurmResources(tres: $0) }
            return SlurmQueuedJob(jobID: job.job_id, name: job.name ?? "", state: state, reason: reason, start: started, allocated: allocated,
                                  partition: job.partition,
                                  submitted: job.submit_time?.value.flatMap { $0 > 0 ? Date(timeIntervalSince1970: TimeInterval($0)) : nil },
                                  userName: job.user_name.flatMap { $0.isEmpty ? nil : $0 }, restarts: job.restart_cnt?.value ?? 0)
        }
    }
}
