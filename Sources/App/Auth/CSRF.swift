// Cross-site request forgery protection for the web pages: each session holds a random token, every form carries it
// in a hidden `_csrf` field, and every state-changing request through the web routes must present it (field or
// X-CSRF-Token header). The JSON API uses bearer tokens, which a browser never sends on its own, and is exempt.
import Vapor

enum CSRF {
    static let sessionKey = "csrf"
    static let fieldName = "_csrf"

    /// The session's token, created on first use.
    static func token(for request: Request) -> String {
        if let existing = request.session.data[sessionKey] { return existing }
        let token = [UInt8].random(count: 32).base64
        request.session.data[sessionKey] = token
        return token
    }
}

struct CSRFMiddleware: AsyncMiddleware {
    private struct Field: Decodable { var _csrf: String? }

    /// The token from the header, a multipart form's field, or a url-encoded form's field.
    private static func sentToken(_ request: Request) -> String? {
        if let header = request.headers.first(name: "X-CSRF-Token") { return header }
        if let form = try? MultipartForm(request) { return form.text(CSRF.fieldName) }
        return (try? request.content.decode(Field.self))?._csrf
    }

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard [.POST, .PUT, .PATCH, .DELETE].contains(request.method) else { return try await next.respond(to: request) }
        let sent: String? = Self.sentToken(request)
        guard let expected = request.session.data[CSRF.sessionKey], let sent,
              sent.utf8.count == expected.utf8.count,
              zip(sent.utf8, expected.utf8).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw Abort(.forbidden, reason: "This form has expired or did not come from this site. Go back, reload the page and try again.")
        }
        return try await next.respond(to: request)
    }
}
