// How a Gradescope autograder runs, by its published contract: the zip's files in /autograder/source (setup.sh and
// run_autograder at its root), the student's files in /autograder/submission, submission_metadata.json in
// /autograder, run_autograder copied to /autograder/run_autograder and run from /autograder, and the grade read
// from /autograder/results/results.json. Plain values: the App turns them into a sandbox job.
import Foundation

public enum AutograderKind: String, Codable, Sendable, CaseIterable {
    /// A Gradescope autograder zip (setup.sh + run_autograder).
    case gradescope
    /// GitHub Classroom I/O tests (autograding.json).
    case classroom
}

public enum GradescopeRun {
    /// Where the job's folder appears in the sandbox: the only writable place, as on Gradescope.
    public static let root = "/autograder"
    public static let resultsFolder = "results"
    /// Autograder zips may be larger than a submission (test data, fixtures), within reason.
    public static let bundleLimits = ArchiveLimits(maxArchiveBytes: 50 << 20, maxFiles: 5000, maxTotalBytes: 200 << 20, maxFileBytes: 100 << 20)

    /// Checks an autograder zip's files: setup.sh and run_autograder at the root. A zip of one folder that holds
    /// them (what "compress this folder" makes) is accepted with that folder removed from the paths.
    public static func bundle(_ files: [String: Data]) -> Result<[String: Data], ResultsProblem> {
        var files = files
        let tops = Set(files.keys.map { $0.split(separator: "/").first.map(String.init) ?? $0 })
        if files["run_autograder"] == nil, tops.count == 1, let top = tops.first, files[top + "/run_autograder"] != nil {
            files = Dictionary(uniqueKeysWithValues: files.map { (String($0.key.dropFirst(top.count + 1)), $0.value) })
        }
        var missing: [String] = []
        if files["setup.sh"] == nil { missing.append("setup.sh") }
        if files["run_autograder"] == nil { missing.append("run_autograder") }
        guard missing.isEmpty else {
            return .failure(.init("the autograder zip has no \(missing.joined(separator: " and ")) at its root (Gradescope's format needs both)"))
        }
        return .success(files)
    }

    /// The job folder for a grading run (relative to /autograder).
    public static func files(source: [String: Data], submission: [String: Data], metadata: Data) -> [String: Data] {
        var files: [String: Data] = [:]
        for (path, data) in source { files["source/" + path] = data }
        for (path, data) in submission { files["submission/" + path] = data }
        files["submission_metadata.json"] = metadata
        files["run_autograder"] = source["run_autograder"]
        return files
    }

    /// Zips do not reliably carry the executable bit, so, as on Gradescope, the autograder's files are placed
    /// executable (see `executables`) and run_autograder runs from /autograder: directly when it starts with `#!`,
    /// through /bin/sh otherwise (what a shell does with a script that has no interpreter line).
    public static func command(runAutograder: Data?) -> [String] {
        runAutograder?.starts(with: Data("#!".utf8)) == true ? [root + "/run_autograder"] : ["/bin/sh", root + "/run_autograder"]
    }

    /// The files of `files(source:…)` placed executable: the autograder's own (never the student's).
    public static func executables(source: [String: Data]) -> Set<String> {
        Set(source.keys.map { "source/" + $0 } + ["run_autograder"])
    }

    /// The setup run (once per autograder version, with network), on the layer being built.
    public static let setupCommand = ["/bin/sh", "-c", "cd /autograder/source && chmod -R u+x . && exec bash ./setup.sh"]

    /// The grade from a finished run's output files; a missing or broken results.json is a problem that says why.
    public static func results(outputs: [String: Data], finished: String) -> Result<GradescopeResults, ResultsProblem> {
        guard let data = outputs["results.json"] else {
            return .failure(.init("The autograder \(finished) without writing /autograder/results/results.json, so the score is 0."))
        }
        return GradescopeResults.parse(data).mapError { ResultsProblem("The autograder's \($0.message), so the score is 0.") }
    }
}

/// What Gradescope gives an autograder in /autograder/submission_metadata.json (the fields autograders read).
public struct SubmissionMetadata: Encodable, Sendable {
    public struct Assignment: Encodable, Sendable {
        public var id: String
        public var title: String
        public var dueDate: Date?
        public var releaseDate: Date?
        public var totalPoints: Double?
        public var courseID: String
        enum CodingKeys: String, CodingKey {
            case id, title, dueDate = "due_date", releaseDate = "release_date", totalPoints = "total_points", courseID = "course_id"
        }
        public init(id: String, title: String, dueDate: Date?, releaseDate: Date?, totalPoints: Double?, courseID: String) {
            self.id = id
            self.title = title
            self.dueDate = dueDate
            self.releaseDate = releaseDate
            self.totalPoints = totalPoints
            self.courseID = courseID
        }
    }
    public struct Person: Encodable, Sendable {
        public var id: String
        public var email: String
        public var name: String
        public init(id: String, email: String, name: String) {
            self.id = id
            self.email = email
            self.name = name
        }
    }
    public struct Previous: Encodable, Sendable {
        public var submissionTime: Date
        public var score: Double?
        enum CodingKeys: String, CodingKey { case submissionTime = "submission_time", score }
        public init(submissionTime: Date, score: Double?) {
            self.submissionTime = submissionTime
            self.score = score
        }
    }

    public var id: String
    public var createdAt: Date
    public var assignment: Assignment
    public var users: [Person]
    public var previousSubmissions: [Previous]
    public var submissionMethod = "upload"

    enum CodingKeys: String, CodingKey {
        case id, createdAt = "created_at", assignment, users, previousSubmissions = "previous_submissions", submissionMethod = "submission_method"
    }

    public init(id: String, createdAt: Date, assignment: Assignment, users: [Person], previousSubmissions: [Previous]) {
        self.id = id
        self.createdAt = createdAt
        self.assignment = assignment
        self.users = users
        self.previousSubmissions = previousSubmissions
    }

    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}

/// Files a student must hand in: names or shell-style patterns (`*.py`, `src/*.c`), matched against the paths.
public enum RequiredFiles {
    /// The patterns no submitted path matches (a pattern without "/" also matches a file's name in any folder).
    public static func missing(_ patterns: [String], in paths: [String]) -> [String] {
        patterns.filter { pattern in
            !paths.contains { path in
                matches(pattern, path) || (!pattern.contains("/") && matches(pattern, String(path.split(separator: "/").last ?? "")))
            }
        }
    }

    static func matches(_ pattern: String, _ path: String) -> Bool {
        fnmatch(pattern, path, FNM_PATHNAME) == 0
    }
}
