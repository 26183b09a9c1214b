// A session begun by an LMS launch is shown inside the LMS (its course page frames the tool, its "add external tool"
// dialog frames the deep linking choice). Such a session keeps the LMS's web origins; its pages may be framed by them
// (and by the platform), no one else. Over https (and on a loopback name, which browsers treat alike) its cookie is SameSite=None; Secure; Partitioned, so the browser
// sends it inside the LMS's frame and keeps it apart from the platform's own first-party session. Every form still
// carries its CSRF field. Other sessions are framed by the platform only, their cookie SameSite=Lax.
import Foundation
import Vapor

enum EmbeddedSession {
    /// The session key holding the LMS's origins (space-separated).
    static let framedByKey = "ltiFramedBy"
    static let mostOrigins = 5

    /// The web origins of `addresses` that may frame the session: https (http only when `allowHTTP`), deduplicated.
    static func origins(_ addresses: [String?], allowHTTP: Bool) -> [String] {
        var seen: [String] = []
        for case let address? in addresses {
            guard let url = URLComponents(string: address), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty,
                  scheme == "https" || (allowHTTP && scheme == "http"), url.user == nil,
                  HostNames.isPlain(host, allowIPv6: true) else { continue }
            let origin = "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
            if !seen.contains(origin) { seen.append(origin) }
        }
        return Array(seen.prefix(mostOrigins))
    }

    /// The Set-Cookie value of the session cookie made cross-site: SameSite=None and Partitioned (with Secure).
    static func crossSite(_ setCookie: String) -> String {
        var attributes = setCookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.lowercased().hasPrefix("samesite") && $0.lowercased() != "partitioned" }
        if !attributes.contains(where: { $0.lowercased() == "secure" }) { attributes.append("Secure") }
        attributes += ["SameSite=None", "Partitioned"]
        return attributes.joined(separator: "; ")
    }

    private struct RawCookies: StorageKey { typealias Value = [String] }

    /// Sets a cookie written whole (attributes Vapor's cookie type lacks, such as Partitioned) on the request's
    /// response. Added last, outside the sessions middleware, which rewrites the Set-Cookie headers it can parse.
    static func setCookie(_ raw: String, on req: Request) {
        req.storage[RawCookies.self] = (req.storage[RawCookies.self] ?? []) + [raw]
    }

    /// Applied to every response (outermost): the framing rule, the cookies written whole, and the session cookie's
    /// attributes for a framed session.
    static func apply(to response: Response, for req: Request) {
        let framedBy = req.hasSession ? req.session.data[framedByKey]?.split(separator: " ").map(String.init) ?? [] : []
        if !framedBy.isEmpty, !response.headers.contains(name: "Content-Security-Policy") {
            response.headers.add(name: "Content-Security-Policy", value: "frame-ancestors 'self' " + framedBy.joined(separator: " "))
        }
        for raw in req.storage[RawCookies.self] ?? [] { response.headers.add(name: .setCookie, value: raw) }
        guard !framedBy.isEmpty, req.application.platformConfig.keepsCrossSiteCookies else { return }
        let name = req.application.sessions.configuration.cookieName + "="
        let cookies = response.headers[.setCookie]
        guard cookies.contains(where: { $0.hasPrefix(name) }) else { return }
        response.headers.remove(name: .setCookie)
        for cookie in cookies { response.headers.add(name: .setCookie, value: cookie.hasPrefix(name) ? crossSite(cookie) : cookie) }
    }
}
