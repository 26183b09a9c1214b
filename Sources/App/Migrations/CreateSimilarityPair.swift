import Fluent
import SQLKit

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
        // Deleting a submission deletes its pairs: found through these, not by reading every pair.
        let sql = database as! any SQLDatabase
        try await sql.create(index: "similarity_pairs_by_a").on("similarity_pairs").column("a_submission_id").run()
        try await sql.create(index: "similarity_pairs_by_b").on("similarity_pairs").column("b_submission_id").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("similarity_pairs").delete()
    }
}
