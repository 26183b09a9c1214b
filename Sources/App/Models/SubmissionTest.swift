// One test of a graded hand-in, copied out of its results.json when the result is recorded, so that pass rates per
// test across a course are one grouped query rather than a parse of every hand-in's JSON.
import Fluent
import Foundation
import Grading
import SQLKit

final class SubmissionTest: Model, @unchecked Sendable {
    static let schema = "submission_tests"
    @ID(key: .id) var id: UUID?
    @Parent(key: "submission_id") var submission: Submission
    /// Its place in results.json, so a test's name may repeat.
    @Field(key: "position") var position: Int
    @Field(key: "name") var name: String
    @OptionalField(key: "score") var score: Double?
    @OptionalField(key: "max_score") var maxScore: Double?
    @Field(key: "passed") var passed: Bool

    init() {}
}

enum SubmissionTests {
    /// Makes the hand-in's test rows match its results.json (none when it has none or it does not parse): one
    /// DELETE, then one INSERT per 500 tests. Runs in the transaction that records the result.
    static func replace(for submissionID: UUID, results: String?, on db: any Database) async throws {
        let tests = if let results, case .success(let parsed) = GradescopeResults.parse(Data(results.utf8)) { parsed.tests } else { [GradescopeResults.Test]() }
        try await replace(for: submissionID, tests: tests, on: db)
    }

    /// The same for tests already read from the results (a grading run's, read once by the grader).
    static func replace(for submissionID: UUID, tests: [GradescopeResults.Test], on db: any Database) async throws {
        let sql = try db.sqlDatabase()
        try await sql.delete(from: SubmissionTest.schema).where("submission_id", .equal, submissionID).run()
        guard !tests.isEmpty else { return }
        let rows = tests.enumerated().map { index, test in
            [SQLBind(UUID()), SQLBind(submissionID), SQLBind(index), SQLBind(String(test.name.prefix(200))), SQLBind(test.score), SQLBind(test.maxScore),
             SQLBind(GradescopeResults.passed(test))] as [any SQLExpression]
        }
        for start in stride(from: 0, to: rows.count, by: 500) {
            var insert = sql.insert(into: SubmissionTest.schema).columns("id", "submission_id", "position", "name", "score", "max_score", "passed")
            for row in rows[start..<min(start + 500, rows.count)] { insert = insert.values(row) }
            try await insert.run()
        }
    }
}
