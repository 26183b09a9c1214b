// Code similarity checks of an assignment's hand-ins, for its graders. A grader starts a check; it runs on the
// durable queue (`SimilarityCheckHandler`) over each student's latest hand-in — the highest attempt that is not a
// staff test run, graded or not — with the assignment's starter code and fragments most hand-ins share left out
// (`Similarity.SimilarityCheck`), and, when asked, hand-ins of earlier offerings of the assignment as one-way
// sources. The check keeps its counts, histogram and clusters, the 500 most similar pairs, and what it left out, so
// one pair is laid out side by side later from those two hand-ins alone. It measures likeness, not misconduct.
//
// Earlier offerings are the same programme's courses with the same code that started earlier and that the person
// starting the check grades. Whoever reads a check later sees an earlier offering's student and code only if they
// grade that course too; otherwise the hand-in is "a student of CS101 (Fall 2025)", without its code.
import Fluent
import Foundation
import Grading
import Similarity
import SQLKit
import Vapor

struct SimilarityCheckInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case earlierAssignmentIDs }
    typealias Fields = CodingKeys
    /// Assignments of earlier offerings whose hand-ins are compared with this one's (`listSimilaritySources`).
    var earlierAssignmentIDs: [UUID]?
}

/// One hand-in as a check shows it.
struct SimilarityHandIn: Content, Equatable {
    /// nil (as are `userID` and `attempt`) for an earlier offering's hand-in the reader does not grade: nothing that
    /// would tell one of its students from another across checks.
    var submissionID: UUID?
    var userID: UUID?
    var name: String
    var course: String
    var attempt: Int?
    var earlier: Bool
}

struct SimilarityCheckDTO: Content {
    var id: UUID
    var assignmentID: UUID
    var status: String
    var requestedBy: String
    var earlierAssignmentIDs: [UUID]
    var handIns: Int
    var earlierHandIns: Int
    var truncated: Int
    var starterFiles: Int
    var starterFingerprints: Int
    var commonFingerprints: Int
    var pairsFound: Int
    var pairsKept: Int
    /// Pairs per tenth of similarity (0–10 %, …, 90–100 %), pairs sharing nothing in the first.
    var histogram: [Int]
    /// Students joined by pairs of at least `clusterThreshold`, largest group first.
    var clusters: [[SimilarityHandIn]]
    var clusterThreshold: Double
    var problem: String?
    var createdAt: Date
    var startedAt: Date?
    var finishedAt: Date?
}

struct SimilarityPairDTO: Content {
    struct Span: Content { var file: String; var firstLine: Int; var lastLine: Int }
    /// A passage both hand-ins share; `b` is nil when b's code is not the reader's to see.
    struct Passage: Content { var tokens: Int; var a: Span; var b: Span? }
    var id: UUID
    var checkID: UUID
    var rank: Int
    var a: SimilarityHandIn
    var b: SimilarityHandIn
    var similarity: Double
    var shareOfA: Double
    var shareOfB: Double
    var sharedFingerprints: Int
    var longestRun: Int?
    /// Only when one pair is asked for: its shared passages, longest first.
    var passages: [Passage]?
}

/// An earlier offering's assignment a check may use as a source.
struct SimilaritySourceDTO: Content {
    var assignmentID: UUID
    var title: String
    var courseID: UUID
    var course: String
    var startsOn: Date
    /// Its title is this assignment's (ignoring case): the likely same task.
    var sameTitle: Bool
}

struct StarterCodeDTO: Content {
    var assignmentID: UUID
    var files: [String]
    var uploadedAt: Date?
    var uploadedBy: String?
}

enum SimilarityChecks {
    static let kind = "similarity-check"
    /// Pairs kept per check, the most similar first.
    static let keptPairs = 500
    static let clusterThreshold = 0.6
    static let maxEarlierAssignments = 5
    /// Hand-ins one check reads at most (this offering's and earlier ones together): the pairs it holds while
    /// ranking grow with the square of this.
    static let maxHandIns = 1_500
    /// What one hand-in contributes at most: its compared files in path order up to this many bytes (the check reads
    /// 20,000 tokens of each, some 100 KB of code).
    static let bytesPerHandIn = 256 << 10
    static let starterLimits = ArchiveLimits(maxArchiveBytes: 10 << 20, maxFiles: 500, maxTotalBytes: 5 << 20, maxFileBytes: UInt64(HandInFiles.largestFile))
    static let maxStarterBody: ByteCount = "11mb"

