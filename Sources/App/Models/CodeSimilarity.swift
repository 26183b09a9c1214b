// Code similarity: a check staff ran over an assignment's hand-ins (on the durable queue), the pairs it ranked, and
// the starter code handed out with an assignment (left out of every check).
import Fluent
import Foundation

enum SimilarityCheckStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, done, failed
    var isFinished: Bool { self == .done || self == .failed }
}

final class CodeSimilarityCheck: Model, @unchecked Sendable {
    static let schema = "similarity_checks"
    @ID(key: .id) var id: UUID?
    @Parent(key: "assignment_id") var assignment: Assignment
    @Parent(key: "requested_by") var requestedBy: User
    @Field(key: "status") var status: SimilarityCheckStatus
    /// Earlier offerings' assignments whose hand-ins are sources, their ids one per line.
    @Field(key: "earlier_assignments") var earlierAssignments: String
    @OptionalField(key: "queue_job_id") var queueJobID: UUID?
    /// Why it failed, in a sentence.
    @OptionalField(key: "problem") var problem: String?
    @Field(key: "hand_ins") var handIns: Int
    @Field(key: "earlier_hand_ins") var earlierHandIns: Int
    /// Hand-ins longer than the check reads (compared by their beginning).
    @Field(key: "truncated") var truncated: Int
    @Field(key: "starter_files") var starterFiles: Int
    @Field(key: "starter_fingerprints") var starterFingerprints: Int
    @Field(key: "common_fingerprints") var commonFingerprints: Int
    /// Pairs that share anything (the most similar of them are kept in `similarity_pairs`).
    @Field(key: "pairs_found") var pairsFound: Int
    /// JSON: pairs per tenth of similarity.
    @Field(key: "histogram") var histogram: String
    /// JSON: groups of submission ids joined by pairs at or above the cluster threshold.
    @Field(key: "clusters") var clusters: String
    /// The k-token hashes left out (starter code, common fragments), 8 bytes each, little-endian.
    @OptionalField(key: "left_out") var leftOut: Data?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "started_at") var startedAt: Date?
    @OptionalField(key: "finished_at") var finishedAt: Date?

    init() {}

    var earlierAssignmentIDs: [UUID] { earlierAssignments.split(separator: "\n").compactMap { UUID(uuidString: String($0)) } }
}

final class CodeSimilarityPair: Model, @unchecked Sendable {
    static let schema = "similarity_pairs"
    @ID(key: .id) var id: UUID?
    @Parent(key: "check_id") var check: CodeSimilarityCheck
    /// 1 for the most similar.
    @Field(key: "rank") var rank: Int
    @Field(key: "a_submission_id") var aSubmissionID: UUID
    @Field(key: "b_submission_id") var bSubmissionID: UUID
    @Field(key: "similarity") var similarity: Double
    @Field(key: "share_of_a") var shareOfA: Double
    @Field(key: "share_of_b") var shareOfB: Double
    @Field(key: "shared_fingerprints") var sharedFingerprints: Int
    @OptionalField(key: "longest_run") var longestRun: Int?
    /// b is a hand-in of an earlier offering.
    @Field(key: "b_is_earlier") var bIsEarlier: Bool

    init() {}
}

/// The code handed out with an assignment (a zip, checked whole when stored): left out of its similarity checks.
final class AssignmentStarter: Model, @unchecked Sendable {
    static let schema = "assignment_starters"
    @ID(key: .id) var id: UUID?
    @Parent(key: "assignment_id") var assignment: Assignment
    @Field(key: "zip") var zip: Data
    /// The zip's file names, one per line.
    @Field(key: "file_names") var fileNames: String
    @Parent(key: "uploaded_by") var uploadedBy: User
    @Field(key: "uploaded_at") var uploadedAt: Date

    init() {}
}
