// The programme's events over a date range, for the university's own analysis: hand-ins, grades, AI requests and
// ledger entries, one a row (CSV) or a line (JSON Lines), in time order within each kind. For the university's
// staff (administrators, the programme's managers) a person is their account id and email; for the partner each
// person is a pseudonym made for this export alone (an HMAC of the account id under a key drawn for the export and
// then forgotten), so rows of one export can be joined by person but the identifier links nothing outside it; for
// the partner, too, times are days, attempts are not numbered, and no row comes from a course or project of fewer
// than 5 people. Free-text memos are left out. Read in pages of `page` rows (up to the moment the export began, so
// rows written meanwhile shift no page) and written as read, so an export of any size holds one page in memory.
import Crypto
import Fluent
import Foundation
import Grading
import Insight
import Ledger
import SQLKit
import Vapor

struct EventsQuery: Decodable {
    var from: String?
    var to: String?
    var format: String?
}

enum EventsExport {
    enum Format: String { case csv, jsonl }
    static let longest = 366, page = 2_000
    static let columns = ["type", "at", "person", "email", "course", "project", "assignment", "detail", "value", "credits"]

    /// What was asked for, checked: `from` and `to` are days (YYYY-MM-DD, UTC, both included), at most 366 days apart;
    /// without them, the 30 days to today (or to `to`).
    struct Request {
        var from: Date
        /// The day after the last day asked for.
        var to: Date
        /// What is read: up to `to`, and not past the moment the export began.
        var until: Date
        var format: Format

        init(_ query: EventsQuery, now: Date) throws {
            var checks = InputChecks()
            func day(_ text: String?, _ name: String) -> Date? {
                guard let text else { return nil }
                // Written back the same, so a 30th of February is refused rather than read as a day in March.
                guard let date = ISO8601DateFormatter().date(from: text + "T00:00:00Z"), Stats.dayString(date) == text else {
                    checks.add("'\(name)' must be a day written YYYY-MM-DD; “\(text.prefix(40))” is not."); return nil
                }
                return date
            }
            let today = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
            let to = query.to == nil ? today : day(query.to, "to")
            let from = query.from == nil ? to?.addingTimeInterval(-29 * 86_400) : day(query.from, "from")
            let format = Format(rawValue: query.format ?? "csv")
            if format == nil { checks.add("'format' is csv or jsonl.") }
            if let from, let to {
                if to < from { checks.add("'to' is before 'from'.") }
                else if to.timeIntervalSince(from) / 86_400 >= Double(longest) { checks.add("At most \(longest) days at a time.") }
            }
            if !checks.problems.isEmpty { throw InputRejection(checks.problems) }
            (self.from, self.to, self.format) = (from!, to!.addingTimeInterval(86_400), format!)
            until = min(self.to, now)
        }
    }

    /// One event, as a row.
    struct Event {
        var type: String, at: Date, person: UUID?, email: String?, course: String?, project: String?, assignment: String?
        var detail: String?, value: String?, credits: Int64?
        /// Where it happened, to leave out the rows of small places for the partner.
        var place: UUID?
    }

    /// Who a person is in this export.
    struct People {
        let pseudonymous: Bool
        private let key = SymmetricKey(size: .bits256)
        /// Courses and projects of fewer than 5 people: their rows are left out for the partner.
        var small: Set<UUID> = []

        init(pseudonymous: Bool) { self.pseudonymous = pseudonymous }

        func person(_ id: UUID?) -> String {
            guard let id else { return "" }
            guard pseudonymous else { return id.uuidString.lowercased() }
            let code = HMAC<SHA256>.authenticationCode(for: Data(id.uuidString.lowercased().utf8), using: key)
            return "p-" + code.prefix(8).map { String(format: "%02x", $0) }.joined()
        }
        func email(_ email: String?) -> String { pseudonymous ? "" : email ?? "" }
    }

