// The session cookie is sent again only when there is something new to say. Vapor's sessions middleware sets it on
// every reply that read the session. A reply to a request still on its way when this browser's person signed out, or
// someone else signed in here, then set the old cookie again over the new one: on a shared computer, the next person
// ran as the last. Outside the sessions middleware, this takes the session cookie off a reply when it is the one the
// request came with and its session was not written (`QuietSessions` says whether a write found its session still
// there). A new session's cookie, and a sign-out's expired one, go out as before. A signed-in session is written once a
// day (`ActiveUserSessionAuthenticator`), so its week's Max-Age still slides while its person comes back.
import Vapor

struct SessionCookieRule: AsyncMiddleware {
    let cookieName: String

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: request)
        let prefix = cookieName + "="
        guard let came = request.cookies[cookieName]?.string, request.storage[QuietSessions.Written.self] != true else { return response }
        let lines = response.headers[.setCookie]
        let same = prefix + came
        guard lines.contains(where: { $0 == same || $0.hasPrefix(same + ";") }) else { return response }
        response.headers.remove(name: .setCookie)
        for line in lines where !line.hasPrefix(prefix) { response.headers.add(name: .setCookie, value: line) }
        return response
    }
}
