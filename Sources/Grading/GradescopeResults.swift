// The results.json an autograder written for Gradescope leaves in /autograder/results: read strictly enough that
// a broken file becomes a clear message on the submission (score 0 with the reason), never a crash, and shown to
// each viewer as the visibility rules allow.
import Foundation

public struct GradescopeResults: Sendable, Equatable {
    public struct Test: Sendable, Equatable {
        public var name: String
        public var number: String?
        public var score: Double?
        public var maxScore: Double?
        public var status: String?
        public var output: String
        public var outputFormat: String?
        public var tags: [String]
        public var visibility: Visibility?
    }

    /// Whether a test passed, for pass rates: its `status` when the autograder gave one ("passed"), else full marks
    /// (score ≥ max_score, max_score > 0), else any score above zero when it has no maximum.
    public static func passed(_ test: Test) -> Bool {
        if let status = test.status?.lowercased() { return status == "passed" }
        if let maximum = test.maxScore, maximum > 0 { return (test.score ?? 0) >= maximum }
        return (test.score ?? 0) > 0
    }

    public struct LeaderboardEntry: Sendable, Equatable {
        public var name: String
        public var value: String
        public var order: String?
    }

    /// The file's own total, when it gives one (it overrides the tests' sum).
    public var score: Double?
    public var executionTime: Double?
    public var output: String
    public var outputFormat: String?
    public var visibility: Visibility
    public var stdoutVisibility: Visibility
    public var tests: [Test]
    public var leaderboard: [LeaderboardEntry]
    /// `extra_data`, kept as the JSON text it was.
    public var extraData: String?

    /// What the submission scored: the file's `score`, or else the sum of its tests' scores.
    public var total: Double { score ?? tests.reduce(0) { $0 + ($1.score ?? 0) } }
    /// What it could have scored: the sum of the tests' `max_score` (nil when no test gives one).
    public var maximum: Double? {
        let maxima = tests.compactMap(\.maxScore)
        return maxima.isEmpty ? nil : maxima.reduce(0, +)
    }

    public static let maxBytes = 1 << 20
    public static let maxTests = 2000
    public static let maxOutputCharacters = 64 * 1024

