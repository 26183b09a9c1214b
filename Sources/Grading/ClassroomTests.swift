// GitHub Classroom's autograding.json, as courses bring it: `tests[]` with name, setup, run, input, output,
// comparison (included / exact / regex), timeout in minutes and points. Read, checked, and compared the way
// Classroom did, so tests move over unchanged.
import Foundation

public struct ClassroomTest: Sendable, Equatable, Decodable {
    public enum Comparison: String, Sendable, Decodable, CaseIterable { case included, exact, regex }

    public var name: String
    public var setup: String
    public var run: String
    public var input: String
    public var output: String
    public var comparison: Comparison
    /// Minutes, as the file gives them.
    public var timeout: Int
    public var points: Int

    enum CodingKeys: String, CodingKey { case name, setup, run, input, output, comparison, timeout, points }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        setup = try c.decodeIfPresent(String.self, forKey: .setup) ?? ""
        run = try c.decode(String.self, forKey: .run)
        input = try c.decodeIfPresent(String.self, forKey: .input) ?? ""
        output = try c.decodeIfPresent(String.self, forKey: .output) ?? ""
        comparison = try c.decodeIfPresent(Comparison.self, forKey: .comparison) ?? .included
        timeout = try c.decodeIfPresent(Int.self, forKey: .timeout) ?? 10
        points = try c.decodeIfPresent(Int.self, forKey: .points) ?? 0
    }

    /// Whether `actual` (the run's standard output) passes, as Classroom compares: `included` contains the
    /// expected text, `exact` equals it apart from surrounding whitespace, `regex` finds the pattern anywhere.
    public func passes(_ actual: String) -> Bool {
        switch comparison {
        case .included: return output.isEmpty || actual.contains(output)
        case .exact: return actual.trimmingCharacters(in: .whitespacesAndNewlines) == output.trimmingCharacters(in: .whitespacesAndNewlines)
        case .regex:
            guard let pattern = try? NSRegularExpression(pattern: output, options: [.anchorsMatchLines]) else { return false }
            return pattern.firstMatch(in: actual, range: NSRange(actual.startIndex..., in: actual)) != nil
        }
    }
}

public enum ClassroomSpec {
    public static let maxBytes = 256 * 1024
    public static let maxTests = 200

    /// Reads autograding.json; every problem is named by test number.
    public static func parse(_ data: Data) -> Result<[ClassroomTest], ResultsProblem> {
        guard data.count <= maxBytes else { return .failure(.init("autograding.json is larger than 256 KB")) }
        struct File: Decodable { var tests: [ClassroomTest] }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let error as DecodingError {
            return .failure(.init("autograding.json: " + describe(error)))
        } catch {
            return .failure(.init("autograding.json is not valid JSON"))
        }
        guard !file.tests.isEmpty else { return .failure(.init("autograding.json has no tests")) }
        guard file.tests.count <= maxTests else { return .failure(.init("autograding.json has more than \(maxTests) tests")) }
        var problems: [String] = []
        for (index, test) in file.tests.enumerated() {
            let label = "test \(index + 1) (\(test.name))"
            if test.name.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("test \(index + 1) has no name") }
            if test.run.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("\(label) has no run command") }
            if !(1...60).contains(test.timeout) { problems.append("\(label): timeout must be 1 to 60 minutes") }
            if test.points < 0 { problems.append("\(label): points cannot be negative") }
            if test.comparison == .regex, (try? NSRegularExpression(pattern: test.output)) == nil {
                problems.append("\(label): output is not a valid regular expression")
            }
        }
        return problems.isEmpty ? .success(file.tests) : .failure(.init(problems.joined(separator: "; ")))
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "test \($0 + 1)" } ?? $0.stringValue }.joined(separator: " ")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context).isEmpty ? "the file" : path(context)) is missing '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context)) has the wrong type"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)) is not valid"
        @unknown default: return "could not be read"
        }
    }
}
