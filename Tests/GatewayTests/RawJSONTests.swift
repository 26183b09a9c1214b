// The gateway's JSON reader: strict about what is JSON, exact about what it reads, and what it writes upstream is
// JSON that says what the client sent with the gateway's changes, checked against Foundation's JSONSerialization.
import Foundation
import Testing
@testable import Gateway

@Suite struct RawJSONTests {
    @Test func whatIsNotJSONIsRefused() {
        let refused = ["", "   ", "{", "}", #"{"a":1,}"#, "[1,]", "[,1]", "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "NaN", "Infinity",
                       "tru", "nul", "True", "1 2", #"{"a":1}}"#, #"{"a" 1}"#, "{a:1}", #"{"a":}"#, #"{"a":1 "b":2}"#, "'a'",
                       "\"\u{01}\"", #""\q""#, #""\u12""#, #""\u12G4""#, "\"abc", "[1]x", "\"a\"\"b\""]
        for text in refused {
            #expect(throws: RawJSON.Invalid.self, "\(text.debugDescription)") { try RawJSON(Array(text.utf8)) }
        }
        // Not UTF-8 inside a string, and nesting past the limit (a stack-exhausting body) are refused too.
        #expect(throws: RawJSON.Invalid.self) { try RawJSON([0x22, 0xFF, 0xFE, 0x22]) }
        let deep = String(repeating: "[", count: RawJSON.maxDepth + 1) + String(repeating: "]", count: RawJSON.maxDepth + 1)
        #expect(throws: RawJSON.Invalid.self) { try RawJSON(Array(deep.utf8)) }
        let deepest = String(repeating: "[", count: RawJSON.maxDepth) + String(repeating: "]", count: RawJSON.maxDepth)
        #expect(throws: Never.self) { try RawJSON(Array(deepest.utf8)) }
        // A request body that is not JSON is refused as one, with the same sentence as before.
        #expect(throws: GatewayError.self) { try GatewayRequest(endpoint: .chat, json: Data(#"{"model": "m", "messages": [1,]}"#.utf8)) }
    }

    /// Random JSON values: every kind, strings with escapes, controls, quotes, non-Latin text and emoji.
    static func randomValue(_ depth: Int, _ random: inout some RandomNumberGenerator) -> Any {
        let strings = ["", "plain", "quote \" and \\ backslash", "tab\tnew\nline\r", "\u{01}\u{1F}", "é ü 中文", "😀 emoji", "/slash/", "\u{2028}"]
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &random) {
        case 0: return strings.randomElement(using: &random)!
        case 1: return [0, -1, 42, 1_000_000_007, 0.5, -2.25e-7, 1e21].randomElement(using: &random)!
        case 2: return Bool.random(using: &random)
        case 3: return NSNull()
        case 4: return (0..<Int.random(in: 0..<4, using: &random)).map { _ in randomValue(depth + 1, &random) }
        default:
            var object: [String: Any] = [:]
            for index in 0..<Int.random(in: 0..<4, using: &random) { object[strings.randomElement(using: &random)! + "\(index)"] = randomValue(depth + 1, &random) }
            return object
        }
    }

    /// Whether what RawJSON reads of `value` is `expected` (numbers as doubles).
    static func same(_ json: RawJSON, _ value: RawJSON.Value, _ expected: Any) -> Bool {
        switch expected {
        case let text as String: return json.string(value) == text
        case is NSNull: return value.kind == .null
        case let list as [Any]:
            let elements = json.elements(value)
            return value.kind == .array && elements.count == list.count && zip(elements, list).allSatisfy { same(json, $0, $1) }
        case let object as [String: Any]:
            let members = json.members(value)
            return value.kind == .object && members.count == object.count
                && members.allSatisfy { member in object[member.name].map { same(json, member.value, $0) } ?? false }
        case let number as NSNumber:
            if value.kind == .bool { return json.bool(value) == number.boolValue }
            return json.number(value) == number.doubleValue
        default: return false
        }
    }

