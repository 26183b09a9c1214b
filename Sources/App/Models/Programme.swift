// The agreement between the university and an industry partner; courses and projects belong to one.
import Fluent
import Foundation

final class Programme: Model, @unchecked Sendable {
    static let schema = "programmes"

    @ID(key: .id) var id: UUID?
    @Field(key: "name") var name: String
    @Field(key: "partner_organisation") var partnerOrganisation: String
    @Field(key: "starts_on") var startsOn: Date
    @Field(key: "ends_on") var endsOn: Date
    @Field(key: "description") var description: String
    @Children(for: \.$programme) var courses: [Course]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(id: UUID? = nil, name: String, partnerOrganisation: String, startsOn: Date, endsOn: Date, description: String) {
        self.id = id
        self.name = name
        self.partnerOrganisation = partnerOrganisation
        self.startsOn = startsOn
        self.endsOn = endsOn
        self.description = description
    }
}