    struct Payload: Codable { var check: UUID }

    // MARK: Starting

    /// Queues a check of the assignment: 409 while another of its checks waits or runs, 422 for an earlier
    /// assignment that is not one of `sources`.
    static func start(_ found: AssignmentInContext, _ input: SimilarityCheckInput, app: Application, db: any Database) async throws -> CodeSimilarityCheck {
        try Policy.require(found.user, can: .grade(found.access))
        let asked = Array(Set(input.earlierAssignmentIDs ?? []))
        if asked.count > maxEarlierAssignments {
            throw InputRejection("Choose at most \(maxEarlierAssignments) earlier assignments.")
        }
        let allowed = Set(try await sources(found, on: db).map(\.assignmentID))
        let unknown = asked.filter { !allowed.contains($0) }
        if !unknown.isEmpty {
            throw InputRejection(unknown.map { "\($0.uuidString.lowercased()) is not an earlier offering's assignment you grade (listSimilaritySources lists them)." })
        }
        let check = CodeSimilarityCheck()
        check.id = UUID()
        check.$assignment.id = try found.assignment.requireID()
        check.$requestedBy.id = try found.user.requireID()
        check.status = .queued
        check.earlierAssignments = asked.map(\.uuidString).sorted().joined(separator: "\n")
        (check.handIns, check.earlierHandIns, check.truncated, check.starterFiles) = (0, 0, 0, 0)
        (check.starterFingerprints, check.commonFingerprints, check.pairsFound) = (0, 0, 0)
        (check.histogram, check.clusters, check.createdAt) = ("[]", "[]", app.clock.now())
        do {
            try await app.writeTransaction(on: db) { tx in
                try await check.create(on: tx)
                check.queueJobID = try await JobQueue.enqueue(kind, payload: JobQueue.encode(Payload(check: check.requireID())), maxAttempts: 2,
                                                              at: app.clock.now(), on: tx).id
                try await check.save(on: tx)
            }
        } catch where Writes.isUniqueViolation(error) {
            // similarity_checks_one_live: another check of this assignment is queued or running.
            throw InputRejection.conflict("A check of this assignment is already waiting or running; its results come first.")
        }
        app.jobBell.ring()
        return check
    }

    /// Earlier offerings' assignments the grader may use as sources: of the same programme's courses with the same
    /// code that started before this one and that they grade (the 10 latest such courses), likely matches first.
    static func sources(_ found: AssignmentInContext, on db: any Database) async throws -> [SimilaritySourceDTO] {
        let course = found.course
        // Not this course itself, whatever its start time reads back as (a stored time may compare below itself).
        let earlier = try await Course.query(on: db).filter(\.$programme.$id == course.$programme.id).filter(\.$code == course.code)
            .filter(\.$id != course.requireID()).filter(\.$startsOn < course.startsOn).sort(\.$startsOn, .descending).limit(50).all()
        let graded = Dictionary(uniqueKeysWithValues: try await self.graded(earlier, by: found.user, limit: 10, on: db).map { ($0.id!, $0) })
        guard !graded.isEmpty else { return [] }
        let title = found.assignment.title.lowercased()
        return try await Assignment.query(on: db).filter(\.$course.$id ~~ Array(graded.keys)).all().map { assignment in
            let other = graded[assignment.$course.id]!
            return SimilaritySourceDTO(assignmentID: try assignment.requireID(), title: assignment.title, courseID: try other.requireID(),
                                       course: "\(other.code) (\(other.term))", startsOn: other.startsOn, sameTitle: assignment.title.lowercased() == title)
        }.sorted { ($0.sameTitle ? 0 : 1, -$0.startsOn.timeIntervalSince1970, $0.title) < ($1.sameTitle ? 0 : 1, -$1.startsOn.timeIntervalSince1970, $1.title) }
    }