    static func line(_ event: Event, people: People, format: Format, times: ISO8601DateFormatter) -> String {
        let credits = event.credits.map { "\(Credits(micro: $0))" } ?? ""
        let at = people.pseudonymous ? Stats.dayString(event.at) : times.string(from: event.at)
        let detail = people.pseudonymous && event.type == "handin" ? nil : event.detail
        let values: [String] = [event.type, at, people.person(event.person), people.email(event.email),
                                event.course ?? "", event.project ?? "", event.assignment ?? "", detail ?? "", event.value ?? "", credits]
        switch format {
        case .csv: return CSVCells.row(values) + "\r\n"
        case .jsonl:
            var object: [String: String] = [:]
            for (name, value) in zip(columns, values) where !value.isEmpty { object[name] = value }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }

    /// Every event of the programme in the range, a page at a time, handed to `write` as read.
    static func write(programmeID: UUID, _ request: Request, people: People, on db: any Database,
                      _ write: (String) async throws -> Void) async throws {
        let sql = try db.sqlDatabase(), times = ISO8601DateFormatter()
        var people = people
        if people.pseudonymous {
            people.small = Set(try await sql.raw("""
                SELECT c.id AS place FROM courses c LEFT JOIN course_members m ON m.course_id = c.id AND m.role = 'student'
                WHERE c.programme_id = \(bind: programmeID) GROUP BY c.id HAVING count(m.user_id) < \(bind: SmallCells.minimum)
                UNION SELECT p.id AS place FROM research_projects p LEFT JOIN project_members m ON m.project_id = p.id
                WHERE p.programme_id = \(bind: programmeID) GROUP BY p.id HAVING count(m.user_id) < \(bind: SmallCells.minimum)
                """).all().map { try $0.decode(column: "place", as: UUID.self) })
        }
        if request.format == .csv { try await write(CSVCells.row(columns) + "\r\n") }
        for kind in ["handin", "grade", "ai", "ledger"] {
            var offset = 0
            while true {
                let rows = try await sql.raw(query(kind, programmeID: programmeID, request: request, offset: offset)).all()
                var text = ""
                for row in rows {
                    let event = try event(kind, row)
                    if let place = event.place, people.small.contains(place) { continue }
                    text += line(event, people: people, format: request.format, times: times)
                }
                if !text.isEmpty { try await write(text) }
                guard rows.count == page else { break }
                offset += page
            }
        }
    }

    private static func query(_ kind: String, programmeID: UUID, request: Request, offset: Int) -> SQLQueryString {
        let (from, to) = (request.from, request.until)
        switch kind {
        case "handin", "grade":
            let at = kind == "handin" ? "s.submitted_at" : "s.graded_at"
            return """
                SELECT s.id AS id, s.user_id AS person, u.email AS email, \(unsafeRaw: at) AS at, s.attempt, s.status, s.score, s.max_score, s.charged,
                       c.code AS course, a.title AS assignment, c.id AS place
                FROM submissions s JOIN assignments a ON a.id = s.assignment_id JOIN courses c ON c.id = a.course_id JOIN users u ON u.id = s.user_id
                WHERE c.programme_id = \(bind: programmeID) AND s.is_test_run = \(bind: false) AND \(unsafeRaw: at) >= \(bind: from) AND \(unsafeRaw: at) < \(bind: to)
                  \(unsafeRaw: kind == "grade" ? "AND s.status = 'graded'" : "")
                ORDER BY \(unsafeRaw: at), s.id LIMIT \(unsafeRaw: String(page)) OFFSET \(unsafeRaw: String(offset))
                """
        case "ai":
            return """
                SELECT x.id AS id, x.user_id AS person, u.email AS email, x.created_at AS at, x.model, x.prompt_tokens, x.completion_tokens, x.credits,
                       c.code AS course, p.title AS project, coalesce(c.id, p.id) AS place
                FROM ai_usage x JOIN users u ON u.id = x.user_id LEFT JOIN courses c ON c.id = x.course_id LEFT JOIN research_projects p ON p.id = x.project_id
                WHERE (c.programme_id = \(bind: programmeID) OR p.programme_id = \(bind: programmeID)) AND x.created_at >= \(bind: from) AND x.created_at < \(bind: to)
                ORDER BY x.created_at, x.id LIMIT \(unsafeRaw: String(page)) OFFSET \(unsafeRaw: String(offset))
                """
        default:
            return """
                SELECT e.id AS id, coalesce(fa.user_id, ta.user_id) AS person, u.email AS email, e.created_at AS at, e.kind, e.amount,
                       c.code AS course, p.title AS project, coalesce(c.id, p.id) AS place
                FROM ledger_entries e LEFT JOIN ledger_accounts fa ON fa.id = e.from_account_id LEFT JOIN ledger_accounts ta ON ta.id = e.to_account_id
                LEFT JOIN users u ON u.id = coalesce(fa.user_id, ta.user_id) LEFT JOIN courses c ON c.id = coalesce(fa.course_id, ta.course_id)
                LEFT JOIN research_projects p ON p.id = coalesce(fa.project_id, ta.project_id)
                WHERE e.programme_id = \(bind: programmeID) AND e.created_at >= \(bind: from) AND e.created_at < \(bind: to)
                ORDER BY e.created_at, e.id LIMIT \(unsafeRaw: String(page)) OFFSET \(unsafeRaw: String(offset))
                """
        }
    }

    private static func event(_ kind: String, _ row: any SQLRow) throws -> Event {
        var event = Event(type: kind, at: try row.decode(column: "at", as: Date.self), person: try row.decode(column: "person", as: UUID?.self),
                          email: try row.decode(column: "email", as: String?.self), course: try row.decode(column: "course", as: String?.self),
                          project: nil, assignment: nil, detail: nil, value: nil, credits: nil, place: try row.decode(column: "place", as: UUID?.self))
        switch kind {
        case "handin":
            (event.assignment, event.detail) = (try row.decode(column: "assignment", as: String.self), "attempt \(try row.decode(column: "attempt", as: Int.self))")
            event.credits = try row.decode(column: "charged", as: Int64.self)
        case "grade":
            event.assignment = try row.decode(column: "assignment", as: String.self)
            let score = try row.decode(column: "score", as: Double?.self), maximum = try row.decode(column: "max_score", as: Double?.self)
            event.value = score.map { s in Gradebook.number(s) + (maximum.map { " / " + Gradebook.number($0) } ?? "") }
        case "ai":
            event.project = try row.decode(column: "project", as: String?.self)
            event.detail = try row.decode(column: "model", as: String.self)
            event.value = "\(try row.decode(column: "prompt_tokens", as: Int.self) + (try row.decode(column: "completion_tokens", as: Int.self))) tokens"
            event.credits = try row.decode(column: "credits", as: Int64.self)
        default:
            event.project = try row.decode(column: "project", as: String?.self)
            event.detail = try row.decode(column: "kind", as: String.self)
            event.credits = try row.decode(column: "amount", as: Int64.self)
        }
        return event
    }
}
