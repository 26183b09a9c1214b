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

public struct GatewayRequest: @unchecked Sendable {
    /// The client's JSON object.
    public private(set) var body: [String: Any]
    public let endpoint: Endpoint
    public let model: String
    public let stream: Bool
    /// max_completion_tokens or max_tokens, when the client set one.
    public let maxTokens: Int?
    /// UTF-8 bytes of the prompt (messages' text, or the embeddings input).
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
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalid("The body must be a JSON object (OpenAI's request format).", param: nil)
        }
        if let field = object.keys.sorted().first(where: { Self.refusedFields.contains($0) }) {
            throw .invalid("'\(field)' is not accepted: this gateway chooses the upstream and holds its credentials.", param: field)
        }
        guard let model = object["model"] as? String, !model.isEmpty, model.count <= 200 else {
            throw .invalid("'model' is required: one of the models GET /v1/models lists.", param: "model")
        }
        self.body = object.filter { Self.forwardedFields[endpoint]!.contains($0.key) }
        self.endpoint = endpoint
        self.model = model
        let streamValue = object["stream"]
        if let streamValue, !(streamValue is NSNull) {
            guard isJSONBool(streamValue), let flag = streamValue as? Bool else { throw .invalid("'stream' must be true or false.", param: "stream") }
            stream = flag
        } else {
            stream = false
        }
        var cap: Int?
        for key in ["max_completion_tokens", "max_tokens"] {
            guard let value = object[key], !(value is NSNull) else { continue }
            guard let number = value as? NSNumber, !isJSONBool(value), let int = Int(exactly: number.doubleValue), int >= 1 else {
                throw .invalid("'\(key)' must be a positive whole number.", param: key)
            }
            cap = min(cap ?? .max, int)
        }
        maxTokens = cap
        if let value = object["n"], !(value is NSNull) {
            guard let number = value as? NSNumber, !isJSONBool(value), let int = Int(exactly: number.doubleValue), (1...128).contains(int) else {
                throw .invalid("'n' must be a whole number from 1 to 128.", param: "n")
            }
            choices = endpoint == .chat ? int : 1
        } else {
            choices = 1
        }
        switch endpoint {
        case .chat:
            guard let messages = object["messages"] as? [Any], !messages.isEmpty else {
                throw .invalid("'messages' must be a non-empty array.", param: "messages")
            }
            messageCount = messages.count
            // Images are counted by their token cost, not by the size of their (base64) data.
            var images = 0
            let text = messages.map { Self.withoutImages($0, images: &images) }
            imageTokens = images
            var counted: [String: Any] = ["messages": text]
            for field in Self.promptFields { if let value = object[field] { counted[field] = value } }
            promptBytes = (try? JSONSerialization.data(withJSONObject: counted).count) ?? 0
        case .embeddings:
            guard let input = object["input"], input is String || input is [Any] else {
                throw .invalid("'input' must be a string or an array.", param: "input")
            }
            messageCount = 1
            imageTokens = 0
            promptBytes = (try? JSONSerialization.data(withJSONObject: ["input": input]).count) ?? 0
        }
    }

    /// A message with each image part replaced by a placeholder; their token cost is added to `images`.
    static func withoutImages(_ message: Any, images: inout Int) -> Any {
        guard var object = message as? [String: Any], let parts = object["content"] as? [Any] else { return message }
        object["content"] = parts.map { part -> Any in
            guard let part = part as? [String: Any], part["type"] as? String == "image_url" else { return part }
            let detail = (part["image_url"] as? [String: Any])?["detail"] as? String
            images += detail == "low" ? lowDetailImageTokens : highDetailImageTokens
            return ["type": "image_url"]
        }
        return object
    }

    /// A cautious guess at the prompt's tokens before the upstream counts them: about one token per two bytes of
    /// the serialised prompt, plus a few per message (real tokenisers average about four bytes per token in English).
    public var estimatedPromptTokens: Int { promptBytes / 2 + 4 * messageCount + 8 + imageTokens }

    /// The body for the upstream: its own model name, the effective token cap, the system prompt first, and for
    /// streams a request for usage in the last chunk.
    public func upstreamBody(model upstreamModel: String, maxTokens cap: Int?, systemPrompt: String?) -> Data {
        var body = self.body
        body["model"] = upstreamModel
        if endpoint == .chat {
            if let cap {  // both names: providers read one or the other, and neither may ask for more than the hold covers
                body["max_tokens"] = cap
                body["max_completion_tokens"] = cap
            }
            if let systemPrompt, !systemPrompt.isEmpty, let messages = body["messages"] as? [Any] {
                body["messages"] = [["role": "system", "content": systemPrompt]] + messages
            }
            if stream {
                var options = body["stream_options"] as? [String: Any] ?? [:]
                options["include_usage"] = true
                body["stream_options"] = options
            }
        }
        return (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
    }

    /// The prompt's text, for courses that keep it (messages or input as sent).
    public var promptText: String {
        let value = endpoint == .chat ? body["messages"] : body["input"]
        guard let value, let data = try? JSONSerialization.data(withJSONObject: ["p": value]) else { return "" }
        return String(decoding: data.dropFirst(5).dropLast(), as: UTF8.self)
    }
}

/// JSONSerialization gives booleans as NSNumber (type "c"); this tells them apart from 0 and 1.
func isJSONBool(_ value: Any) -> Bool {
    guard let number = value as? NSNumber else { return false }
    return String(cString: number.objCType) == "c"
}