    /// Of these courses, those `user` grades (at most `limit`, in order): one access read each.
    static func graded(_ courses: [Course], by user: User, limit: Int = .max, on db: any Database) async throws -> [Course] {
        var graded: [Course] = []
        for course in courses where graded.count < limit {
            if Policy.allows(user, .grade(try await CourseAccess.load(user, course, on: db))) { graded.append(course) }
        }
        return graded
    }

    // MARK: Running (in a worker)

    static func run(_ queued: QueuedJob, worker: JobWorker) async throws {
        let app = worker.app
        let payload = try JobQueue.decode(Payload.self, queued.payload)
        guard let check = try await CodeSimilarityCheck.find(payload.check, on: app.db), !check.status.isFinished else {
            try await worker.complete(queued, result: "the check no longer waits") { _ in }
            return
        }
        check.status = .running
        check.startedAt = app.clock.now()
        try await check.save(on: app.db)
        let assignmentID = check.$assignment.id
        let handIns = try await latestHandIns(of: [assignmentID] + check.earlierAssignmentIDs, on: app.db)
        guard handIns.count <= maxHandIns else {
            try await finish(check, queued: queued, worker: worker, report: nil, kept: [], handIns: [:], starterFiles: 0,
                             problem: "There are \(handIns.count) hand-ins to compare; a check reads at most \(maxHandIns). Choose fewer earlier offerings.")
            return
        }
        let files = try await sources(of: handIns.map(\.submissionID), on: app.db)
        let starter = try await starterSources(of: assignmentID, on: app.db)
        let documents = handIns.compactMap { handIn -> SimilarityCheck.Document? in
            guard let read = files[handIn.submissionID], !read.isEmpty else { return nil }
            return SimilarityCheck.Document(id: handIn.submissionID.uuidString, files: read, earlier: handIn.assignmentID != assignmentID,
                                            author: handIn.userID.uuidString)
        }
        // CPU-bound: on a thread of its own, so the event loops and the cooperative pool keep serving.
        let report = try await onItsOwnThread { SimilarityCheck(options: .init(keptPairs: keptPairs)).run(documents, starter: starter) }
        try await finish(check, queued: queued, worker: worker, report: report, kept: report.pairs,
                         handIns: Dictionary(handIns.map { ($0.submissionID.uuidString, $0) }, uniquingKeysWith: { first, _ in first }),
                         starterFiles: starter.count, problem: nil)
    }

    /// The queue entry completed and the check's results recorded in one transaction.
    private static func finish(_ check: CodeSimilarityCheck, queued: QueuedJob, worker: JobWorker, report: SimilarityCheck.Report?,
                               kept: [SimilarityCheck.Pair], handIns: [String: HandIn], starterFiles: Int, problem: String?) async throws {
        let app = worker.app, checkID = try check.requireID(), now = app.clock.now()
        let encoder = JSONEncoder()
        let histogram = String(decoding: try encoder.encode(report?.histogram ?? []), as: UTF8.self)
        let clusters = String(decoding: try encoder.encode(report?.clusters(threshold: clusterThreshold) ?? []), as: UTF8.self)
        try await worker.complete(queued, result: report == nil ? "failed" : "done") { tx in
            guard let current = try await CodeSimilarityCheck.find(checkID, on: tx) else { return }
            current.status = report == nil ? .failed : .done
            current.finishedAt = now
            current.problem = problem
            if let report {
                current.handIns = report.documents.filter { !$0.earlier }.count
                current.earlierHandIns = report.documents.count - current.handIns
                current.truncated = report.documents.filter(\.truncated).count
                (current.starterFiles, current.starterFingerprints, current.commonFingerprints) = (starterFiles, report.starterFingerprints, report.commonFingerprints)
                (current.pairsFound, current.histogram, current.clusters) = (report.pairsFound, histogram, clusters)
                current.leftOut = Self.bytes(report.leftOut)
                let rows = kept.enumerated().compactMap { index, pair -> CodeSimilarityPair? in
                    guard let a = handIns[pair.a]?.submissionID, let b = handIns[pair.b]?.submissionID else { return nil }
                    let row = CodeSimilarityPair()
                    (row.$check.id, row.rank, row.aSubmissionID, row.bSubmissionID) = (checkID, index + 1, a, b)
                    (row.similarity, row.shareOfA, row.shareOfB) = (pair.similarity, pair.shareOfA, pair.shareOfB)
                    (row.sharedFingerprints, row.longestRun, row.bIsEarlier) = (pair.sharedFingerprints, pair.longestRun, pair.bIsEarlier)
                    return row
                }
                for chunk in stride(from: 0, to: rows.count, by: 100) { try await Array(rows[chunk..<min(chunk + 100, rows.count)]).create(on: tx) }
            }
            try await current.save(on: tx)
        }
    }

