// One grading run: the submission's files and the assignment's autograder become a sandbox job (Gradescope's
// /autograder layout on the autograder's environment layer, or the Classroom runner), and the sandbox's result
// becomes a score, results.json (Gradescope's form, for both kinds), a staff log, and the measured usage.
import Fluent
import Foundation
import Grading
import Ledger
import Sandbox
import Vapor

struct GradingOutcome: Sendable {
    var score: Double
    var maxScore: Double?
    /// results.json text (nil when the run produced none: then `problem` says why).
    var results: String?
    var problem: String?
    var log: String
    var cpuMs: Int
    var wallMs: Int
    /// The tests of `results`, as read (recorded as the submission's test rows without reading the text again).
    var tests: [GradescopeResults.Test] = []
}

struct Grader: Sendable {
    let app: Application
    static let logCharacters = 64 * 1024

    /// What the autograder's set-up runs under: time to install packages, with network.
    static let setupLimits = SandboxLimits(wallSeconds: 1200, cpuSeconds: 1200, memoryMB: 2048, pids: 512, outputKB: 2048,
                                           fileSizeMB: 1024, diskMB: 1024, openFiles: 1024)

    func limits(_ assignment: GradingAssignment, seconds: Int) -> SandboxLimits {
        SandboxLimits(wallSeconds: Double(seconds), cpuSeconds: seconds, memoryMB: assignment.memoryMB, pids: 128, outputKB: 1024,
                      fileSizeMB: 64, diskMB: 512, openFiles: 512)
    }

    /// Runs the hand-in's `files` (`metadata` is Gradescope's submission_metadata.json for it); throws only when the
    /// machine could not run it (the job is then retried).
    func grade(_ assignment: GradingAssignment, files: [String: Data], metadata: SubmissionMetadata) async throws -> GradingOutcome {
        switch assignment.kind {
        case .gradescope:
            let source: [String: Data], layer: SandboxLayer
            do {
                switch try await app.environmentLayers.ensure(assignment) {
                case .ready(let built, _): layer = built
                case .failed(let log):
                    return GradingOutcome(score: 0, problem: "The autograder's setup.sh failed on this machine, so nothing was graded; the course staff can see its log.",
                                          log: log)
                }
                // After the set-up: the source folder as setup.sh left it.
                source = try await app.environmentLayers.source(of: assignment)
            } catch let problem as ResultsProblem {
                return GradingOutcome(score: 0, problem: "The autograder zip could not be read (\(problem.message)); the course staff must upload it again.")
            }
            let job = Self.gradescopeJob(source: source, submission: files, metadata: metadata.json(), layer: layer,
                                         limits: limits(assignment, seconds: assignment.timeLimitSeconds))
            let result = try await run(job)
            let outputs = Dictionary(result.outputFiles.map { ($0.path, $0.contents) }, uniquingKeysWith: { first, _ in first })
            let log = SandboxReport.log(result, characters: Self.logCharacters)
            switch GradescopeRun.results(outputs: outputs, finished: SandboxReport.finished(result, seconds: assignment.timeLimitSeconds, memory: assignment.memoryMB)) {
            case .success(let results):
                return GradingOutcome(score: results.total, maxScore: results.maximum ?? assignment.pointsPossible,
                                      results: String(decoding: results.json(), as: UTF8.self), log: log, cpuMs: result.cpuMs, wallMs: result.wallMs,
                                      tests: results.tests)
            case .failure(let problem):
                return GradingOutcome(score: 0, maxScore: assignment.pointsPossible, problem: problem.message, log: log,
                                      cpuMs: result.cpuMs, wallMs: result.wallMs)
            }
        case .classroom:
            let tests: [ClassroomTest]
            do { tests = try Assignments.classroomTests(assignment.classroomTests) } catch {
                return GradingOutcome(score: 0, problem: "The assignment's Classroom tests cannot be read (\(error)); the course staff must fix them.")
            }
            // Each test in a sandbox of its own on a fresh copy of the hand-in (see ClassroomRun).
            var runs: [ClassroomRun.TestRun?] = [], logs: [String] = [], cpuMs = 0, wallMs = 0
            var problem: String?
            for index in tests.indices {
                let seconds = ClassroomRun.jobSeconds(index, tests: tests, limit: assignment.timeLimitSeconds)
                let job = SandboxJob(command: ClassroomRun.command(for: index, tests: tests, limit: assignment.timeLimitSeconds), files: files,
                                     workPath: ClassroomRun.workPath, environment: ["HOME": ClassroomRun.workPath],
                                     limits: limits(assignment, seconds: seconds), network: false, stdin: Data(tests[index].input.utf8))
                let result = try await run(job)
                cpuMs += result.cpuMs
                wallMs += result.wallMs
                logs.append("--- test \(index + 1): \(tests[index].name) ---\n" + SandboxReport.log(result, characters: Self.logCharacters / max(1, tests.count)))
                let stopped = result.status == .ok ? nil : SandboxReport.finished(result, seconds: seconds, memory: assignment.memoryMB)
                runs.append(ClassroomRun.TestRun(exitCode: result.status == .ok ? result.exitCode.map(Int.init) : nil, stdout: result.stdout, stderr: result.stderr,
                                                 stopped: stopped))
                if let stopped, problem == nil { problem = "Test \(index + 1) was stopped: its run \(stopped)." }
            }
            let results = ClassroomRun.results(tests: tests, runs: runs)
            return GradingOutcome(score: results.total, maxScore: results.maximum, results: String(decoding: results.json(), as: UTF8.self),
                                  problem: problem, log: logs.joined(separator: "\n"), cpuMs: cpuMs, wallMs: wallMs, tests: results.tests)
        }
    }

