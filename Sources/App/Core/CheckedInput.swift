// What people send to create or change things, checked before anything is written: every problem is listed in a
// sentence (422), a field the platform does not know is refused (a typo must not silently change nothing), and the
// same input types serve the JSON API and the HTML forms.
import Foundation
import Vapor

/// The input was read but is not acceptable; `problems` says what to fix, one sentence each. 422 when the input
/// itself is wrong; 409 (`conflict`) when it is well formed but clashes with what exists now (a taken email, a step
/// the lifecycle does not allow from here, a name that is not registered), so it could succeed another time.
struct InputRejection: AbortError, DetailedError {
    var problems: [String]
    var status: HTTPResponseStatus = .unprocessableEntity

    static func conflict(_ problems: String...) -> InputRejection { conflict(problems) }

    static func conflict(_ problems: [String]) -> InputRejection {
        var rejection = InputRejection(problems)
        rejection.status = .conflict
        return rejection
    }
    var reason: String { problems.count == 1 ? problems[0] : "Nothing was changed: \(problems.count) problems. " + problems.joined(separator: " ") }
    var details: [String] { problems }

    init(_ problems: [String]) { self.problems = problems }
    init(_ problem: String) { problems = [problem] }
}

/// An API or form input whose fields are spelled out, so unknown ones can be refused.
protocol CheckedInput: Decodable {
    associatedtype Fields: CodingKey & CaseIterable
}

extension Request {
    /// Decodes a JSON body (refusing fields `T` does not have) or, for pages, a form.
    func input<T: CheckedInput>(_ type: T.Type) throws -> T {
        if headers.contentType == .urlEncodedForm || headers.contentType == .formData {
            return try content.decode(T.self)
        }
        guard let body = body.data, body.readableBytes > 0 else {
            throw Abort(.badRequest, reason: "Send a JSON object as the request body (Content-Type: application/json).")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw Abort(.badRequest, reason: "The request body could not be read: it is not a JSON object.")
        }
        let known = Set(T.Fields.allCases.map(\.stringValue))
        let unknown = object.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw Abort(.unprocessableEntity, reason: "Unknown field\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); "
                        + "the fields are \(known.sorted().joined(separator: ", ")).")
        }
        return try ContentConfiguration.global.requireDecoder(for: .json).decode(T.self, from: body, headers: headers, userInfo: [.jsonInput: true])
    }
}

extension CodingUserInfoKey {
    /// Set while `Request.input` decodes a JSON body: a field that forms send as text (a year) must then be a number,
    /// as the API document says.
    static let jsonInput = CodingUserInfoKey(rawValue: "campuscloud.jsonInput")!
}

/// Small checks that collect sentences instead of throwing at the first one.
struct InputChecks {
    private(set) var problems: [String] = []

    mutating func add(_ problem: String) { problems.append(problem) }

    /// A required text: not blank, at most `max` characters as sent; trimmed. nil (with a problem) when missing or too long.
    mutating func text(_ value: String?, _ label: String, max: Int = 200, required: Bool = true) -> String? {
        let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let trimmed, !trimmed.isEmpty else {
            if required { problems.append("\(label) is missing.") }
            return value == nil ? nil : (required ? nil : "")
        }
        // Counted as sent (spaces included), as the API document's maxLength counts it.
        guard value!.count <= max else { problems.append("\(label) is longer than \(max) characters."); return nil }
        return trimmed
    }

    /// A date written YYYY-MM-DD (or a full ISO 8601 time), as the start of that day in UTC.
    mutating func date(_ value: String?, _ label: String, required: Bool = true) -> Date? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            if required { problems.append("\(label) is missing (YYYY-MM-DD).") }
            return nil
        }
        if let date = InputChecks.parseDay(value) ?? ISO8601DateFormatter().date(from: value) { return date }
        problems.append("\(label) '\(value)' is not a date; write it as YYYY-MM-DD.")
        return nil
    }

    /// An address with one @, a dot in its domain, no spaces or list punctuation, at most 254 characters.
    static func isPlausibleEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !email.contains(where: { $0.isWhitespace || $0 == "," || $0 == "<" || $0 == ">" }) && email.count <= 254
    }

    /// ISO 8601, YYYY-MM-DDTHH:MM (UTC), or YYYY-MM-DD; empty means none.
    static func dateTime(_ value: String?, _ label: String, _ checks: inout InputChecks) -> Date? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let date = ISO8601DateFormatter().date(from: value) ?? InputChecks.parseDay(value) { return date }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = TimeZone(identifier: "UTC")
        local.dateFormat = "yyyy-MM-dd'T'HH:mm"
        if let date = local.date(from: value) { return date }
        checks.add("\(label) '\(value)' is not a time; write it as YYYY-MM-DDTHH:MM (UTC) or ISO 8601.")
        return nil
    }

    mutating func email(_ value: String?) -> String? {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { problems.append("email is missing."); return nil }
        let email = User.normalise(email: value)
        guard Self.isPlausibleEmail(email) else { problems.append("'\(value)' is not an email address."); return nil }
        return email
    }

    /// One of an enumeration's raw values.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ value: String?, _ label: String, as type: E.Type) -> E? where E.RawValue == String {
        let raw = value?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        if let choice = E(rawValue: raw) { return choice }
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        problems.append(raw.isEmpty ? "\(label) is missing (one of \(allowed))." : "\(label) '\(value!)' is not one of \(allowed).")
        return nil
    }

    mutating func order(_ start: Date?, _ end: Date?) {
        if let start, let end, end < start { problems.append("the end date is before the start date.") }
    }

    /// Throws every problem found so far.
    func finish() throws {
        if !problems.isEmpty { throw InputRejection(problems) }
    }

    /// Parses YYYY-MM-DD as midnight UTC; nil for anything else (including 2026-02-30).
    static func parseDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return nil }
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: utcCalendar) else { return nil }
        return utcCalendar.date(from: components)
    }

    static var utcCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }
}

extension Date {
    /// YYYY-MM-DD in UTC, as forms show and take dates.
    var day: String {
        let parts = InputChecks.utcCalendar.dateComponents([.year, .month, .day], from: self)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }
}
