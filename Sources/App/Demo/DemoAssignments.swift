// The demo's assignments: one of each autograder kind in CS101, with hand-ins from a few students. The hand-ins are
// queued like real ones, so the workers of `campuscloud demo` grade them in the sandbox within seconds of start.
// The Gradescope autograder follows the published contract (setup.sh, run_autograder, results.json with
// visibilities) and needs no network, so the demo works offline.
import Fluent
import Foundation
import Grading
import Vapor

extension DemoData {
    static let classroomTitle = "Lab 1: hello and add (Classroom tests)"
    static let gradescopeTitle = "Lab 2: a calculator (Gradescope autograder)"

    static let classroomSpec = """
        {"tests": [
          {"name": "prints hello", "setup": "", "run": "python3 hello.py", "input": "", "output": "Hello, world", "comparison": "included", "timeout": 1, "points": 2},
          {"name": "adds two numbers", "setup": "", "run": "python3 add.py", "input": "2 3\\n", "output": "5", "comparison": "exact", "timeout": 1, "points": 3}
        ]}
        """

    static let gradescopeFiles: [String: String] = [
        "setup.sh": """
            #!/usr/bin/env bash
            # Runs once when the autograder is uploaded (with network). This one needs nothing from the network.
            mkdir -p /usr/local/share/calc-grader && echo "calculator grader v1" > /usr/local/share/calc-grader/VERSION
            """,
        "run_autograder": """
            #!/usr/bin/env bash
            cp /autograder/submission/calc.py /autograder/source/calc.py
            cd /autograder/source && python3 run_tests.py
            """,
        "run_tests.py": """
            import json, unittest
            results = []
            def check(name, points, visibility, fn):
                try:
                    fn(); results.append({"name": name, "score": points, "max_score": points, "visibility": visibility, "status": "passed", "output": ""})
                except Exception as e:
                    results.append({"name": name, "score": 0, "max_score": points, "visibility": visibility, "status": "failed", "output": repr(e)})
            from calc import add, mul
            def t_add(): assert add(2, 3) == 5, "add(2, 3) should be 5"
            def t_mul(): assert mul(4, 5) == 20, "mul(4, 5) should be 20"
            def t_neg(): assert add(-2, 2) == 0 and mul(-1, 3) == -3, "negative numbers"
            check("add", 4, "visible", t_add)
            check("mul", 4, "visible", t_mul)
            check("negative numbers (hidden until grades are published)", 2, "after_published", t_neg)
            json.dump({"tests": results, "output": open('/usr/local/share/calc-grader/VERSION').read()}, open('/autograder/results/results.json', 'w'))
            """,
    ]

    /// Adds the two assignments and their hand-ins once; returns how many records it wrote.
    static func loadAssignments(on db: any Database) async throws -> Int {
        guard let course = try await Course.query(on: db).filter(\.$code == "CS101").first(),
              let instructor = try await User.query(on: db).filter(\.$email == DemoData.instructor.email).first() else { return 0 }
        guard try await Assignment.query(on: db).filter(\.$course.$id == course.requireID()).filter(\.$title == classroomTitle).first() == nil else { return 0 }
        var created = 0
        var classroom = AssignmentInput()
        classroom.title = classroomTitle
        classroom.kind = "classroom"
        classroom.instructions = "Write `hello.py`, which prints *Hello, world*, and `add.py`, which reads two numbers and prints their sum.\n\nHand in both files."
        classroom.dueAt = ISO8601DateFormatter().string(from: Date().addingTimeInterval(7 * 86_400))
        classroom.latePolicy = "penalty:10"
        classroom.requiredFiles = "hello.py\nadd.py"
        classroom.classroomTests = classroomSpec
        let lab1 = try await Assignments.create(in: course, classroom, by: instructor, on: db)
        var gradescope = AssignmentInput()
        gradescope.title = gradescopeTitle
        gradescope.kind = "gradescope"
        gradescope.instructions = "Write `calc.py` with `add(a, b)` and `mul(a, b)`.\n\n| function | returns |\n|---|---|\n| add(2, 3) | 5 |\n| mul(4, 5) | 20 |"
        gradescope.dueAt = ISO8601DateFormatter().string(from: Date().addingTimeInterval(14 * 86_400))
        gradescope.requiredFiles = "calc.py"
        gradescope.counted = "best"
        let lab2 = try await Assignments.create(in: course, gradescope, by: instructor, on: db)
        try await Assignments.setAutograder(lab2, zip: try zip(gradescopeFiles), at: Date(), on: db)
        created += 2

        let hello = "print('Hello, world')\n", add = "a, b = map(int, input().split())\nprint(a + b)\n"
        let calc = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
        let samples: [(Assignment, String, [String: String])] = [
            (lab1, "student1@demo.test", ["hello.py": hello, "add.py": add]),
            (lab1, "student2@demo.test", ["hello.py": hello, "add.py": "print('five')\n"]),
            (lab1, "student3@demo.test", ["hello.py": "print('hi')\n", "add.py": add]),
            (lab2, "student1@demo.test", ["calc.py": calc]),
            (lab2, "student2@demo.test", ["calc.py": "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a + b\n"]),
        ]
        for (assignment, email, files) in samples {
            guard let student = try await User.query(on: db).filter(\.$email == email).first() else { continue }
            try await db.transaction { tx in
                let submission = Submission()
                submission.id = UUID()
                submission.$assignment.id = try assignment.requireID()
                submission.$user.id = try student.requireID()
                (submission.isTestRun, submission.attempt, submission.status, submission.submittedAt) = (false, 1, .queued, Date())
                (submission.cpuMs, submission.wallMs, submission.charged, submission.runs) = (0, 0, 0, 1)
                try await submission.create(on: tx)
                for (path, text) in files { try await SubmissionFile(submissionID: submission.id!, path: path, contents: Data(text.utf8)).create(on: tx) }
                submission.jobID = try await GradingJobs.enqueueGrade(submission.id!, run: 1, at: Date(), on: tx).id
                try await submission.save(on: tx)
            }
            created += 1
        }
        return created
    }

    static func zip(_ files: [String: String]) throws -> Data {
        try SafeArchive.make(files.mapValues { Data($0.utf8) })
    }
}
