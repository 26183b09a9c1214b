import Fluent

/// `similarity_pairs`: the most similar pairs a similarity check found, by rank (1 the most similar); a and b are
/// submissions, b of an earlier offering when `b_is_earlier`.
struct CreateSimilarityPair: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("similarity_pairs")
            .id()
            .field("check_id", .uuid, .required, .references("similarity_checks", "id", onDelete: .cascade))
            .field("rank", .int, .required)
            .field("a_submission_id", .uuid, .required, .references("submissions", "id", onDelete: .cascade))
            .field("b_submission_id", .uuid, .required, .references("submissions", "id", onDelete: .cascade))
            .field("similarity", .double, .required)
            .field("share_of_a", .double, .required)
            .field("share_of_b", .double, .required)
            .field("shared_fingerprints", .int, .required)
            .field("longest_run", .int)
            .field("b_is_earlier", .bool, .required)
            .unique(on: "check_id", "rank")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("similarity_pairs").delete()
    }
}