    /// Parses the file; every way it can be wrong is one sentence.
    public static func parse(_ data: Data) -> Result<GradescopeResults, ResultsProblem> {
        guard !data.isEmpty else { return .failure(.init("results.json is empty")) }
        guard data.count <= maxBytes else { return .failure(.init("results.json is larger than 1 MB")) }
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            return .failure(.init("results.json is not valid JSON"))
        }
        guard let root = object as? [String: Any] else { return .failure(.init("results.json must hold a JSON object")) }
        do {
            let tests = try (root["tests"].map { try array($0, "tests") } ?? []).enumerated().map { index, raw in
                try test(raw, index: index)
            }
            guard tests.count <= maxTests else { throw ResultsProblem("results.json has more than \(maxTests) tests") }
            let score = try number(root["score"], "score")
            guard score != nil || !tests.isEmpty else { throw ResultsProblem("results.json has neither a score nor tests") }
            if score == nil, let missing = tests.firstIndex(where: { $0.score == nil }) {
                throw ResultsProblem("results.json has no overall score and test \(missing + 1) has no score")
            }
            let leaderboard = try (root["leaderboard"].map { try array($0, "leaderboard") } ?? []).enumerated().map { index, raw in
                guard let entry = raw as? [String: Any], let name = entry["name"] as? String, let value = entry["value"] else {
                    throw ResultsProblem("leaderboard entry \(index + 1) needs a name and a value")
                }
                return LeaderboardEntry(name: name, value: "\(value)", order: entry["order"] as? String)
            }
            let extra = try root["extra_data"].map { value -> String in
                guard JSONSerialization.isValidJSONObject(value) || value is NSNull else { throw ResultsProblem("extra_data must be JSON") }
                return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]), as: UTF8.self)
            }
            return .success(GradescopeResults(
                score: score, executionTime: executionTime(root["execution_time"]),
                output: capped(try string(root["output"], "output") ?? ""), outputFormat: try string(root["output_format"], "output_format"),
                visibility: try visibility(root["visibility"], "visibility") ?? .visible,
                stdoutVisibility: try visibility(root["stdout_visibility"], "stdout_visibility") ?? .hidden,
                tests: tests, leaderboard: leaderboard, extraData: extra))
        } catch let problem as ResultsProblem {
            return .failure(problem)
        } catch {
            return .failure(.init("results.json could not be read"))
        }
    }

    private static func test(_ raw: Any, index: Int) throws -> Test {
        let label = "test \(index + 1)"
        guard let object = raw as? [String: Any] else { throw ResultsProblem("\(label) must be a JSON object") }
        let score = try number(object["score"], "\(label) score"), maxScore = try number(object["max_score"], "\(label) max_score")
        let number = object["number"].map { "\($0)" }
        return Test(name: try string(object["name"], "\(label) name") ?? number.map { "Test \($0)" } ?? "Test \(index + 1)",
                    number: number, score: score, maxScore: maxScore, status: try string(object["status"], "\(label) status"),
                    output: capped(try string(object["output"], "\(label) output") ?? ""),
                    outputFormat: try string(object["output_format"], "\(label) output_format"),
                    tags: (object["tags"] as? [Any])?.map { "\($0)" } ?? [],
                    visibility: try visibility(object["visibility"], "\(label) visibility"))
    }

    /// Informational only, and gradescope_utils' JSON runner writes it as text ("0.00"): a number or numeric text.
    private static func executionTime(_ value: Any?) -> Double? {
        if let text = value as? String { return Double(text).flatMap { $0.isFinite ? $0 : nil } }
        return (try? number(value, "execution_time")) ?? nil
    }

    private static func array(_ value: Any, _ label: String) throws -> [Any] {
        guard let array = value as? [Any] else { throw ResultsProblem("\(label) must be a list") }
        return array
    }

    private static func number(_ value: Any?, _ label: String) throws -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        // JSON true/false also arrive as NSNumber, of the class JSONSerialization gives booleans.
        guard let number = value as? NSNumber, ObjectIdentifier(type(of: value)) != booleanClass, number.doubleValue.isFinite else {
            throw ResultsProblem("\(label) must be a number")
        }
        guard abs(number.doubleValue) <= 1_000_000 else { throw ResultsProblem("\(label) is out of range") }
        return number.doubleValue
    }

    /// The class of the values JSONSerialization reads `true` and `false` as (looked up once: comparing it is cheap,
    /// naming a value's type for each number was a large part of reading a results file).
    private static let booleanClass = ObjectIdentifier(type(of: try! JSONSerialization.jsonObject(with: Data("true".utf8), options: [.fragmentsAllowed])))

    private static func string(_ value: Any?, _ label: String) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw ResultsProblem("\(label) must be text") }
        return text
    }

    private static func visibility(_ value: Any?, _ label: String) throws -> Visibility? {
        guard let text = try string(value, label) else { return nil }
        guard let visibility = Visibility(rawValue: text) else {
            throw ResultsProblem("\(label) '\(text)' is not one of hidden, after_due_date, after_published, visible")
        }
        return visibility
    }

    static func capped(_ text: String) -> String {
        text.count <= maxOutputCharacters ? text : String(text.prefix(maxOutputCharacters)) + "\n… (output cut at 64 KB)"
    }
}

/// Why a results file (or a tests file) was not usable.
public struct ResultsProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What one viewer sees of a result.
public struct ResultView: Sendable, Equatable {
    /// Nil while the total is not yet theirs to see (a test they cannot see yet counts in it).
    public var score: Double?
    public var maximum: Double?
    public var tests: [GradescopeResults.Test]
    public var hiddenTests: Int
    public var output: String?
}

