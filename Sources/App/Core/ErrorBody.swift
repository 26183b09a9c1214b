// The API's error body (OpenAI's shape), for every error under /api and /v1.
import Vapor

/// An error with a list of specific problems (e.g. every bad line of a file) for the API's error body.
protocol DetailedError: Error { var details: [String] { get } }

struct ErrorBody: Content {
    struct Detail: Content {
        var message: String
        var type: String
        var code: String?
        var problems: [String]?
    }
    var error: Detail
}
