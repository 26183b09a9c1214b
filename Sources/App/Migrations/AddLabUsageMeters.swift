import Fluent

/// Lab CPU time and memory as meters: whether an environment charges them (default not), and each session's measured
/// use — recorded at every metering pass, so a sweep that ends an orphaned session settles from the figures last recorded —
/// with the figures at the start of its open hold (the stretch the next settle charges), and the terms it was started
/// under (what it charges, its caps: a hold and its settle use the same). One column per statement: SQLite adds one
/// at a time.
struct AddLabUsageMeters: AsyncMigration {
    static let labFields = ["charge_cpu", "charge_memory"]
    static let sessionFields = ["cpu_ms", "memory_mb_seconds", "held_cpu_ms", "held_memory_mb_seconds", "cpu_millis", "memory_mb"]
    static let sessionFlags = ["charge_cpu", "charge_memory"]

    func prepare(on database: any Database) async throws {
        for field in Self.labFields {
            try await database.schema("lab_environments").field(.string(field), .bool, .required, .sql(.default(false))).update()
        }
        for field in Self.sessionFields {
            try await database.schema("lab_sessions").field(.string(field), .int64, .required, .sql(.default(0))).update()
        }
        for field in Self.sessionFlags {
            try await database.schema("lab_sessions").field(.string(field), .bool, .required, .sql(.default(false))).update()
        }
    }

    func revert(on database: any Database) async throws {
        for field in Self.sessionFields + Self.sessionFlags { try await database.schema("lab_sessions").deleteField(.string(field)).update() }
        for field in Self.labFields { try await database.schema("lab_environments").deleteField(.string(field)).update() }
    }
}