extension GradescopeResults {
    public func view(for viewer: Viewer) -> ResultView {
        guard viewer.sees(visibility) else {
            return ResultView(score: nil, maximum: nil, tests: [], hiddenTests: tests.count, output: nil)
        }
        let shown = tests.filter { viewer.sees($0.visibility ?? visibility) }
        let hidden = tests.count - shown.count
        return ResultView(score: hidden == 0 ? total : nil, maximum: hidden == 0 ? maximum : nil, tests: shown, hiddenTests: hidden,
                          output: output.isEmpty ? nil : output)
    }
}

extension GradescopeResults {
    /// The results as results.json text, in Gradescope's keys: what is stored, and what `parse` reads back the same.
    public func json() -> Data {
        let extra = extraData.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(Written(results: self, extra: extra))) ?? Data("{}".utf8)
    }

    /// results.json as it is stored and shown: Gradescope's names, absent fields left out.
    private struct Written: Encodable {
        let results: GradescopeResults
        let extra: JSONValue?

        enum Key: String, CodingKey {
            case output, visibility, stdoutVisibility = "stdout_visibility", tests, leaderboard, score
            case executionTime = "execution_time", outputFormat = "output_format", extraData = "extra_data"
            case name, number, maxScore = "max_score", status, tags, value, order
        }

        func encode(to encoder: any Encoder) throws {
            var root = encoder.container(keyedBy: Key.self)
            try root.encode(results.output, forKey: .output)
            try root.encode(results.visibility.rawValue, forKey: .visibility)
            try root.encode(results.stdoutVisibility.rawValue, forKey: .stdoutVisibility)
            try root.encodeIfPresent(results.score, forKey: .score)
            try root.encodeIfPresent(results.executionTime, forKey: .executionTime)
            try root.encodeIfPresent(results.outputFormat, forKey: .outputFormat)
            try root.encodeIfPresent(extra, forKey: .extraData)
            var tests = root.nestedUnkeyedContainer(forKey: .tests)
            for test in results.tests {
                var object = tests.nestedContainer(keyedBy: Key.self)
                try object.encode(test.name, forKey: .name)
                try object.encode(test.output, forKey: .output)
                try object.encode(test.tags, forKey: .tags)
                try object.encodeIfPresent(test.number, forKey: .number)
                try object.encodeIfPresent(test.score, forKey: .score)
                try object.encodeIfPresent(test.maxScore, forKey: .maxScore)
                try object.encodeIfPresent(test.status, forKey: .status)
                try object.encodeIfPresent(test.outputFormat, forKey: .outputFormat)
                try object.encodeIfPresent(test.visibility?.rawValue, forKey: .visibility)
            }
            var leaderboard = root.nestedUnkeyedContainer(forKey: .leaderboard)
            for entry in results.leaderboard {
                var object = leaderboard.nestedContainer(keyedBy: Key.self)
                try object.encode(entry.name, forKey: .name)
                try object.encode(entry.value, forKey: .value)
                try object.encodeIfPresent(entry.order, forKey: .order)
            }
        }
    }
}

/// Any JSON value, kept as it came (results.json's `extra_data`).
enum JSONValue: Codable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer()
        if value.decodeNil() { self = .null }
        else if let bool = try? value.decode(Bool.self) { self = .bool(bool) }
        else if let number = try? value.decode(Double.self) { self = .number(number) }
        else if let string = try? value.decode(String.self) { self = .string(string) }
        else if let array = try? value.decode([JSONValue].self) { self = .array(array) }
        else { self = .object(try value.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var value = encoder.singleValueContainer()
        switch self {
        case .null: try value.encodeNil()
        case .bool(let bool): try value.encode(bool)
        case .number(let number): try value.encode(number)
        case .string(let string): try value.encode(string)
        case .array(let array): try value.encode(array)
        case .object(let object): try value.encode(object)
        }
    }
}
