// bench/grading's driver (hidden): the same small Python autograder run for N hand-ins, first bare (the test
// command itself, `parallel` at a time, no sandbox, no database), then through the platform: the hand-ins accepted
// by `Submissions.submit` and queued, then graded by the workers in the sandbox and recorded (the issue's measure:
// the clock runs from the workers' start to the last grade), and once more with the hand-ins accepted while the
// workers grade (the clock runs from the first hand-in). Each ratio is bare ÷ platform.
import ArgumentParser
import Fluent
import Foundation
import Grading
import Sandbox
import SQLKit
import Vapor

struct GradingBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grading-bench", abstract: "Measure grading (for bench/grading).", shouldDisplay: false)

    @ArgumentParser.Option var submissions = 200
    @ArgumentParser.Option var parallel = 2
    @ArgumentParser.Option(help: "Rounds of bare run then platform run; the efficiency is the median of the rounds' (on a shared machine one pair drifts).")
    var rounds = 3
    @ArgumentParser.Option(help: "Grading workers (default: as many as run in parallel bare).") var workers: Int?
    @ArgumentParser.Flag(help: "Also time the parts apart: the sandbox runs alone, the hand-ins alone, the workers alone.") var phases = false

    /// The autograder: written for Gradescope, with paths relative to its folder so the bare run can use it as it is.
    static let autograder: [String: String] = [
        "setup.sh": "true\n",
        "run_autograder": """
            #!/bin/sh
            cd "$(dirname "$0")" && cp submission/calc.py source/calc.py && cd source && exec python3 -S test_calc.py
            """,
        "test_calc.py": """
            import json
            from calc import add
            tests = [{"name": "add %d" % i, "score": 1 if add(i, i) == 2 * i else 0, "max_score": 1} for i in range(10)]
            json.dump({"tests": tests}, open("../results/results.json", "w"))
            """,
    ]
    static let submission = "def add(a, b):\n    return a + b\n"

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: true)
            _ = try await DemoData.load(on: app.db, passwordHash: try Bcrypt.hash(DemoData.password, cost: 4), credits: false)
            func row(_ label: String, _ seconds: String, _ each: String, _ idle: String, _ cpu: String = "", _ ratio: String = "") -> String {
                label.padding(toLength: 58, withPad: " ", startingAt: 0) + String(repeating: " ", count: max(0, 9 - seconds.count)) + seconds
                    + [(each, 14), (idle, 8), (cpu, 12), (ratio, 11)].map { String(repeating: " ", count: max(0, $0.1 - $0.0.count)) + $0.0 }.joined()
            }
            var drained: [Double] = [], endToEnd: [Double] = [], graded = 0
            say(row("run", "seconds", "ms / hand-in", "idle", "own CPU ms", "bare ÷ it"))
            for round in 1...(phases ? 1 : max(1, rounds)) {
                let (bare, bareIdle) = try bareRun()
                say(row("\(round). bare: the test command, \(parallel) in parallel", String(format: "%.2f", bare), String(format: "%.1f", bare * 1000 / Double(submissions)),
                        String(format: "%.0f%%", bareIdle * 100)))
                if phases { _ = try await platformRun(app, queueFirst: true); break }
                for queueFirst in [true, false] {
                    let run = try await platformRun(app, queueFirst: queueFirst)
                    graded += run.graded
                    if queueFirst { drained.append(bare / run.seconds) } else { endToEnd.append(bare / run.seconds) }
                    let label = queueFirst ? "\(round). platform, queue filled first: \(workerCount) workers + sandbox"
                                           : "\(round). platform, hand-ins meanwhile: hand-in + queue + workers + sandbox"
                    say(row(label, String(format: "%.2f", run.seconds), String(format: "%.1f", run.seconds * 1000 / Double(submissions)),
                            String(format: "%.0f%%", run.idle * 100), String(format: "%.2f", run.cpu * 1000 / Double(submissions)),
                            String(format: "%.2f", bare / run.seconds)))
                    if let handIns = run.handIns {
                        say(String(format: "     (its %d hand-ins, accepted before: %.2f s, own CPU %.2f ms each)", submissions, handIns.seconds,
                                   handIns.cpu * 1000 / Double(submissions)))
                    }
                }
            }
            guard !phases else { return }
            say("(idle: the machine's CPU time left idle during the run; own CPU: the platform's own threads per hand-in, not the sandboxed programs')")
            say("graded=\(graded) of \(submissions * (drained.count + endToEnd.count))")
            // The issue's measure: the submissions are enqueued, then the time until all are graded. The stricter
            // end-to-end figure also times the hand-ins themselves, accepted while the workers grade.
            say(String(format: "end-to-end=%.2f (median; the hand-ins accepted while grading, and timed)", Self.median(endToEnd)))
            say(String(format: "efficiency=%.2f", Self.median(drained)))
        }
    }

    static func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }

    var workerCount: Int { workers ?? parallel }

    /// The test command in a plain folder per hand-in, `parallel` at a time.
    func bareRun() throws -> (seconds: Double, idle: Double) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cc-grading-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        func folder(_ index: Int) throws -> URL {
            let url = root.appendingPathComponent("\(index)")
            for (path, text) in Self.autograder { try write(text, url.appendingPathComponent("source/" + path)) }
            try write(Self.autograder["run_autograder"]!, url.appendingPathComponent("run_autograder"))
            try write(Self.submission, url.appendingPathComponent("submission/calc.py"))
            try FileManager.default.createDirectory(at: url.appendingPathComponent("results"), withIntermediateDirectories: true)
            return url
        }
        let folders = try (0..<submissions).map(folder)
        // The commands as a shell user would run them: xargs keeps `parallel` going (Foundation's Process is not
        // used per command: on Linux it closes every possible descriptor before exec, which would slow the baseline).
        let list = root.appendingPathComponent("commands.txt")
        try folders.map { $0.appendingPathComponent("run_autograder").path }.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        let start = Date(), ticks = Self.machineTicks()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/xargs")
        process.arguments = ["-P", String(parallel), "-n", "1", "-a", list.path, "/bin/sh"]
        // The environment a sandbox job starts with, not the caller's (a shell's PYTHON* variables can make Python
        // start 10× slower; LANG makes every program load its locale).
        process.environment = BwrapArguments.environment(home: root.path)
        try process.run()
        process.waitUntilExit()
        let elapsed = Date().timeIntervalSince(start), idle = Self.idleShare(since: ticks)
        let written = folders.filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("results/results.json").path) }.count
        guard written == submissions else { throw CommandFailure("the bare run wrote \(written) of \(submissions) results") }
        return (elapsed, idle)
    }

    /// The machine's CPU time so far, in clock ticks: idle (idle and iowait) and all.
    static func machineTicks() -> (idle: Double, all: Double) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = text.split(separator: "\n").first else { return (0, 0) }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 5 else { return (0, 0) }
        return (ticks[3] + ticks[4], ticks.prefix(8).reduce(0, +))
    }

    /// The share of the machine's CPU time that was idle since `before` (machineTicks()).
    static func idleShare(since before: (idle: Double, all: Double)) -> Double {
        let now = machineTicks()
        return now.all > before.all ? (now.idle - before.idle) / (now.all - before.all) : 0
    }

    /// User and system CPU seconds of this process's threads so far.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func write(_ text: String, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// What one platform run measured: seconds until every hand-in was graded, the platform's own CPU seconds and the
    /// machine's idle share meanwhile, full-mark grades, and (when the queue was filled first) the hand-ins' own time.
    struct PlatformRun {
        var seconds: Double, cpu: Double, idle: Double, graded: Int
        var handIns: (seconds: Double, cpu: Double)?
    }

    /// Hand-ins through `Submissions.submit`, graded by the workers. `queueFirst`: every hand-in is accepted first
    /// (timed apart), then the workers start and the clock runs until the last grade; otherwise the clock runs from
    /// the first hand-in to the last grade, the workers grading while the hand-ins arrive.
    func platformRun(_ app: Application, queueFirst: Bool) async throws -> PlatformRun {
        guard let course = try await Course.query(on: app.db).filter(\.$code == "CS101").first(),
              let instructor = try await User.query(on: app.db).filter(\.$email == DemoData.instructor.email).first() else {
            throw CommandFailure("the demo course is missing")
        }
        var input = AssignmentInput()
        input.title = "bench \(UUID().uuidString.prefix(8))"
        input.kind = "gradescope"
        let created = try await Assignments.create(in: course, input, by: instructor, on: app.db)
        try await Assignments.setAutograder(created, zip: try SafeArchive.make(Self.autograder.mapValues { Data($0.utf8) }), at: app.clock.now(), on: app.db)
        let workers = JobWorkers(count: workerCount, lease: 60, poll: .milliseconds(20))
        workers.start(app)
        defer { Task { await workers.stop() } }
        // Warm-up (not counted): the set-up, and a few runs so ready sandboxes exist, as in a running platform.
        var assignment: Assignment = created
        while true {
            guard let current = try await Assignment.find(created.requireID(), on: app.db) else { throw CommandFailure("the assignment vanished") }
            assignment = current
            if current.setupStatus != .pending { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard assignment.setupStatus == .ready else { throw CommandFailure("the autograder's set-up failed: \(assignment.setupLog ?? "")") }
        let students = try await CourseMember.query(on: app.db).filter(\.$course.$id == course.requireID()).filter(\.$role == .student).with(\.$user).all().map(\.user)
        let files = ["calc.py": Data(Self.submission.utf8)]
        let ready = assignment
        func handIn(_ index: Int) async throws {
            let student = students[index % students.count]
            let access = try await CourseAccess.load(student, course, on: app.db)
            _ = try await Submissions.submit(files, to: ready, course: course, by: student, access: access, on: app, db: app.db)
        }
        // The bench's own polling is one plain statement, and rarer while much is left (about a quarter of the
        // time the rest should take, at most every 500 ms, at least every 10 ms near the end), so it takes as little
        // as it can from the platform it measures and still sees the last grade within 10 ms.
        guard let sql = app.db as? any SQLDatabase else { throw CommandFailure("the bench needs an SQL database") }
        let assignmentID = try assignment.requireID()
        func waitForAll(_ count: Int) async throws -> Int {
            while true {
                let row = try await sql.raw("""
                    SELECT count(*) AS done FROM submissions WHERE assignment_id = \(bind: assignmentID) AND status IN ('graded', 'failed')
                    """).first()
                let done = try row?.decode(column: "done", as: Int.self) ?? 0
                if done >= count { return done }
                try await Task.sleep(for: .milliseconds(min(500, max(10, (count - done) * 2))))
            }
        }
        for index in 0..<4 { try await handIn(index) }
        _ = try await waitForAll(4)
        if phases {
            guard case .ready(let layer, _) = try await app.environmentLayers.ensure(ready.grading) else { throw CommandFailure("no layer") }
            let source = try await app.environmentLayers.source(of: ready.grading)
            let job = Grader.gradescopeJob(source: source, submission: files, metadata: Data("{}".utf8), layer: layer,
                                           limits: Grader(app: app).limits(ready.grading, seconds: ready.timeLimitSeconds))
            var start = Date()
            for (label, candidate) in [("on the layer", job), ("on the host view", { var j = job; j.layer = nil; return j }()),
                                       ("true", { var j = job; j.layer = nil; j.command = ["/bin/true"]; return j }())] {
                start = Date()
                let cpu = Self.ownCPUSeconds()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<parallel {
                        group.addTask { for _ in stride(from: lane, to: submissions, by: parallel) { _ = try await app.sandbox.run(candidate) } }
                    }
                    try await group.waitForAll()
                }
                say(String(format: "phase: sandbox runs alone \(label), %d at a time: %.2f s (platform CPU %.2f ms each)", parallel,
                           Date().timeIntervalSince(start), (Self.ownCPUSeconds() - cpu) * 1000 / Double(submissions)))
            }
            await workers.stop()
            start = Date()
            var cpu = Self.ownCPUSeconds()
            for index in 0..<submissions { try await handIn(index + 4) }
            say(String(format: "phase: %d hand-ins accepted (no workers): %.2f s (platform CPU %.2f ms each)", submissions, Date().timeIntervalSince(start),
                       (Self.ownCPUSeconds() - cpu) * 1000 / Double(submissions)))
            start = Date()
            cpu = Self.ownCPUSeconds()
            let again = JobWorkers(count: workerCount, lease: 60, poll: .milliseconds(20))
            again.start(app)
            _ = try await waitForAll(submissions + 4)
            say(String(format: "phase: graded by %d workers: %.2f s (platform CPU %.2f ms each)", parallel, Date().timeIntervalSince(start),
                       (Self.ownCPUSeconds() - cpu) * 1000 / Double(submissions)))
            await again.stop()
            return PlatformRun(seconds: 0, cpu: 0, idle: 0, graded: 0)
        }
        var handIns: (seconds: Double, cpu: Double)?
        var grading = workers
        if queueFirst {
            await workers.stop()
            let start = Date(), cpu = Self.ownCPUSeconds()
            for index in 0..<submissions { try await handIn(index + 4) }
            handIns = (Date().timeIntervalSince(start), Self.ownCPUSeconds() - cpu)
        }
        let start = Date(), cpuBefore = Self.ownCPUSeconds(), ticks = Self.machineTicks()
        if queueFirst {
            grading = JobWorkers(count: workerCount, lease: 60, poll: .milliseconds(20))
            grading.start(app)
        } else {
            for index in 0..<submissions { try await handIn(index + 4) }
        }
        _ = try await waitForAll(submissions + 4)
        let elapsed = Date().timeIntervalSince(start), idle = Self.idleShare(since: ticks)
        // The platform's own threads (hand-ins, queue, workers, the sandbox's host side; not the sandboxed programs).
        let cpu = Self.ownCPUSeconds() - cpuBefore
        await grading.stop()
        let all = try await Submission.query(on: app.db).filter(\.$assignment.$id == assignment.requireID()).all()
        for miss in all where miss.score != 10 {
            FileHandle.standardError.write(Data("not full marks: attempt \(miss.attempt) score \(miss.score ?? -1): \(miss.problem ?? "")\n\(miss.log ?? "")\n".utf8))
        }
        return PlatformRun(seconds: elapsed, cpu: cpu, idle: idle, graded: all.filter { $0.score == 10 }.count - 4, handIns: handIns)
    }
}
