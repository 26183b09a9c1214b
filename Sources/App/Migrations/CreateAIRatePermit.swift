import Fluent

/// `ai_rate_permits`: how many AI requests each person-and-place has been granted in each clock minute, shared by
/// every gateway process on the database (`RatePermits`): a process leases a block of permits at a time with one
/// conditional upsert, so the per-minute limit holds across processes. Rows older than a minute are swept.
struct CreateAIRatePermit: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("ai_rate_permits")
            .field("rate_key", .string, .required)
            .field("window_minute", .int64, .required)
            .field("granted", .int64, .required)
            .field("last_grant", .int64, .required)
            .unique(on: "rate_key", "window_minute")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("ai_rate_permits").delete()
    }
}