    @Test func whatJSONSerializationWritesIsReadTheSame() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let value = ["v": Self.randomValue(0, &random)]
            let data = try JSONSerialization.data(withJSONObject: value, options: Bool.random() ? [.prettyPrinted] : [])
            let json = try RawJSON(data)
            #expect(Self.same(json, json.root, value), "\(String(decoding: data, as: UTF8.self))")
        }
        // Escapes: \u with surrogate pairs, a lone surrogate, and every short escape.
        let escaped = try RawJSON(Array(#"["\uD83D\uDE00 \u00e9", "\uD800x", "\"\\\/\b\f\n\r\t"]"#.utf8))
        #expect(escaped.elements(escaped.root).map { escaped.string($0) } == ["😀 é", "\u{FFFD}x", "\"\\/\u{08}\u{0C}\n\r\t"])
    }

    @Test func quotedTextIsJSONThatReadsBackAsTheText() throws {
        for text in ["", "a \"quoted\" \\ word", "lines\nand\ttabs\r", "\u{00}\u{07}\u{1F}", "é 中文 😀", "</script>"] {
            let data = Data(Array("[".utf8) + RawJSON.quoted(text) + Array("]".utf8))
            #expect((try JSONSerialization.jsonObject(with: data) as? [String])?.first == text, "\(text.debugDescription)")
        }
    }

    @Test func theUpstreamBodyIsTheClientsWithTheGatewaysChangesOnly() throws {
        // Pretty-printed, with a field given twice (the last counts), escapes in the messages and stream options of its own.
        let client = """
            {
              "model" : "tutor",
              "temperature" : 0.3,
              "messages" : [ { "role" : "user", "content" : "caf\\u00e9 \\"quoted\\"\\nnext" } ],
              "stream" : true,
              "stream_options" : { "include_usage" : false, "continuous_usage_stats" : true },
              "temperature" : 0.7,
              "store" : true
            }
            """
        let request = try GatewayRequest(endpoint: .chat, json: Data(client.utf8))
        let system = "Be kind.\nSay \"please\" — always."
        let sent = try #require(try JSONSerialization.jsonObject(with: request.upstreamBody(model: "partner/large", maxTokens: 64, systemPrompt: system)) as? [String: Any])
        #expect(Set(sent.keys) == ["model", "temperature", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"])
        #expect(sent["model"] as? String == "partner/large" && sent["temperature"] as? Double == 0.7 && sent["stream"] as? Bool == true)
        #expect(sent["max_tokens"] as? Int == 64 && sent["max_completion_tokens"] as? Int == 64)
        let options = try #require(sent["stream_options"] as? [String: Any])
        #expect(options["include_usage"] as? Bool == true && options["continuous_usage_stats"] as? Bool == true)
        let messages = try #require(sent["messages"] as? [[String: String]])
        #expect(messages == [["role": "system", "content": system], ["role": "user", "content": "café \"quoted\"\nnext"]])
        // The logged prompt is the messages as sent.
        #expect(request.promptText.contains(#""content" : "caf\u00e9"#))
        // Without a system prompt the messages go as sent, byte for byte.
        let plain = String(decoding: request.upstreamBody(model: "m", maxTokens: 5, systemPrompt: nil), as: UTF8.self)
        #expect(plain.contains(#""messages":[ { "role" : "user", "content" : "caf\u00e9 \"quoted\"\nnext" } ]"#), "\(plain)")
    }

    @Test func theReplysUsageIsReadWhereverItIs() {
        #expect(Usage.from(json: Data(#"{"id": "x", "choices": [{"message": {"content": "usage"}}], "usage": {"completion_tokens": 7, "prompt_tokens": 12}}"#.utf8))
                == Usage(promptTokens: 12, completionTokens: 7))
        #expect(Usage.from(json: Data(#"{"usage": {"prompt_tokens": 3}}"#.utf8)) == Usage(promptTokens: 3, completionTokens: 0))
        #expect(Usage.from(json: Data(#"{"usage": {"prompt_tokens": -3, "completion_tokens": 1e300}}"#.utf8)) == Usage(promptTokens: 0, completionTokens: 1_000_000_000_000_000))
        #expect(Usage.from(json: Data(#"{"choices": []}"#.utf8)) == nil)
        #expect(Usage.from(json: Data(#"{"usage": {"prompt_tokens": "12"}}"#.utf8)) == nil)
        #expect(Usage.from(json: Data("not json".utf8)) == nil)
    }
}
