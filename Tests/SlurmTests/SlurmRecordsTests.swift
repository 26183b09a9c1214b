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
                                         allocated: SlurmResources(cpus: 1, memoryMB: 100), userID: 0, partition: "campus",
                                         submitted: Date(timeIntervalSince1970: 1_796_521_675))])
        #expect(throws: (any Error).self) { try SlurmQueue.jobs(json: Data(#"{"errors": ["no"]}"#.utf8)) }
        // Later Slurm versions write states as lists and times as numbers with flags.
        let later = try SlurmQueue.jobs(json: Data(#"""
            {"jobs": [{"job_id": 7, "name": "n", "job_state": ["RUNNING"], "start_time": {"set": true, "infinite": false, "number": 1796521677},
                       "submit_time": {"set": true, "number": 1796521600}, "user_id": 65534, "partition": "campus", "tres_alloc_str": "cpu=2,mem=1G"},
                      {"job_id": 8, "job_state": ["PENDING"], "start_time": {"set": false, "number": 0}, "state_reason": "Priority"}]}
            """#.utf8))
        #expect(later.map(\.state) == [.running, .pending] && later[0].start == Date(timeIntervalSince1970: 1_796_521_677))
        #expect(later[0].allocated == SlurmResources(cpus: 2, memoryMB: 1024) && later[0].userID == 65534 && later[0].partition == "campus")
        #expect(later[1].start == nil && later[1].reason == "Priority")
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
