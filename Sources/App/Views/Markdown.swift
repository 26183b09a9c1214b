// Instructions are Markdown, rendered with Ink. Ink passes HTML written in the Markdown through as it is, so its
// output is sanitised before a page shows it: only the tags Markdown itself produces survive, with no attributes
// but a link's or image's address (http, https, mailto or relative) and a code block's language class; anything
// else is shown as text. A script in the instructions can never run in a student's browser.
import Foundation
import Ink

enum Markdown {
    static func html(_ markdown: String) -> String {
        sanitise(MarkdownParser().html(from: markdown))
    }

    private static let allowed: Set<String> = [
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
    ]
    private static let voidTags: Set<String> = ["br", "hr", "img"]

    /// Keeps allowed tags (rebuilt from their parsed parts), escapes everything else.
    static func sanitise(_ html: String) -> String {
        var output = "", index = html.startIndex
        var open: [String] = []
        while index < html.endIndex {
            let character = html[index]
            guard character == "<", let close = html[index...].firstIndex(of: ">") else {
                output += character == "<" ? "&lt;" : (character == ">" ? "&gt;" : String(character))
                index = html.index(after: index)
                continue
            }
            let inside = String(html[html.index(after: index)..<close])
            if let tag = rebuild(inside, open: &open) {
                output += tag
            } else {
                output += "&lt;" + escape(inside) + "&gt;"
            }
            index = html.index(after: close)
        }
        // Close what the Markdown left open, so the page's own markup is never swallowed.
        for tag in open.reversed() { output += "</\(tag)>" }
        return output
    }

    private static func rebuild(_ inside: String, open: inout [String]) -> String? {
        let closing = inside.hasPrefix("/")
        let body = closing ? String(inside.dropFirst()) : inside
        let name = String(body.prefix { $0.isLetter || $0.isNumber }).lowercased()
        guard allowed.contains(name) else { return nil }
        if closing {
            guard let position = open.lastIndex(of: name) else { return "" }
            let closed = open[position...].reversed().map { "</\($0)>" }.joined()
            open.removeSubrange(position...)
            return closed
        }
        var attributes = ""
        let parsed = attributesOf(String(body.dropFirst(name.count)))
        switch name {
        case "a":
            if let href = parsed["href"], safeURL(href) { attributes += " href=\"\(escape(href))\" rel=\"nofollow noopener\"" }
        case "img":
            if let src = parsed["src"], safeURL(src) { attributes += " src=\"\(escape(src))\"" }
            attributes += " alt=\"\(escape(parsed["alt"] ?? ""))\""
        case "code":
            if let cls = parsed["class"], cls.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) { attributes += " class=\"\(cls)\"" }
        default: break
        }
        if !voidTags.contains(name) { open.append(name) }
        return "<\(name)\(attributes)>"
    }

    private static func attributesOf(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        let pattern = try! NSRegularExpression(pattern: #"([a-zA-Z-]+)\s*=\s*"([^"]*)""#)
        for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let key = Range(match.range(at: 1), in: text), let value = Range(match.range(at: 2), in: text) else { continue }
            result[text[key].lowercased()] = unescape(String(text[value]))
        }
        return result
    }

    private static func safeURL(_ url: String) -> Bool {
        let lower = url.trimmingCharacters(in: .whitespaces).lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("mailto:") { return true }
        // Relative addresses: no scheme at all (a colon before any slash would be one).
        guard let colon = lower.firstIndex(of: ":") else { return true }
        return lower[..<colon].contains("/") || lower[..<colon].contains("#") || lower[..<colon].contains("?")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }

    private static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }
}
