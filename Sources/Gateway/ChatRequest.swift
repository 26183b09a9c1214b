// What the gateway reads from an OpenAI-style request body, and the body it sends upstream. Only the fields of
// OpenAI's request format that the gateway knows how to cost are forwarded (an allow-list); it changes what its rules
// need: the upstream's model name, the token cap (as both max_tokens and max_completion_tokens), the course's system
// prompt, and (for streams) asking for usage. Fields that would let a client choose the upstream or pass provider
// credentials are refused: the gateway alone decides where a request goes. The prompt's cost is estimated from the
// whole body (messages, tools, response format schemas, images by OpenAI's documented token cost).
import Foundation

public enum Endpoint: String, Sendable, Codable, CaseIterable {
    case chat = "chat/completions"
    case embeddings
}

public struct GatewayRequest: Sendable {
    /// The client's JSON, checked whole.
    let json: RawJSON
    /// The members forwarded upstream, in the client's order, each name once (its last value, as JSON readers take it).
    let forwarded: [(name: String, value: RawJSON.Value)]
    public let endpoint: Endpoint
    public let model: String
    public let stream: Bool
    /// max_completion_tokens or max_tokens, when the client set one.
    public let maxTokens: Int?
    /// UTF-8 bytes of the prompt (messages as sent, with each image as a placeholder; or the embeddings input).
    public let promptBytes: Int
    public let messageCount: Int
    /// Tokens the prompt's images cost, by OpenAI's documented rule (85 at low detail, at most 1445 otherwise).
    public let imageTokens: Int
    /// How many answers (`n`) the request asks for; each may generate up to the cap.
    public let choices: Int