    /// The queue gave up (every attempt failed, or its workers died): the check fails with the reason.
    static func markFailed(_ checkID: UUID, reason: String, app: Application) async throws {
        try await CodeSimilarityCheck.query(on: app.db).filter(\.$id == checkID).filter(\.$status ~~ [.queued, .running])
            .set(\.$status, to: .failed).set(\.$finishedAt, to: app.clock.now()).set(\.$problem, to: "The check could not be run: \(reason)").update()
    }

    /// Checks whose queue entry failed for good without a worker to say so, marked failed (the periodic sweep).
    static func sweep(_ app: Application) async throws {
        let waiting = try await CodeSimilarityCheck.query(on: app.db).filter(\.$status ~~ [.queued, .running]).all()
        for (check, reason) in try await JobQueue(db: app.db).failedForGood(waiting, entry: \.queueJobID) {
            try await markFailed(check.requireID(), reason: reason, app: app)
        }
    }

    // MARK: Reading hand-ins

    struct HandIn: Sendable {
        var submissionID: UUID
        var userID: UUID
        var assignmentID: UUID
        var attempt: Int
    }

    /// Each student's latest hand-in of each assignment: the highest attempt that is not a staff test run.
    static func latestHandIns(of assignmentIDs: [UUID], on db: any Database) async throws -> [HandIn] {
        let rows = try await Submission.query(on: db).filter(\.$assignment.$id ~~ assignmentIDs).filter(\.$isTestRun == false)
            .field(\.$id).field(\.$assignment.$id).field(\.$user.$id).field(\.$attempt).all()
        var latest: [String: HandIn] = [:]
        for row in rows {
            let handIn = HandIn(submissionID: try row.requireID(), userID: row.$user.id, assignmentID: row.$assignment.id, attempt: row.attempt)
            let key = "\(handIn.assignmentID)/\(handIn.userID)"
            if latest[key].map({ $0.attempt < handIn.attempt }) ?? true { latest[key] = handIn }
        }
        return latest.values.sorted { ($0.assignmentID.uuidString, $0.submissionID.uuidString) < ($1.assignmentID.uuidString, $1.submissionID.uuidString) }
    }

    /// The compared files of these submissions (`HandInFiles`; sizes read first, contents only of those), each
    /// hand-in's in path order up to `bytesPerHandIn` (so `maxHandIns` of them hold at most some 400 MB).
    static func sources(of submissionIDs: [UUID], on db: any Database) async throws -> [UUID: [SourceFile]] {
        let sql = try db.sqlDatabase()
        var chosen: [UUID] = []
        for chunk in stride(from: 0, to: submissionIDs.count, by: 500) {
            let ids = SQLList(submissionIDs[chunk..<min(chunk + 500, submissionIDs.count)].map { SQLBind($0) })
            let rows = try await sql.raw("""
                SELECT id, submission_id, path, length(contents) AS size FROM submission_files WHERE submission_id IN (\(ids)) ORDER BY submission_id, path
                """).all()
            var used: [UUID: Int] = [:]
            for row in rows {
                let (id, owner) = (try row.decode(column: "id", as: UUID.self), try row.decode(column: "submission_id", as: UUID.self))
                let (path, size) = (try row.decode(column: "path", as: String.self), try row.decode(column: "size", as: Int.self))
                guard HandInFiles.compares(path: path, size: size), used[owner, default: 0] + size <= bytesPerHandIn else { continue }
                used[owner, default: 0] += size
                chosen.append(id)
            }
        }
        var files: [UUID: [SourceFile]] = [:]
        for chunk in stride(from: 0, to: chosen.count, by: 200) {
            for file in try await SubmissionFile.query(on: db).filter(\.$id ~~ Array(chosen[chunk..<min(chunk + 200, chosen.count)])).all() {
                files[file.$submission.id, default: []].append(SourceFile(name: file.path, bytes: [UInt8](file.contents)))
            }
        }
        return files
    }

