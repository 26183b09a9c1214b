// The demo's research project, filled in: its dates and tags, the approved allocation request behind its
// credits (and a pending supplement for a manager to decide), outputs, and two batch jobs queued like real ones,
// so the workers of `campuscloud demo` run them in the sandbox within seconds and the programme report shows
// something real.
import Fluent
import Foundation
import Ledger
import Vapor

extension DemoData {
    static let hintRatings = """
        hint_id,course,rating
        1,CS101,4
        2,CS101,5
        3,CS101,3
        4,CS101,4
        5,CS101,2
        6,CS101,5
        """

    static let summarise = """
        import csv, json, statistics
        ratings = [int(row["rating"]) for row in csv.DictReader(open("ratings.csv"))]
        summary = {"hints": len(ratings), "mean_rating": round(statistics.mean(ratings), 2), "helpful_share": sum(r >= 4 for r in ratings) / len(ratings)}
        print(json.dumps(summary))
        json.dump(summary, open("outputs/summary.json", "w"), indent=2)
        """

    /// Adds them once (nothing when the project already has allocation requests); returns how many records it wrote.
    static func loadResearch(app: Application) async throws -> Int {
        let db = app.db
        guard let project = try await ResearchProject.query(on: db).filter(\.$title == "Automated feedback for programming courses with LLMs").first(),
              let admin = try await User.query(on: db).filter(\.$email == DemoData.admin.email).first(),
              let pi = try await User.query(on: db).filter(\.$email == DemoData.instructor.email).first(),
              let assistant = try await User.query(on: db).filter(\.$email == DemoData.ta.email).first() else { return 0 }
        let projectID = try project.requireID()
        guard try await AllocationRequest.query(on: db).filter(\.$project.$id == projectID).count() == 0 else { return 0 }
        var created = 0
        project.startsOn = Date().addingTimeInterval(-60 * 86_400)
        project.endsOn = Date().addingTimeInterval(300 * 86_400)
        project.tags = "LLMs, computing education, feedback"
        try await project.save(on: db)

        // The request the project's 1,500 credits came from, approved by the programme manager.
        let initial = AllocationRequest()
        initial.$project.id = projectID
        initial.$requestedBy.id = try pi.requireID()
        (initial.kind, initial.amount, initial.periodEnd) = (.initial, Credits(whole: 1500).micro, Date().addingTimeInterval(300 * 86_400))
        initial.justification = "Batch evaluation of model-generated hints on CS101's failing tests, and the tutor model's tokens for the study."
        (initial.meters, initial.status, initial.createdAt) = ("compute,ai", .approved, Date().addingTimeInterval(-58 * 86_400))
        initial.$decidedBy.id = try admin.requireID()
        (initial.decidedAt, initial.approvedAmount) = (Date().addingTimeInterval(-57 * 86_400), Credits(whole: 1500).micro)
        initial.decisionComment = "Approved by the programme board."
        try await initial.create(on: db)
        let supplement = AllocationRequest()
        supplement.$project.id = projectID
        supplement.$requestedBy.id = try pi.requireID()
        (supplement.kind, supplement.$follows.id, supplement.amount) = (.supplement, initial.id, Credits(whole: 300).micro)
        (supplement.periodEnd, supplement.justification) = (initial.periodEnd, "A second round of the study with CS340's students.")
        (supplement.meters, supplement.status, supplement.createdAt) = ("ai", .pending, Date())
        try await supplement.create(on: db)
        created += 2

        let outputs: [ProjectOutputInput] = [
            ProjectOutputInput(kind: "publication", title: "Hints, not answers: model-generated feedback in a first programming course",
                               venue: "Proceedings of the ACM Technical Symposium on Computer Science Education", year: "2027"),
            ProjectOutputInput(kind: "dataset", title: "Anonymised ratings of model-generated hints", venue: "University research data repository", year: "2026"),
            ProjectOutputInput(kind: "software", title: "hint-eval: a harness for rating programming hints", venue: "University code forge", year: "2026"),
            ProjectOutputInput(kind: "thesis", title: "Measuring the helpfulness of automated programming feedback (MSc)", venue: "Department of Computer Science", year: "2027"),
        ]
        for input in outputs { _ = try await ProjectOutputs.record(input, in: project, by: assistant, on: db); created += 1 }

        // Two jobs paid from the TA's allowance in the project; the demo's workers run them at start.
        let access = try await ProjectAccess.load(assistant, project, on: db)
        for (name, command) in [("summarise hint ratings", "python3 summarise.py"), ("count hints per course", "cut -d, -f2 ratings.csv | tail -n +2 | sort | uniq -c | tee outputs/per-course.txt")] {
            _ = try await ResearchJobs.submit(ResearchJobInput(name: name, command: command, wallSeconds: "60"),
                                              files: ["ratings.csv": Data(hintRatings.utf8), "summarise.py": Data(summarise.utf8)],
                                              to: project, by: assistant, access: access, app: app, db: db)
            created += 1
        }
        return created
    }
}
