// A joint research project within a programme. Its lifecycle and allocations come with the research issue.
import Fluent
import Foundation

final class ResearchProject: Model, @unchecked Sendable {
    static let schema = "research_projects"

    @ID(key: .id) var id: UUID?
    @Parent(key: "programme_id") var programme: Programme
    @Field(key: "title") var title: String
    @Field(key: "summary") var summary: String
    @Field(key: "status") var status: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(id: UUID? = nil, programmeID: UUID, title: String, summary: String, status: String) {
        self.id = id
        self.$programme.id = programmeID
        self.title = title
        self.summary = summary
        self.status = status
    }
}
