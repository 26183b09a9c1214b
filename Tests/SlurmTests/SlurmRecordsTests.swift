// The Slurm readers against what a real Slurm 22.05 wrote (Samples/, captured from a single-node cluster started by
// scripts/slurm-cluster: a completed 2-CPU job, a failed one, one cancelled while queued, one held for later).
import Foundation
import Testing
@testable import Slurm

struct SlurmRecordsTests {
    static func sample(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "Samples/" + name, withExtension: nil))
        return try Data(contentsOf: url)
    }

    static let utc = TimeZone(identifier: "UTC")!

    @Test func theJobCompletionLogGivesEachEndedJobItsStateTimesAndAllocation() throws {
        let text = String(decoding: try Self.sample("jobcomp-22.05.log"), as: UTF8.self)
        let records = Dictionary(uniqueKeysWithValues: SlurmJobCompletionLog.records(in: text, timeZone: Self.utc).map { ($0.jobID, $0) })
        #expect(records.keys.sorted() == [1, 2, 3, 4])
        let done = try #require(records[1])
        #expect(done.name == "cc-ok" && done.state == .completed && done.exitCode == 0)
        #expect(done.allocated == SlurmResources(cpus: 2, memoryMB: 200))
        #expect(done.start == ISO8601DateFormatter().date(from: "2026-12-06T01:48:35Z") && done.elapsedSeconds == 1)
        #expect(done.usage == SlurmUsage(coreSeconds: 2, memoryMBSeconds: 200, gpuSeconds: 0))
        let failed = try #require(records[2])
        #expect(failed.state == .failed && failed.exitCode == 3 && failed.allocated == SlurmResources(cpus: 1, memoryMB: 100))
        // Cancelled while queued: no node was ever allocated, so nothing was used (its Tres line is the request).
        for id in [3, 4] {
            let cancelled = try #require(records[id])
            #expect(cancelled.state == .cancelled && cancelled.allocated == nil && cancelled.usage == SlurmUsage(coreSeconds: 0, memoryMBSeconds: 0, gpuSeconds: 0))
        }
        #expect(records.values.allSatisfy { $0.state.hasEnded })
    }

    @Test func timesAreReadInTheClustersZone() throws {
        let line = "JobId=9 UserId=cc(1000) GroupId=cc(1000) Name=cc-x JobState=TIMEOUT Partition=campus TimeLimit=1 StartTime=2026-07-01T10:00:00 EndTime=2026-07-01T10:01:02 NodeList=n1 NodeCnt=1 ProcCnt=4 WorkDir=/shared/staging/a b Tres=cpu=4,mem=2G,node=1,billing=4,gres/gpu=1 Account=proj QOS=normal WcKey= Cluster=c SubmitTime=2026-07-01T09:59:00 EligibleTime=2026-07-01T09:59:00 DerivedExitCode=0:0 ExitCode=0:15"
        let zurich = TimeZone(identifier: "Europe/Zurich")!
        let record = try #require(SlurmJobCompletionLog.record(from: Substring(line), timeZone: zurich))
        #expect(record.start == ISO8601DateFormatter().date(from: "2026-07-01T08:00:00Z"), "summer time: two hours ahead of UTC")
        #expect(record.state == .timeout && record.elapsedSeconds == 62 && record.timeLimitMinutes == 1)
        #expect(record.allocated == SlurmResources(cpus: 4, memoryMB: 2048, gpus: 1))
        #expect(record.usage == SlurmUsage(coreSeconds: 240, memoryMBSeconds: 2048 * 60, gpuSeconds: 60), "billed up to its limit")
        #expect(SlurmJobCompletionLog.fields(of: Substring(line))?["WorkDir"] == "/shared/staging/a b", "a value with a space is read whole")
    }

    @Test func linesThatAreNotRecordsAndUnreadableFiguresAreSkipped() {
        let text = "\nnot a record\nJobId=x JobState=COMPLETED\nJobId=5 JobState=COMPLETED NodeCnt=1 Tres=cpu=two StartTime=Unknown EndTime=None\n"
        let records = SlurmJobCompletionLog.records(in: text, timeZone: Self.utc)
        #expect(records.map(\.jobID) == [5])
        #expect(records.first?.allocated == nil && records.first?.start == nil && records.first?.elapsedSeconds == 0)
    }

    @Test func squeueJSONGivesStatesReasonsAndAllocations() throws {
        let queued = try SlurmQueue.jobs(json: try Self.sample("squeue-22.05.json"))
        #expect(queued.map(\.jobID) == [1, 2, 3, 4])
        #expect(queued.allSatisfy { $0.state == .pending && $0.start == nil && $0.allocated == nil })
        #expect(queued.map(\.reason) == [nil, "Priority", "Priority", "BeginTime"])
        #expect(queued.map(\.name) == ["cc-ok", "cc-fail", "cc-cancel", "cc-later"])
        let ended = try SlurmQueue.jobs(json: try Self.sample("squeue-22.05-completed.json"))
        #expect(ended == [SlurmQueuedJob(jobID: 1, name: "wrap", state: .completed, reason: nil, start: Date(timeIntervalSince1970: 1_796_521_677),
                                         allocated: SlurmResources(cpus: 1, memoryMB: 100), partition: "campus",
                                         submitted: Date(timeIntervalSince1970: 1_796_521_675), userName: "root")])
        #expect(throws: (any Error).self) { try SlurmQueue.jobs(json: Data(#"{"errors": ["no"]}"#.utf8)) }
        // Later Slurm versions write states as lists and times as numbers with flags.
        let later = try SlurmQueue.jobs(json: Data(#"""
            {"jobs": [{"job_id": 7, "name": "n", "job_state": ["RUNNING"], "start_time": {"set": true, "infinite": false, "number": 1796521677},
                       "submit_time": {"set": true, "number": 1796521600}, "user_id": 65534, "user_name": "nobody", "partition": "campus",
                       "tres_alloc_str": "cpu=2,mem=1G", "restart_cnt": 1},
                      {"job_id": 8, "job_state": ["PENDING"], "start_time": {"set": false, "number": 0}, "state_reason": "Priority"}]}
            """#.utf8))
        #expect(later.map(\.state) == [.running, .pending] && later[0].start == Date(timeIntervalSince1970: 1_796_521_677))
        #expect(later[0].allocated == SlurmResources(cpus: 2, memoryMB: 1024) && later[0].partition == "campus")
        #expect(later[0].userName == "nobody" && later[1].userName == nil && later[0].restarts == 1 && later[1].restarts == 0)
        #expect(queued.allSatisfy { $0.restarts == 0 })
        #expect(later[1].start == nil && later[1].reason == "Priority")
    }

    /// Through slurmrestd the account's jobs are picked from everyone's by the user's name on the cluster: the
    /// cluster's uid for the service account (5001 here) need not be this host's (65534).
    @Test func theAccountsJobsArePickedByNameNotByThisHostsUID() {
        func job(_ id: Int, name: String?) -> SlurmQueuedJob {
            SlurmQueuedJob(jobID: id, name: "cc-\(id)", state: .running, reason: nil, start: nil, allocated: nil, userName: name)
        }
        // (squeue's user_id, the cluster's uid, is not read at all.)
        let everyone = [job(1, name: "campuscloud-jobs"), job(2, name: "someone-else"), job(3, name: nil), job(4, name: nil)]
        #expect(SlurmQueue.owned(everyone, by: "campuscloud-jobs").map(\.jobID) == [1])
        #expect(SlurmQueue.owned(everyone, by: "someone-else").map(\.jobID) == [2])
    }

    /// Zurich's clocks went from 03:00 back to 02:00 on 2026-10-25 (01:00 UTC), so 02:00–02:59 that night names two
    /// instants each. The record's times are read so that the end is not before the start, and then against what the
    /// platform saw; a time the clocks skipped (02:30 on 2026-03-29) is still read.
    @Test func timesInTheHourTheClocksRepeatAreReadAgainstWhatWasSeen() throws {
        let zurich = try #require(TimeZone(identifier: "Europe/Zurich"))
        func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text + "Z")! }
        func line(_ start: String, _ end: String) -> Substring {
            "JobId=9 UserId=nobody(65534) GroupId=nogroup(65534) Name=cc-9 JobState=COMPLETED Partition=campus TimeLimit=180 StartTime=\(start) "
                + "EndTime=\(end) NodeList=n1 NodeCnt=1 ProcCnt=1 WorkDir=/w ReservationName= Tres=cpu=1,mem=100M,node=1 Account= QOS=normal "
                + "WcKey= Cluster=c SubmitTime=\(start) EligibleTime=\(start) DerivedExitCode=0:0 ExitCode=0:0"
        }
        #expect(SlurmJobCompletionLog.instants("2026-10-25T02:10:00", zurich) == [utc("2026-10-25T00:10:00"), utc("2026-10-25T01:10:00")])
        #expect(SlurmJobCompletionLog.instants("2026-10-25T03:10:00", zurich) == [utc("2026-10-25T02:10:00")])
        #expect(SlurmJobCompletionLog.instants("2026-03-29T02:30:00", zurich).count == 1)
        #expect(SlurmJobCompletionLog.instants("Unknown", zurich).isEmpty)

        // 02:50 then 02:10: it started in the first 02:50 and ended in the second 02:10, 20 minutes.
        let across = try #require(SlurmJobCompletionLog.record(from: line("2026-10-25T02:50:00", "2026-10-25T02:10:00"), timeZone: zurich))
        #expect(across.elapsedSeconds == 20 * 60)
        // 02:10 then 02:50: 40 minutes, or 100 if it ended in the second 02:50. Alone the record gives the shorter…
        let twice = try #require(SlurmJobCompletionLog.record(from: line("2026-10-25T02:10:00", "2026-10-25T02:50:00"), timeZone: zurich))
        #expect(twice.elapsedSeconds == 40 * 60)
        // …and what the platform saw settles it: still running at 01:49 UTC, ended by 01:51 UTC.
        let seen = twice.placed(startedAt: utc("2026-10-25T00:10:00"), lastSeenUnended: utc("2026-10-25T01:49:00"), foundEndedAt: utc("2026-10-25T01:51:00"))
        #expect(seen.elapsedSeconds == 100 * 60)
        // Started in the second 02:10 (squeue said so): 40 minutes.
        let late = twice.placed(startedAt: utc("2026-10-25T01:10:00"), lastSeenUnended: utc("2026-10-25T01:49:00"), foundEndedAt: utc("2026-10-25T01:51:00"))
        #expect(late.elapsedSeconds == 40 * 60 && late.start == utc("2026-10-25T01:10:00"))
        // Only its start in the repeated hour (02:10, then 03:30 after it): the shorter reading, 80 minutes, unless
        // squeue said it started in the first 02:10 (140), or a look at 01:05 UTC still found it waiting (80).
        let startTwice = try #require(SlurmJobCompletionLog.record(from: line("2026-10-25T02:10:00", "2026-10-25T03:30:00"), timeZone: zurich))
        #expect(startTwice.elapsedSeconds == 80 * 60)
        #expect(startTwice.placed(startedAt: utc("2026-10-25T00:10:00"), lastSeenUnended: nil, foundEndedAt: nil).elapsedSeconds == 140 * 60)
        #expect(startTwice.placed(startedAt: nil, lastSeenUnended: utc("2026-10-25T01:05:00"), foundEndedAt: nil).elapsedSeconds == 80 * 60)
        // A record outside any repeated hour is left as it was.
        let plain = try #require(SlurmJobCompletionLog.record(from: line("2026-10-25T04:00:00", "2026-10-25T04:30:00"), timeZone: zurich))
        #expect(plain.placed(startedAt: utc("2026-10-25T00:00:00"), lastSeenUnended: nil, foundEndedAt: nil) == plain && plain.elapsedSeconds == 30 * 60)
    }

    @Test func statesAsEachCommandSpellsThem() {
        #expect(SlurmJobState("CANCELLED by 0") == .cancelled)
        #expect(SlurmJobState("COMPLETED+") == .completed)
        #expect(SlurmJobState("OOM") == .outOfMemory && SlurmJobState("NODE_FAIL") == .nodeFail && SlurmJobState("PD") == .pending)
        #expect(SlurmJobState("RESV_DEL_HOLD") == .other("RESV_DEL_HOLD") && !SlurmJobState("RESV_DEL_HOLD").hasEnded)
        #expect(!SlurmJobState.running.hasEnded && SlurmJobState.preempted.hasEnded)
    }

    @Test func resourcesFromTRESAndTheMostAJobMayUse() {
        #expect(SlurmResources(tres: "cpu=2,mem=512K,node=1") == SlurmResources(cpus: 2, memoryMB: 1))
        #expect(SlurmResources(tres: "cpu=1,mem=1.5G") == SlurmResources(cpus: 1, memoryMB: 1536))
        #expect(SlurmResources(tres: "cpu=-1") == nil && SlurmResources(tres: "mem=lots") == nil && SlurmResources(tres: "cpu") == nil)
        #expect(SlurmResources(tres: "cpu=8,mem=99999999T") == nil, "too large to bill")
        let asked = SlurmResources(cpus: 4, memoryMB: 8192, gpus: 1)
        #expect(SlurmResources(tres: asked.tres) == asked)
        #expect(SlurmUsage.worstCase(asked, timeLimitMinutes: 30) == SlurmUsage(coreSeconds: 7200, memoryMBSeconds: 8192 * 1800, gpuSeconds: 1800))
    }

    /// The record's own time limit is the job owner's to lower while it runs; billing uses the platform's.
    @Test func billedSecondsNeverPassTheLimitThePlatformGives() throws {
        let line = "JobId=9 UserId=nobody(65534) GroupId=nogroup(65534) Name=x JobState=TIMEOUT Partition=campus TimeLimit=1 "
            + "StartTime=2026-12-06T01:00:00 EndTime=2026-12-06T01:05:00 NodeList=n NodeCnt=1 ProcCnt=1 WorkDir=/w ReservationName= "
            + "Tres=cpu=1,mem=100M,node=1 Account= QOS= WcKey= Cluster=c SubmitTime=2026-12-06T01:00:00 EligibleTime=2026-12-06T01:00:00 "
            + "DerivedExitCode=0:0 ExitCode=0:1"
        let record = try #require(SlurmJobCompletionLog.record(from: Substring(line), timeZone: TimeZone(identifier: "UTC")!))
        #expect(record.billedSeconds == 60 && record.billedSeconds(limit: 600) == 300 && record.billedSeconds(limit: 120) == 120)
        #expect(record.unambiguous)
        let renamed = line.replacingOccurrences(of: "Name=x ", with: "Name=x JobState=CANCELLED NodeCnt=0 ")
        #expect(SlurmJobCompletionLog.record(from: Substring(renamed), timeZone: .current)?.unambiguous == false)
    }
}

/// Slurm's accounting as sacct and slurmrestd's slurmdb API give it (their answers on Slurm 22.05).
@Suite struct SlurmAccountingTests {
    @Test func sacctLinesAreSplitByTheCallsOwnDelimiterSoANameCannotForgeARecord() throws {
        let d = "~ccA1B2C3D4E5F60718~"
        let forged = "99|COMPLETED|1796551700|1796551700|1796551700|0|cpu=1|0:0|5|x"
        let text = [
            ["2", "FAILED", "1796551709", "1796551710", "1796551712", "2", "billing=1,cpu=1,mem=100M,node=1", "3:0", "5", "cc-fail"],
            ["3", "CANCELLED by 65534", "1796551711", "None", "1796551713", "0", "", "0:0", "5", "cc-later"],
            ["4", "COMPLETED", "1796551711", "1796551713", "1796551714", "1", "cpu=2,mem=1G,gres/gpu=1", "0:0", "UNLIMITED", "a"],
        ].map { $0.joined(separator: d) }.joined(separator: "\n")
            // A job named "a\n<forged line>" and a run without its submission time.
            + "\n" + forged + "\n" + ["5", "COMPLETED", "Unknown", "1796551713", "1796551714", "1", "cpu=1", "0:0", "5", "n"].joined(separator: d) + "\n"
        let records = SlurmAccounting.records(sacct: text, delimiter: d)
        #expect(records.map(\.jobID) == [2, 3, 4])
        #expect(records[0].state == .failed && records[0].exitCode == 3 && records[0].elapsedSeconds == 2 && records[0].timeLimitMinutes == 5)
        #expect(records[0].allocated == SlurmResources(cpus: 1, memoryMB: 100) && records[0].submitted == Date(timeIntervalSince1970: 1_796_551_709))
        #expect(records[1].state == .cancelled && records[1].allocated == nil && records[1].start == nil && records[1].usage.coreSeconds == 0)
        #expect(records[2].allocated == SlurmResources(cpus: 2, memoryMB: 1024, gpus: 1) && records[2].timeLimitMinutes == nil && records[2].name == "a")
        // Every run of the jobs asked for, of the account alone; the delimiter is new each time.
        let arguments = SlurmAccounting.sacctArguments(jobs: [2, 3], user: "campuscloud-jobs", delimiter: d)
        #expect(arguments.contains("-D") && arguments.contains("--user=campuscloud-jobs") && arguments.contains("2,3") && arguments.contains("--delimiter=\(d)"))
        #expect(SlurmAccounting.freshDelimiter() != SlurmAccounting.freshDelimiter())
    }

    /// A job can give itself a name that is not UTF-8 (`scontrol update JobName=$'\\xff'`), and Slurm's JSON carries the
    /// bytes as they are: the answer is still read, every other job in it intact, and that name matches no job's.
    @Test func aNameThatIsNotUTF8DoesNotMakeTheAnswerUnreadable() throws {
        func answer(_ jobs: String) -> Data {
            var data = Data(#"{"jobs": ["#.utf8)
            data += Data(jobs.utf8)
            return data + Data("]}".utf8)
        }
        func withBadName(_ head: String, _ tail: String) -> Data {
            var data = answer(head).dropLast(2)  // the document without its closing "]}"
            data += Data([0xFF, 0xFE, 0x22]) + Data(tail.utf8)  // 0xFF 0xFE, then the name's closing quote
            return Data(data) + Data("]}".utf8)
        }
        let queue = withBadName(#"{"job_id": 1, "name": "cc-1", "job_state": "RUNNING", "user_name": "nobody"}, {"job_id": 2, "name": "cc-"#,
                                #", "job_state": "RUNNING", "user_name": "nobody"}"#)
        // As it comes, the answer is not one a JSON decoder reads.
        struct Names: Decodable { struct Job: Decodable { var name: String? }; var jobs: [Job] }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Names.self, from: queue) }
        let jobs = try SlurmQueue.jobs(json: queue)
        #expect(jobs.map(\.jobID) == [1, 2] && jobs[0].name == "cc-1" && jobs[1].name == "cc-\u{FFFD}\u{FFFD}")
        let slurmdb = withBadName(#"{"job_id": 3, "name": "cc-"#, #", "state": {"current": "COMPLETED"}, "time": {"submission": 1796551675, "start": 1796551676, "end": 1796551678}}"#)
        let records = try SlurmAccounting.records(json: slurmdb, cluster: nil, user: "nobody")
        #expect(records.map(\.jobID) == [3] && records[0].name == "cc-\u{FFFD}\u{FFFD}" && records[0].state == .completed)
    }

    @Test func slurmdbJSONIsKeptToTheClusterAndTheAccount() throws {
        func job(_ id: Int, cluster: String, user: String?, state: String, start: Int, submission: Int = 1_796_551_675) -> String {
            """
            {"job_id": \(id), "name": "cc-\(id)", "cluster": "\(cluster)", "user": \(user.map { "\"\($0)\"" } ?? "null"),
             "state": {"current": "\(state)", "reason": "None"}, "exit_code": {"status": "SUCCESS", "return_code": 0},
             "time": {"elapsed": 2, "start": \(start), "end": \(start + 2), "submission": \(submission), "limit": 5},
             "tres": {"allocated": [{"type": "cpu", "name": null, "id": 1, "count": 2}, {"type": "mem", "name": null, "id": 2, "count": 100},
                                    {"type": "gres", "name": "gpu", "id": 1001, "count": 1}, {"type": "energy", "name": null, "id": 3, "count": null}]}}
            """
        }
        let answer = Data("""
            {"meta": {}, "errors": [], "jobs": [\(job(7, cluster: "hpc", user: nil, state: "COMPLETED", start: 1_796_551_676)),
              \(job(7, cluster: "other-hpc", user: "campuscloud-jobs", state: "COMPLETED", start: 1_796_551_600)),
              \(job(7, cluster: "hpc", user: "someone", state: "FAILED", start: 1_796_551_500)),
              \(job(7, cluster: "hpc", user: "campuscloud-jobs", state: "FAILED", start: 1_796_551_680, submission: 0))]}
            """.utf8)
        let records = try SlurmAccounting.records(json: answer, cluster: "hpc", user: "campuscloud-jobs")
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.state == .completed && record.exitCode == 0 && record.elapsedSeconds == 2 && record.timeLimitMinutes == 5)
        #expect(record.allocated == SlurmResources(cpus: 2, memoryMB: 100, gpus: 1) && record.start == Date(timeIntervalSince1970: 1_796_551_676))
        // Another cluster's job of that id counts when the cluster's name is not known here.
        #expect(try SlurmAccounting.records(json: answer, cluster: nil, user: "campuscloud-jobs").count == 2)
        // Slurm 22.05 writes every exit code as 0 there: a failed job's is not taken.
        let failed = try SlurmAccounting.records(json: answer, cluster: "hpc", user: "someone")
        #expect(failed.map(\.state) == [.completed, .failed] && failed.last?.exitCode == nil)
        #expect(SlurmJobState("REQUEUED").isRequeued && SlurmJobState("REQUEUE_HOLD").isRequeued && !SlurmJobState("RUNNING").isRequeued)
    }
}
