// A course taught within a programme; instructors, TAs and students are its members.
import Fluent
import Foundation

final class Course: Model, @unchecked Sendable {
    static let schema = "courses"

    @ID(key: .id) var id: UUID?
    @Parent(key: "programme_id") var programme: Programme
    @Field(key: "code") var code: String
    @Field(key: "title") var title: String
    @Field(key: "term") var term: String
    @Field(key: "starts_on") var startsOn: Date
    @Field(key: "ends_on") var endsOn: Date
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(id: UUID? = nil, programmeID: UUID, code: String, title: String, term: String, startsOn: Date, endsOn: Date) {
        self.id = id
        self.$programme.id = programmeID
        self.code = code
        self.title = title
        self.term = term
        self.startsOn = startsOn
        self.endsOn = endsOn
    }
}