    /// The assignment's starter code as the check reads it (its compared files).
    static func starterSources(of assignmentID: UUID, on db: any Database) async throws -> [SourceFile] {
        guard let starter = try await AssignmentStarter.query(on: db).filter(\.$assignment.$id == assignmentID).first() else { return [] }
        return try SafeArchive.read(starter.zip, limits: starterLimits).filter { HandInFiles.compares(path: $0.key, size: $0.value.count) }
            .map { SourceFile(name: $0.key, bytes: [UInt8]($0.value)) }
    }

    static func bytes(_ hashes: Set<UInt64>) -> Data {
        var data = Data(capacity: hashes.count * 8)
        for hash in hashes.sorted() { withUnsafeBytes(of: hash.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func hashes(_ data: Data?) -> Set<UInt64> {
        guard let data else { return [] }
        var set = Set<UInt64>(minimumCapacity: data.count / 8)
        let bytes = [UInt8](data)
        for start in stride(from: 0, to: bytes.count - 7, by: 8) {
            var value: UInt64 = 0
            for offset in 0..<8 { value |= UInt64(bytes[start + offset]) << (8 * offset) }
            set.insert(value)
        }
        return set
    }

    // MARK: Starter code

    /// Stores the assignment's starter code (a zip, checked whole; an empty body removes it), in this process's turn
    /// to write; another upload at the same moment wins (409).
    static func setStarter(_ found: AssignmentInContext, zip: Data, at now: Date, writes: Writes, on db: any Database) async throws -> StarterCodeDTO {
        try Policy.require(found.user, can: .grade(found.access))
        let fileNames = zip.isEmpty ? "" : try Uploads.checkedZip(zip, limits: starterLimits, refused: "The starter code was refused").keys.sorted()
            .joined(separator: "\n")
        let assignmentID = try found.assignment.requireID(), userID = try found.user.requireID()
        do {
            try await writes.transaction { tx in
                try await AssignmentStarter.query(on: tx).filter(\.$assignment.$id == assignmentID).delete()
                guard !zip.isEmpty else { return }
                let starter = AssignmentStarter()
                (starter.$assignment.id, starter.zip, starter.fileNames) = (assignmentID, zip, fileNames)
                (starter.$uploadedBy.id, starter.uploadedAt) = (userID, now)
                try await starter.create(on: tx)
            }
        } catch where Writes.isUniqueViolation(error) {
            throw InputRejection.conflict("Someone stored starter code for this assignment at the same moment; look at it and try again.")
        }
        return try await starterView(found, on: db)
    }

    static func starterView(_ found: AssignmentInContext, on db: any Database) async throws -> StarterCodeDTO {
        let assignmentID = try found.assignment.requireID()
        guard let starter = try await AssignmentStarter.query(on: db).filter(\.$assignment.$id == assignmentID).with(\.$uploadedBy).first() else {
            return StarterCodeDTO(assignmentID: assignmentID, files: [])
        }
        return StarterCodeDTO(assignmentID: assignmentID, files: starter.fileNames.split(separator: "\n").map(String.init),
                              uploadedAt: starter.uploadedAt, uploadedBy: starter.uploadedBy.displayName)
    }
}

/// Similarity checks on the platform's workers.
struct SimilarityCheckHandler: JobHandler {
    var kind: String { SimilarityChecks.kind }

    func run(_ claimed: ClaimedJob, worker: JobWorker) async throws -> JobRecording? {
        try await SimilarityChecks.run(claimed.job, worker: worker)
        return nil
    }

    /// The check will not be tried again: it fails with the reason.
    func gaveUp(_ job: QueuedJob, reason: String, app: Application) async throws {
        let payload = try JobQueue.decode(SimilarityChecks.Payload.self, job.payload)
        try await SimilarityChecks.markFailed(payload.check, reason: reason, app: app)
    }

    func sweep(_ app: Application) async throws { try await SimilarityChecks.sweep(app) }
}
