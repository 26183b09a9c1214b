// Refusals and failures in OpenAI's error format: {"error": {"message", "type", "param", "code"}}, with the HTTP
// status OpenAI's clients expect (400 invalid, 401 key, 403 policy, 404 model, 429 limits and credits, 502/504
// upstream). Every message is a sentence a student can act on.
import Foundation

public struct GatewayError: Error, Sendable, Equatable {
    public var status: Int
    public var type: String
    public var code: String?
    public var message: String
    public var param: String?
    /// Seconds until a refused request may be tried again, sent as the Retry-After header (rate limits).
    public var retryAfter: Int?

    public init(status: Int, type: String, code: String?, message: String, param: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.retryAfter = retryAfter
    }

    public static func invalid(_ message: String, param: String?) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: nil, message: message, param: param)
    }
    public static func badKey(_ message: String) -> GatewayError {
        GatewayError(status: 401, type: "invalid_request_error", code: "invalid_api_key", message: message)
    }
    public static func policy(_ message: String, code: String) -> GatewayError {
        GatewayError(status: 403, type: "permission_error", code: code, message: message)
    }
    public static func unknownModel(_ model: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: "model_not_found",
                     message: "The model '\(model)' does not exist or this key may not use it; GET /v1/models lists the ones it may.", param: "model")
    }
    public static func rateLimited(_ message: String, retryAfter: Int? = nil) -> GatewayError {
        GatewayError(status: 429, type: "requests", code: "rate_limit_exceeded", message: message, retryAfter: retryAfter)
    }
    public static func noCredits(_ message: String) -> GatewayError {
        GatewayError(status: 429, type: "insufficient_quota", code: "insufficient_quota", message: message)
    }
    public static func upstream(_ message: String, status: Int = 502) -> GatewayError {
        GatewayError(status: status, type: "api_error", code: "upstream_error", message: message)
    }

    /// A provider's answer other than 200, in the gateway's own words (its body, which may name its internals, is
    /// never passed on): its refusals of the request keep their status, anything else (a redirect, a failure) is 502.
    public static func providerRefused(model: String, status: Int) -> GatewayError {
        if [400, 404, 413, 422].contains(status) {
            return GatewayError(status: status, type: "invalid_request_error", code: "upstream_refused", message:
                "The model '\(model)' refused this request (its provider answered \(status)); check it against the model's limits: its length, max_tokens and parameters.")
        }
        return upstream("The model '\(model)' gave no usable answer (its provider answered \(status)). Try again shortly.")
    }

    /// The JSON body OpenAI's SDKs parse.
    public var json: Data {
        var error: [String: Any] = ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()]
        if param == nil { error["param"] = NSNull() }
        return (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
    }
}
