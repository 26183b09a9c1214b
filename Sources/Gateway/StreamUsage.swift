// Reads an OpenAI-style server-sent event stream as it passes through, without changing it: the usage the upstream
// reports in its last chunk (asked for with stream_options.include_usage), how many tokens were generated on the
// way (what is charged when a stream ends without usage: one token per generated fragment — text, reasoning, a
// refusal, tool-call names and arguments — in every choice, as OpenAI streams them), and whether [DONE] arrived.
import Foundation

public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    /// `usage` of a JSON object (a reply or a chunk), when it has one.
    public static func from(_ object: [String: Any]) -> Usage? {
        guard let usage = object["usage"] as? [String: Any], let prompt = (usage["prompt_tokens"] as? NSNumber)?.intValue else { return nil }
        return Usage(promptTokens: max(0, prompt), completionTokens: max(0, (usage["completion_tokens"] as? NSNumber)?.intValue ?? 0))
    }

    /// `usage` of a reply's JSON, when it has one (read without building the reply's tree).
    public static func from(json data: Data) -> Usage? {
        guard let json = try? RawJSON(data), let usage = json.member(json.root, "usage"),
              let prompt = json.member(usage, "prompt_tokens").flatMap(json.number) else { return nil }
        let completion = json.member(usage, "completion_tokens").flatMap(json.number) ?? 0
        func count(_ number: Double) -> Int { Int(min(max(number, 0), 1e15)) }
        return Usage(promptTokens: count(prompt), completionTokens: count(completion))
    }
}

public struct StreamUsageScanner: Sendable {
    public private(set) var usage: Usage?
    /// Generated fragments seen so far, over every choice and kind (text, reasoning, refusal, tool calls).
    public private(set) var generatedTokens = 0
    public private(set) var done = false
    private var pending: [UInt8] = []
    /// Lines longer than this are skipped, not buffered without end.
    static let maxLine = 1 << 20

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                line(pending)
                pending.removeAll(keepingCapacity: true)
            } else if pending.count < Self.maxLine {
                pending.append(byte)
            }
        }
    }

    private mutating func line(_ raw: [UInt8]) {
        var bytes = raw[...]
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        guard bytes.starts(with: Array("data:".utf8)) else { return }
        bytes = bytes.dropFirst(5)
        while bytes.first == UInt8(ascii: " ") { bytes = bytes.dropFirst() }
        if bytes.elementsEqual(Array("[DONE]".utf8)) {
            done = true
            return
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return }
        if let found = Usage.from(object) { usage = found }
        for choice in object["choices"] as? [[String: Any]] ?? [] {
            guard let delta = choice["delta"] as? [String: Any] else { continue }
            for field in ["content", "reasoning_content", "reasoning", "refusal"] where (delta[field] as? String)?.isEmpty == false {
                generatedTokens += 1
            }
            var calls = delta["tool_calls"] as? [[String: Any]] ?? []
            if let legacy = delta["function_call"] as? [String: Any] { calls.append(["function": legacy]) }
            for call in calls {
                let function = call["function"] as? [String: Any] ?? [:]
                for field in ["name", "arguments"] where (function[field] as? String)?.isEmpty == false { generatedTokens += 1 }
            }
        }
    }
}
