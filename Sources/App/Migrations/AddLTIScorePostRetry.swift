import Fluent

/// A score whose post failed for a passing reason waits on its own (`retry_at`, backing off with `attempts`), so one
/// failing line item does not hold up the rest of its LMS's scores.
struct AddLTIScorePostRetry: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement (SQLite adds one at a time).
        try await database.schema("lti_score_posts").field("attempts", .int, .required, .sql(.default(0))).update()
        try await database.schema("lti_score_posts").field("retry_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_score_posts").deleteField("retry_at").update()
        try await database.schema("lti_score_posts").deleteField("attempts").update()
    }
}
