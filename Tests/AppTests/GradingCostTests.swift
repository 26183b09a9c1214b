// What recording a graded hand-in costs the database: a fixed few statements, whatever the course's size, so the
// workers' bookkeeping stays small beside the sandboxed runs (bench/grading measures the whole).
import Testing
import Foundation
import Fluent
import Vapor
import VaporTesting
@testable import App

@Suite(.serialized) struct GradingCostTests {
    @Test func aHandInsAnswerIsWhatReadingItBackGives() async throws {
        try await withTestApp { app in
            try await app.loadDemoData(credits: true)
            let tests = #"{"tests": [{"name": "hello", "run": "python3 hello.py", "output": "Hello", "comparison": "included", "timeout": 5, "points": 5}]}"#
            let assignmentID = try await GradingFlowTests.createAssignment(app, ["title": "Hello", "kind": "classroom", "classroomTests": tests])
            // Names whose order differs byte by byte, by letter case and by composed characters (é written as e and an accent).
            let files = ["hello.py": GradingFlowTests.hello, "README.md": Data("# Notes\n".utf8), "main.py": Data("pass\n".utf8),
                         "e\u{301}.txt": Data("é\n".utf8), "f.txt": Data("f\n".utf8)]
            for email in ["student1@demo.test", "instructor@demo.test"] {
                let caller = try await app.bearer(email)
                let handIn = try await app.handIn(assignmentID, files: files, as: caller)
                #expect(handIn.status == .created, "\(handIn.body.string)")
                // The answer is built from what was written, not read back: it is what reading it back gives.
                let id = try handIn.content.decode(SubmissionDTO.self).id
                let read = try await app.testing().sendRequest(.GET, "api/v1/submissions/\(id)", headers: caller)
                #expect(read.status == .ok)
                let answered = try JSONSerialization.jsonObject(with: Data(handIn.body.readableBytesView)) as? NSDictionary
                let stored = try JSONSerialization.jsonObject(with: Data(read.body.readableBytesView)) as? NSDictionary
                #expect(answered != nil && answered == stored, "\(handIn.body.string)\n\(read.body.string)")
                #expect((answered?["files"] as? [NSDictionary])?.compactMap { $0["path"] as? String } == ["README.md", "e\u{301}.txt", "f.txt", "hello.py", "main.py"])
            }
        }
    }

    @Test func aGradedHandInTakesAFewStatements() async throws {
        guard !TestDatabase.isPostgres else { return }  // read from SQLite's query log
        let counter = StatementCounter()
        for credits in [false, true] {
            try await withTestApp(statements: counter) { app in
                try await app.loadDemoData(credits: credits)
                let tests = #"{"tests": [{"name": "hello", "run": "python3 hello.py", "output": "Hello", "comparison": "included", "timeout": 5, "points": 5}]}"#
                let assignmentID = try await GradingFlowTests.createAssignment(app, ["title": "Hello", "kind": "classroom", "classroomTests": tests])
                let student = try await app.bearer("student1@demo.test")
                for _ in 0..<2 {
                    let handIn = try await app.handIn(assignmentID, files: ["hello.py": GradingFlowTests.hello], as: student)
                    #expect(handIn.status == .created, "\(handIn.body.string)")
                }
                let worker = JobWorker(app: app, name: "cost", lease: 60)
                for attempt in 1...2 {
                    var ran = false
                    let count = try await counter.count { ran = try await worker.runOnce() }
                    #expect(ran)
                    // The claim, the load and the mark; a later attempt reads the earlier ones' times and scores. Then
                    // one write transaction: BEGIN, the write turn, the job, (with credits: the hold, the prices, its
                    // settle,) the submission, its tests (delete, insert), the LMS's check, the gradebook's stamp, COMMIT.
                    let expected = (credits ? 15 : 12) + (attempt > 1 ? 1 : 0)
                    #expect(count == expected, "credits \(credits), attempt \(attempt): \(count) statements: \(counter.statements.joined(separator: "\n"))")
                }
                let graded = try await Submission.query(on: app.db).filter(\.$assignment.$id == assignmentID).all()
                #expect(graded.count == 2 && graded.allSatisfy { $0.status == .graded && $0.score == 5 })
            }
        }
    }
}
