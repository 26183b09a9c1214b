// A joint research project within a programme: its details; its lifecycle, members, allocation requests, jobs and
// outputs are in their own tables (Research/).
import Fluent
import Foundation

final class ResearchProject: Model, @unchecked Sendable {
    static let schema = "research_projects"

    @ID(key: .id) var id: UUID?
    @Parent(key: "programme_id") var programme: Programme
    @Field(key: "title") var title: String
    @Field(key: "summary") var summary: String
    @Field(key: "status") var status: String
    @OptionalField(key: "starts_on") var startsOn: Date?
    @OptionalField(key: "ends_on") var endsOn: Date?
    /// Comma-separated, e.g. "machine learning, climate".
    @Field(key: "tags") var tags: String
    /// Whether its jobs may ask for (outbound) network: set by its PI or a programme manager, each change in its history.
    @Field(key: "job_network") var jobNetwork: Bool
    /// The Slurm cluster its jobs go to (set by a programme manager); nil: the platform's own workers.
    @OptionalField(key: "slurm_cluster_id") var slurmClusterID: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(id: UUID? = nil, programmeID: UUID, title: String, summary: String, status: String) {
        self.id = id
        self.$programme.id = programmeID
        self.title = title
        self.summary = summary
        self.status = status
        self.tags = ""
        self.jobNetwork = false
    }
}
