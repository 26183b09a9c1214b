// A minimal browser for tests: keeps the session cookie, reads the CSRF token from the last page, posts forms.
import Foundation
import Vapor
import VaporTesting

final class Browser {
    private let tester: any TestingApplicationTester
    /// The session cookie ("name=value"); a test may hand it one a launch set.
    var cookie: String?
    private(set) var csrf: String?
    private(set) var lastSetCookie: String?

    init(_ app: Application) throws { tester = try app.testing() }

    @discardableResult
    func get(_ path: String) async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders()
        if let cookie { headers.add(name: .cookie, value: cookie) }
        return remember(try await tester.sendRequest(.GET, path, headers: headers))
    }

    /// Posts a form with the page's CSRF token unless `csrf` overrides it (nil sends none).
    @discardableResult
    func post(_ path: String, _ fields: [String: String], csrf override: String?? = .none) async throws -> TestingHTTPResponse {
        try await post(path, pairs: fields.map { ($0.key, $0.value) }, csrf: override)
    }

    /// Posts a form whose fields may repeat (checkboxes of one name).
    @discardableResult
    func post(_ path: String, pairs fields: [(String, String)], csrf override: String?? = .none) async throws -> TestingHTTPResponse {
        var form = fields.filter { $0.0 != "_csrf" }
        switch override {
        case .none: if let csrf { form.append(("_csrf", csrf)) }
        case .some(let value?): form.append(("_csrf", value))
        case .some(nil): break
        }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = form.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        var headers = HTTPHeaders()
        headers.contentType = .urlEncodedForm
        if let cookie { headers.add(name: .cookie, value: cookie) }
        return remember(try await tester.sendRequest(.POST, path, headers: headers, body: ByteBuffer(string: body)))
    }

    /// Posts a multipart form with one file, as a browser's file upload does (with the page's CSRF token).
    @discardableResult
    func upload(_ path: String, field: String, filename: String, contents: Data, fields: [String: String] = [:]) async throws -> TestingHTTPResponse {
        let boundary = "----campuscloud-test-\(UUID().uuidString)"
        var body = Data()
        func part(_ headers: String, _ content: Data) {
            body.append(Data("--\(boundary)\r\n\(headers)\r\n\r\n".utf8))
            body.append(content)
            body.append(Data("\r\n".utf8))
        }
        if let csrf { part("Content-Disposition: form-data; name=\"_csrf\"", Data(csrf.utf8)) }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { part("Content-Disposition: form-data; name=\"\(name)\"", Data(value.utf8)) }
        part("Content-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: text/csv", contents)
        body.append(Data("--\(boundary)--\r\n".utf8))
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=\(boundary)")
        if let cookie { headers.add(name: .cookie, value: cookie) }
        return remember(try await tester.sendRequest(.POST, path, headers: headers, body: ByteBuffer(data: body)))
    }

    @discardableResult
    func signIn(_ email: String, _ password: String = "campuscloud-demo") async throws -> TestingHTTPResponse {
        try await get("/signin")
        return try await post("/signin", ["email": email, "password": password, "next": "/dashboard"])
    }

    /// Takes a reply to a request made elsewhere with this browser's cookie (another tab): its cookie, if it sets one.
    func receive(_ response: TestingHTTPResponse) { _ = remember(response) }

    private func remember(_ response: TestingHTTPResponse) -> TestingHTTPResponse {
        if let setCookie = response.headers.first(name: .setCookie) {
            lastSetCookie = setCookie
            cookie = String(setCookie.split(separator: ";")[0])
        }
        let html = response.body.string
        if let range = html.range(of: #"name="_csrf" value=""#) {
            csrf = String(html[range.upperBound...].prefix { $0 != "\"" })
        }
        return response
    }
}