    /// The fields forwarded upstream, per endpoint; any other field is dropped.
    public static let forwardedFields: [Endpoint: Set<String>] = [
        .chat: ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop", "stream", "stream_options",
                "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "response_format", "seed", "tools",
                "tool_choice", "parallel_tool_calls", "functions", "function_call", "user", "reasoning_effort"],
        .embeddings: ["model", "input", "encoding_format", "dimensions", "user"],
    ]
    /// The fields whose size counts towards the prompt, beside the messages (the model reads them all).
    static let promptFields = ["tools", "functions", "response_format", "tool_choice", "function_call"]
    static let lowDetailImageTokens = 85
    /// An image at high (or auto) detail: scaled into 2048 × 2048, its short side to 768, at most 2 × 4 tiles of 170, plus 85.
    static let highDetailImageTokens = 85 + 170 * 8

    /// Fields that name an upstream or carry credentials in other gateways' dialects.
    public static let refusedFields: Set<String> = ["api_base", "base_url", "api_key", "api_version", "api_type", "custom_llm_provider",
                                                    "organization", "extra_headers", "headers", "aws_access_key_id", "aws_secret_access_key",
                                                    "vertex_credentials", "azure_ad_token", "litellm_params", "user_config"]
    public static let maxBodyBytes = 4 << 20

    public init(endpoint: Endpoint, json data: Data) throws(GatewayError) {
        guard data.count <= Self.maxBodyBytes else { throw .invalid("The request body is over 4 MB.", param: nil) }
        let json: RawJSON
        do { json = try RawJSON(data) } catch { throw .invalid("The body must be a JSON object (OpenAI's request format).", param: nil) }
        guard json.root.kind == .object else { throw .invalid("The body must be a JSON object (OpenAI's request format).", param: nil) }
        var object: [String: RawJSON.Value] = [:], order: [String] = []
        for (name, value) in json.members(json.root) where object.updateValue(value, forKey: name) == nil { order.append(name) }
        if let field = order.sorted().first(where: { Self.refusedFields.contains($0) }) {
            throw .invalid("'\(field)' is not accepted: this gateway chooses the upstream and holds its credentials.", param: field)
        }
        guard let modelValue = object["model"], let model = json.string(modelValue), !model.isEmpty, model.count <= 200 else {
            throw .invalid("'model' is required: one of the models GET /v1/models lists.", param: "model")
        }
        let allowed = Self.forwardedFields[endpoint]!
        self.json = json
        self.forwarded = order.filter { allowed.contains($0) }.map { ($0, object[$0]!) }
        self.endpoint = endpoint
        self.model = model
        if let value = object["stream"], value.kind != .null {
            guard let flag = json.bool(value) else { throw .invalid("'stream' must be true or false.", param: "stream") }
            stream = flag
        } else {
            stream = false
        }
        /// A whole number (10 and 10.0 alike) or nil for null and absent; anything else refused.
        func wholeNumber(_ key: String, in range: ClosedRange<Int>, _ message: String) throws(GatewayError) -> Int? {
            guard let value = object[key], value.kind != .null else { return nil }
            guard let number = json.number(value), let int = Int(exactly: number), range.contains(int) else { throw .invalid(message, param: key) }
            return int
        }
        var cap: Int?
        for key in ["max_completion_tokens", "max_tokens"] {
            if let int = try wholeNumber(key, in: 1...Int.max, "'\(key)' must be a positive whole number.") { cap = min(cap ?? .max, int) }
        }
        maxTokens = cap
        let n = try wholeNumber("n", in: 1...128, "'n' must be a whole number from 1 to 128.")
        choices = endpoint == .chat ? n ?? 1 : 1
        switch endpoint {
        case .chat:
            guard let messages = object["messages"], messages.kind == .array else {
                throw .invalid("'messages' must be a non-empty array.", param: "messages")
            }
            let list = json.elements(messages)
            guard !list.isEmpty else { throw .invalid("'messages' must be a non-empty array.", param: "messages") }
            messageCount = list.count
            // Images are counted by their token cost, not by the size of their (base64) data: each part counts as
            // {"type":"image_url"} towards the prompt's bytes.
            var images = 0, imageBytes = 0
            for message in list {
                guard let content = json.member(message, "content") else { continue }
                for part in json.elements(content) {
                    guard let type = json.member(part, "type"), json.string(type) == "image_url" else { continue }
                    let detail = json.member(part, "image_url").flatMap { json.member($0, "detail") }.flatMap(json.string)
                    images += detail == "low" ? Self.lowDetailImageTokens : Self.highDetailImageTokens
                    imageBytes += part.range.count - Self.imagePlaceholder.utf8.count
                }
            }
            imageTokens = images
            // As {"messages":…,"tools":…} would be written: the messages and the other fields the model reads.
            var bytes = #"{"messages":}"#.utf8.count + messages.range.count - imageBytes
            for field in Self.promptFields { if let value = object[field] { bytes += 4 + field.utf8.count + value.range.count } }
            promptBytes = bytes
        case .embeddings:
            guard let input = object["input"], input.kind == .string || input.kind == .array else {
                throw .invalid("'input' must be a string or an array.", param: "input")
            }
            messageCount = 1
            imageTokens = 0
            promptBytes = #"{"input":}"#.utf8.count + input.range.count
        }
    }

    static let imagePlaceholder = #"{"type":"image_url"}"#

    /// A cautious guess at the prompt's tokens before the upstream counts them: about one token per two bytes of
    /// the serialised prompt, plus a few per message (real tokenisers average about four bytes per token in English).
    public var estimatedPromptTokens: Int { promptBytes / 2 + 4 * messageCount + 8 + imageTokens }

    /// The body for the upstream: its own model name, the effective token cap, the system prompt first, and for
    /// streams a request for usage in the last chunk; every other forwarded member as the client sent it.
    public func upstreamBody(model upstreamModel: String, maxTokens cap: Int?, systemPrompt: String?) -> Data {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(json.bytes.count + (systemPrompt?.utf8.count ?? 0) + 128)
        func member(_ name: String, _ value: some Sequence<UInt8>) {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: RawJSON.quoted(name))
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: value)
        }
        let chat = endpoint == .chat
        let system = chat ? systemPrompt.flatMap { $0.isEmpty ? nil : $0 } : nil
        var streamOptions: RawJSON.Value?
        for (name, value) in forwarded {
            switch name {
            case "model":
                member(name, RawJSON.quoted(upstreamModel))
            case "max_tokens" where chat && cap != nil, "max_completion_tokens" where chat && cap != nil:
                continue  // written below
            case "messages" where system != nil:
                // [system, …the client's messages]: the array's inside as sent (it is never empty).
                let inside = json.bytes[(value.range.lowerBound + 1)..<(value.range.upperBound - 1)]
                member(name, Array(#"[{"role":"system","content":"#.utf8) + RawJSON.quoted(system!) + Array("},".utf8) + inside + [UInt8(ascii: "]")])
            case "stream_options" where chat && stream:
                streamOptions = value  // written below
            default:
                member(name, json.raw(value))
            }
        }
        if chat {
            if let cap {  // both names: providers read one or the other, and neither may ask for more than the hold covers
                member("max_tokens", Array(String(cap).utf8))
                member("max_completion_tokens", Array(String(cap).utf8))
            }
            if stream {
                var options = Array(#"{"include_usage":true"#.utf8)
                let given = streamOptions.map { json.members($0) } ?? []
                for (name, value) in given where name != "include_usage" {
                    options.append(UInt8(ascii: ","))
                    options.append(contentsOf: RawJSON.quoted(name))
                    options.append(UInt8(ascii: ":"))
                    options.append(contentsOf: json.raw(value))
                }
                options.append(UInt8(ascii: "}"))
                member("stream_options", options)
            }
        }
        out.append(UInt8(ascii: "}"))
        return Data(out)
    }

    /// The prompt's text, for courses that keep it (messages or input as sent).
    public var promptText: String {
        guard let value = forwarded.last(where: { $0.name == (endpoint == .chat ? "messages" : "input") })?.value else { return "" }
        return String(decoding: json.raw(value), as: UTF8.self)
    }
}
