// Links between the pages of a long list on a web page ("Students 51–100 of 500", previous, next): `?page=N` on the
// same path, 1-based.
import Vapor

struct Pager: Encodable {
    var label: String
    var previous: String?
    var next: String?
    var shown: Bool

    static let perPage = 50

    /// The page asked for (`?page=`), from 1 to 100,000 (a larger number would overflow the row arithmetic).
    static func number(_ req: Request) -> Int { min(max(req.query[Int.self, at: "page"] ?? 1, 1), 100_000) }

    init(path: String, number: Int, per: Int = Pager.perPage, total: Int, noun: String) {
        let first = min((number - 1) * per + 1, max(total, 1)), last = min(number * per, total)
        label = total == 0 ? "No \(noun)" : "\(noun.prefix(1).uppercased() + noun.dropFirst()) \(first)–\(last) of \(total)"
        let join = path.contains("?") ? "&" : "?"
        previous = number > 1 ? "\(path)\(join)page=\(number - 1)" : nil
        next = number * per < total ? "\(path)\(join)page=\(number + 1)" : nil
        shown = total > per
    }
}
