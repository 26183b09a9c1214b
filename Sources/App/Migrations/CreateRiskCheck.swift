import Fluent

/// `risk_checks`: when each course's students were last checked for risk (`RiskFlags`), so the periodic sweep checks
/// a course at most hourly however many workers sweep, and a teacher's "Check now" at most once a minute.
struct CreateRiskCheck: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("risk_checks")
            .id()
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("checked_at", .datetime, .required)
            .unique(on: "course_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("risk_checks").delete()
    }
}
