import Fluent

/// `risk_flags`: students at risk in a course, as the at-risk check found them (`RiskFlags`): one row per (course,
/// student, rule, subject), so a situation raises one flag however often it is checked. `check_id` is the check that
/// last found it (a flag the latest check did not find is cleared); a teacher's dismissal is kept with who and when.
struct CreateRiskFlag: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("risk_flags")
            .id()
            .field("course_id", .uuid, .required, .references("courses", "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("rule", .string, .required)
            .field("subject", .string, .required)
            .field("reason", .string, .required)
            .field("raised_at", .datetime, .required)
            .field("seen_at", .datetime, .required)
            .field("check_id", .uuid, .required)
            .field("cleared_at", .datetime)
            .field("dismissed_at", .datetime)
            .field("dismissed_by", .uuid, .references("users", "id", onDelete: .setNull))
            .unique(on: "course_id", "user_id", "rule", "subject")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("risk_flags").delete()
    }
}