    /// A Gradescope run: /autograder laid out by the contract, on the autograder's environment layer, no network.
    static func gradescopeJob(source: [String: Data], submission: [String: Data], metadata: Data, layer: SandboxLayer, limits: SandboxLimits) -> SandboxJob {
        var job = SandboxJob(command: GradescopeRun.command(runAutograder: source["run_autograder"]),
                             files: GradescopeRun.files(source: source, submission: submission, metadata: metadata),
                             workPath: GradescopeRun.root, outputDirectory: GradescopeRun.resultsFolder, environment: ["HOME": GradescopeRun.root],
                             limits: limits, network: false, layer: layer)
        job.executables = GradescopeRun.executables(source: source)
        return job
    }

    private func run(_ job: SandboxJob) async throws -> SandboxResult {
        let result = try await app.sandbox.run(job)
        if result.status == .sandboxError { throw SandboxError.hostFailure(String(result.stderr.prefix(500))) }
        return result
    }
}

extension GradingOutcome {
    init(score: Double, maxScore: Double? = nil, problem: String, log: String = "") {
        self.init(score: score, maxScore: maxScore, results: nil, problem: problem, log: log, cpuMs: 0, wallMs: 0)
    }
}

/// Autograder environments on this machine: built once per autograder version (setup.sh with network) and
/// reused by every run; a worker on another machine builds its own copy from the stored zip the first time. What
/// setup.sh leaves in /autograder/source (compiled tests, downloaded data) is kept with the layer, as Gradescope's
/// image keeps it, and every run gets it.
actor EnvironmentLayers {
    enum Outcome: Sendable {
        case ready(SandboxLayer, log: String)
        /// setup.sh failed: its log says why.
        case failed(log: String)
    }

    private var building: [String: Task<Outcome, any Error>] = [:]
    private let app: Application
    /// Where the source folders setup.sh left are kept, one folder per layer.
    private let keptSources: String
    /// The autograder source of the versions graded lately (a run need not read it again).
    private var sources: [String: [String: Data]] = [:]
    private var sourceOrder: [String] = []
    static let cachedSources = 16

    init(app: Application, dataDirectory: String) {
        self.app = app
        keptSources = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path + "/autograder-sources"
    }

    /// The autograder's files as runs get them: the zip's, with what setup.sh wrote into /autograder/source on
    /// this machine when it has run here.
    func source(of assignment: GradingAssignment) async throws -> [String: Data] {
        let id = assignment.layerID
        if let cached = sources[id] { return cached }
        var files = try await Assignments.autograderFiles(assignment, on: app.db)
        if let kept = Self.readFolder(keptSources + "/" + id) { files = kept }
        remember(files, for: id)
        return files
    }

    private func remember(_ files: [String: Data], for id: String) {
        if sources[id] == nil { sourceOrder.append(id) }
        sources[id] = files
        if sourceOrder.count > Self.cachedSources { sources[sourceOrder.removeFirst()] = nil }
    }

    /// The layer for the assignment's autograder version, built now (setup.sh on the zip's files) if this machine
    /// has none. Throws `ResultsProblem` when the zip cannot be read.
    func ensure(_ assignment: GradingAssignment) async throws -> Outcome {
        let id = assignment.layerID
        if let layer = app.sandbox.sandbox.layer(id: id) { return .ready(layer, log: "Already set up on this machine.") }
        if let running = building[id] { return try await running.value }
        let source = try await Assignments.autograderFiles(assignment, on: app.db)
        let sandbox = app.sandbox.sandbox, kept = keptSources
        let task = Task { () throws -> Outcome in
            var files: [String: Data] = [:]
            for (path, data) in source { files["source/" + path] = data }
            let setup = SandboxJob(command: GradescopeRun.setupCommand, files: files, workPath: GradescopeRun.root, outputDirectory: "source",
                                   environment: ["HOME": "/autograder", "DEBIAN_FRONTEND": "noninteractive", "PIP_BREAK_SYSTEM_PACKAGES": "1",
                                                 "PIP_ROOT_USER_ACTION": "ignore", "PIP_NO_CACHE_DIR": "1"],
                                   limits: Grader.setupLimits, network: true)
            let (layer, result) = try await sandbox.buildLayer(id: id, setup: setup, diskMB: assignment.setupDiskMB)
            guard let layer else { return .failed(log: SandboxReport.log(result, characters: Grader.logCharacters)) }
            var log = SandboxReport.log(result, characters: Grader.logCharacters)
            // The source folder as setup.sh left it, unless something in it could not be kept (then the zip's).
            if result.skippedOutputs.isEmpty {
                Self.writeFolder(kept + "/" + id, Dictionary(result.outputFiles.map { ($0.path, $0.contents) }, uniquingKeysWith: { a, _ in a }))
            } else {
                log += "--- /autograder/source ---\nWhat setup.sh wrote there is not kept (runs get the zip's files): \(result.skippedOutputs.prefix(5).joined(separator: "; "))\n"
            }
            return .ready(layer, log: log)
        }
        building[id] = task
        defer { building[id] = nil }
        let outcome = try await task.value
        sources[id] = nil
        sourceOrder.removeAll { $0 == id }
        return outcome
    }

    /// Every regular file under `path`, by relative path; nil when there is no such folder.
    static func readFolder(_ path: String) -> [String: Data]? {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return nil }
        var files: [String: Data] = [:]
        for case let relative as String in walker {
            var isFolder: ObjCBool = false
            let full = path + "/" + relative
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isFolder), !isFolder.boolValue,
                  (try? FileManager.default.destinationOfSymbolicLink(atPath: full)) == nil, let data = FileManager.default.contents(atPath: full) else { continue }
            files[relative] = data
        }
        return files
    }

    /// Writes `files` to a new folder at `path` (replacing it whole: written aside, then renamed).
    static func writeFolder(_ path: String, _ files: [String: Data]) {
        let fm = FileManager.default, aside = path + ".new-" + UUID().uuidString.lowercased()
        do {
            for (relative, data) in files {
                let target = URL(fileURLWithPath: aside + "/" + relative)
                try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: target)
            }
            try fm.createDirectory(atPath: aside, withIntermediateDirectories: true)
            try? fm.removeItem(atPath: path)
            try fm.moveItem(atPath: aside, toPath: path)
        } catch {
            try? fm.removeItem(atPath: aside)
        }
    }
}

extension Application {
    private struct LayersKey: StorageKey { typealias Value = EnvironmentLayers }
    /// Set once in `configure`.
    var environmentLayers: EnvironmentLayers {
        get { storage[LayersKey.self]! }
        set { storage[LayersKey.self] = newValue }
    }
}
