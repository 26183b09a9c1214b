import Fluent
import Foundation
import Grading
import SQLKit

/// `submission_tests`: each graded hand-in's tests (name, score, passed), written with the result. Existing results
/// are copied in, 500 hand-ins at a time.
struct CreateSubmissionTest: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("submission_tests")
            .id()
            .field("submission_id", .uuid, .required, .references("submissions", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("name", .string, .required)
            .field("score", .double)
            .field("max_score", .double)
            .field("passed", .bool, .required)
            .unique(on: "submission_id", "position")
            .create()
        var after: UUID?
        while true {
            var page = Submission.query(on: database).filter(\.$results != nil).sort(\.$id).limit(500).field(\.$id).field(\.$results)
            if let after { page = page.filter(\.$id > after) }
            let submissions = try await page.all()
            guard let last = submissions.last else { break }
            for submission in submissions {
                try await SubmissionTests.replace(for: submission.requireID(), results: submission.results, on: database)
            }
            after = try last.requireID()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("submission_tests").delete()
    }
}
