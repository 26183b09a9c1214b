// The gateway's pure rules: reading OpenAI requests (and refusing what would steer the upstream), the body sent
// upstream, token estimates, stream usage scanning, policy checks and the per-minute window.
import Foundation
import Testing
@testable import Gateway

@Suite struct GatewayRulesTests {
    func request(_ json: String, _ endpoint: Endpoint = .chat) throws(GatewayError) -> GatewayRequest {
        try GatewayRequest(endpoint: endpoint, json: Data(json.utf8))
    }

    @Test func requestsAreReadAndBadOnesRefusedWithTheField() throws {
        let ok = try request(#"{"model": "m", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 40, "stream": true}"#)
        #expect(ok.model == "m" && ok.stream && ok.maxTokens == 40 && ok.messageCount == 1)
        #expect(ok.estimatedPromptTokens >= 11 / 2)
        let both = try request(#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 40, "max_completion_tokens": 10}"#)
        #expect(both.maxTokens == 10)
        let cases: [(String, String?)] = [
            ("[1]", nil), ("not json", nil),
            (#"{"messages": [{"role": "user", "content": "x"}]}"#, "model"),
            (#"{"model": "m", "messages": []}"#, "messages"),
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#, "stream"),
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": 1}"#, "stream"),
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -5}"#, "max_tokens"),
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": true}"#, "max_tokens"),
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "api_base": "http://169.254.169.254"}"#, "api_base"),
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "base_url": "http://evil"}"#, "base_url"),
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "api_key": "sk-x"}"#, "api_key"),
        ]
        for (json, param) in cases {
            #expect(throws: GatewayError.self) { try request(json) }
            do { _ = try request(json) } catch { #expect(error.status == 400 && error.param == param, "\(json)") }
        }
        #expect(throws: GatewayError.self) { try request(#"{"model": "e", "input": 5}"#, .embeddings) }
        #expect(try request(#"{"model": "e", "input": ["a", "b"]}"#, .embeddings).model == "e")
    }

    @Test func theHoldIsEstimatedFromTheWholeBodyAndOnlyKnownFieldsGoUpstream() throws {
        let plain = try request(#"{"model": "m", "messages": [{"role": "user", "content": "q"}]}"#)
        // Tools and schemas are read by the model: they count towards the prompt.
        let schema = String(repeating: "x", count: 4000)
        let tooled = try request(#"{"model": "m", "messages": [{"role": "user", "content": "q"}], "tools": [{"type": "function", "function": {"name": "f", "description": "\#(schema)"}}], "response_format": {"type": "json_schema", "json_schema": {"name": "s", "description": "\#(schema)"}}}"#)
        #expect(tooled.estimatedPromptTokens >= plain.estimatedPromptTokens + 4000)
        // Images by their documented token cost, whatever their data's size.
        let image = try request(#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "what"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,\#(String(repeating: "A", count: 100_000))"}}, {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]}]}"#)
        #expect(image.imageTokens == 1445 + 85 && image.estimatedPromptTokens < 2000)
        // n: each answer may generate up to the cap; nonsense refused.
        #expect(try request(#"{"model": "m", "messages": [{"role": "user", "content": "q"}], "n": 3}"#).choices == 3)
        #expect(throws: GatewayError.self) { try request(#"{"model": "m", "messages": [{"role": "user", "content": "q"}], "n": 0}"#) }
        // Unknown fields are dropped; the cap goes out under both names.
        let extra = try request(#"{"model": "m", "messages": [{"role": "user", "content": "q"}], "max_completion_tokens": 9000, "store": true, "prediction": {"content": "x"}, "temperature": 1}"#)
        let sent = try #require(try JSONSerialization.jsonObject(with: extra.upstreamBody(model: "up", maxTokens: 100, systemPrompt: nil)) as? [String: Any])
        #expect(sent["store"] == nil && sent["prediction"] == nil && sent["temperature"] as? Int == 1)
        #expect(sent["max_tokens"] as? Int == 100 && sent["max_completion_tokens"] as? Int == 100)
    }

    @Test func theUpstreamBodyCarriesTheRulesAndEverythingElseUnchanged() throws {
        let original = try request(#"{"model": "tutor", "messages": [{"role": "user", "content": "q"}], "temperature": 0.2, "stream": true, "stream_options": {"include_usage": false}}"#)
        let sent = try #require(try JSONSerialization.jsonObject(with: original.upstreamBody(model: "partner-large", maxTokens: 64, systemPrompt: "Be kind.")) as? [String: Any])
        #expect(sent["model"] as? String == "partner-large")
        #expect(sent["max_tokens"] as? Int == 64)
        #expect(sent["temperature"] as? Double == 0.2)
        #expect((sent["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        let messages = try #require(sent["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user"])
        #expect(messages[0]["content"] as? String == "Be kind.")
    }

    @Test func streamUsageIsReadAcrossChunkBoundaries() {
        let stream = """
            data: {"choices":[{"delta":{"role":"assistant","content":""}}]}

            data: {"choices":[{"delta":{"content":"Hel"}}]}

            data: {"choices":[{"delta":{"content":"lo"}}]}

            data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2}}

            data: [DONE]

            """
        var scanner = StreamUsageScanner()
        let bytes = Array(stream.utf8)
        for start in stride(from: 0, to: bytes.count, by: 7) { scanner.feed(bytes[start..<min(start + 7, bytes.count)]) }
        #expect(scanner.usage == Usage(promptTokens: 12, completionTokens: 2))
        #expect(scanner.generatedTokens == 2)
        #expect(scanner.done)
        var cut = StreamUsageScanner()
        cut.feed(Array("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choi".utf8))
        #expect(cut.usage == nil && cut.generatedTokens == 1 && !cut.done)
        // A stream cut off before its usage line: tool calls, reasoning and every choice count, not only text.
        var tools = StreamUsageScanner()
        tools.feed(Array("""
            data: {"choices":[{"index":0,"delta":{"reasoning_content":"think"}},{"index":1,"delta":{"content":"b"}}]}

            data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"run","arguments":""}}]}}]}

            data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"x\\":1}"}}]}}]}

            """.utf8))
        #expect(tools.usage == nil && tools.generatedTokens == 4)
    }

    @Test func policiesCheckThemselvesAndDecide() {
        var policy = GatewayPolicy()
        #expect(policy.problems().isEmpty)
        #expect(policy.allows(model: "anything"))
        policy.allowedModels = ["tutor"]
        #expect(policy.allows(model: "tutor") && !policy.allows(model: "gpt-9"))
        policy.maxTokensPerRequest = 100
        #expect(policy.cap(requested: nil) == 100 && policy.cap(requested: 5000) == 100 && policy.cap(requested: 7) == 7)
        let now = Date()
        policy.blackouts = [.init(start: now.addingTimeInterval(-10), end: now.addingTimeInterval(10), message: "Exam")]
        #expect(policy.blackout(at: now)?.message == "Exam")
        #expect(policy.blackout(at: now.addingTimeInterval(11)) == nil)
        policy.blackouts.append(.init(start: now, end: now.addingTimeInterval(-1), message: "backwards"))
        policy.maxTokensPerRequest = 0
        policy.requestsPerMinute = 0
        #expect(policy.problems().count == 3)
    }

    @Test func theWindowAdmitsTheLimitPerMinuteAndPerKey() {
        let window = RateWindow()
        let start = Date()
        #expect(window.admit("a", limit: 2, now: start))
        #expect(window.admit("a", limit: 2, now: start.addingTimeInterval(1)))
        #expect(!window.admit("a", limit: 2, now: start.addingTimeInterval(2)))
        #expect(window.admit("b", limit: 2, now: start.addingTimeInterval(2)))
        #expect(window.retryAfter("a", now: start.addingTimeInterval(2)) == 58)
        #expect(window.admit("a", limit: 2, now: start.addingTimeInterval(60.5)))
    }

    @Test func errorsAreInOpenAIsFormat() throws {
        let error = GatewayError.noCredits("Refused.")
        let object = try #require(try JSONSerialization.jsonObject(with: error.json) as? [String: Any])
        let body = try #require(object["error"] as? [String: Any])
        #expect(body["message"] as? String == "Refused." && body["type"] as? String == "insufficient_quota" && body["code"] as? String == "insufficient_quota")
        #expect(body["param"] is NSNull)
        #expect(error.status == 429)
    }
}
