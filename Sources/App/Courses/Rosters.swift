// Course rosters: a CSV file (email,name,role with a header; UTF-8 with or without BOM; quotes and commas in
// names) is checked whole before anything is written. Any bad row rejects the file with every problem listed by
// line; a good file creates the people who are new (without a password: they get an invitation) and their
// memberships, in one transaction.
import Fluent
import Foundation
import Insight
import SQLKit
import SwiftCSV
import Vapor

struct RosterRow: Equatable, Sendable {
    var line: Int
    var email: String
    var name: String
    var role: CourseRole
}

struct RosterProblems: Error, Equatable {
    var problems: [String]
}

struct RosterImportSummary: Content, Equatable {
    struct Invitation: Content, Equatable {
        var email: String
        /// Where the new person sets their password (valid 14 days, once). Give it to them.
        var link: String
    }
    var rows: Int
    var newPeople: [String]
    var added: Int
    var roleChanged: Int
    var invitations: [Invitation]
}

extension RosterImportSummary: APIBody {
    static let schemaName = "RosterImport"
    static let schema = JSONSchema.object([
        "rows": .integer(), "newPeople": .array(.string()), "added": .integer(), "roleChanged": .integer(),
        "invitations": .array(.object(["email": .string(), "link": .string()], required: ["email", "link"])),
    ], required: ["rows", "newPeople", "added", "roleChanged", "invitations"])
    static let samples = [RosterImportSummary(rows: 2, newPeople: ["ben@uni.test"], added: 1, roleChanged: 1,
                                              invitations: [Invitation(email: "ben@uni.test", link: "https://cc.uni.test/set-password?token=abc")])]
}

enum Rosters {
    static let maxBytes = 1 << 20
    static let maxRows = 5000

    /// Reads and checks the whole file; either every row is good or every problem is listed.
    static func parse(_ data: Data) -> Result<[RosterRow], RosterProblems> {
        guard data.count <= maxBytes else { return .failure(RosterProblems(problems: ["the file is larger than 1 MB"])) }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(RosterProblems(problems: ["the file is not UTF-8 text; save it from your spreadsheet as \"CSV UTF-8\""]))
        }
        let csv: CSV<Enumerated>
        do {
            csv = try CSV<Enumerated>(string: text, delimiter: .comma, loadColumns: false)
        } catch {
            return .failure(RosterProblems(problems: ["the file is not valid CSV (an unclosed quote?)"]))
        }
        let header = csv.header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard header == ["email", "name", "role"] else {
            return .failure(RosterProblems(problems: ["line 1: the header must be email,name,role (found \(csv.header.joined(separator: ",")))"]))
        }
        guard csv.rows.count <= maxRows else { return .failure(RosterProblems(problems: ["the file has more than \(maxRows) rows"])) }
        var rows: [RosterRow] = [], problems: [String] = [], seen: [String: Int] = [:]
        let roles = CourseRole.allCases.map(\.rawValue).joined(separator: ", ")
        for (index, cells) in csv.rows.enumerated() {
            let line = index + 2
            if cells.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard cells.count == 3 else { problems.append("line \(line): expected 3 fields (email,name,role), found \(cells.count)"); continue }
            let email = User.normalise(email: cells[0])
            let name = cells[1].trimmingCharacters(in: .whitespacesAndNewlines)
            let rawRole = cells[2].trimmingCharacters(in: .whitespaces).lowercased()
            var lineProblems: [String] = []
            if email.isEmpty { lineProblems.append("email is missing") }
            else if !InputChecks.isPlausibleEmail(email) { lineProblems.append("'\(cells[0])' is not an email address") }
            if name.isEmpty { lineProblems.append("name is missing") }
            if name.count > 200 { lineProblems.append("name is longer than 200 characters") }
            let role = CourseRole(rawValue: rawRole)
            if role == nil { lineProblems.append(rawRole.isEmpty ? "role is missing" : "role '\(cells[2])' is not one of \(roles)") }
            if !email.isEmpty, let first = seen[email] { lineProblems.append("\(email) is already on line \(first)") }
            if !email.isEmpty, seen[email] == nil { seen[email] = line }
            if lineProblems.isEmpty, let role {
                rows.append(RosterRow(line: line, email: email, name: name, role: role))
            } else {
                problems.append("line \(line): " + lineProblems.joined(separator: "; "))
            }
        }
        if rows.isEmpty && problems.isEmpty { problems.append("the file has no rows below the header") }
        return problems.isEmpty ? .success(rows) : .failure(RosterProblems(problems: problems))
    }

    /// Writes a checked roster in one transaction: new people, new memberships, changed roles.
    /// `link` turns a set-password path into the address people use.
    static func apply(_ rows: [RosterRow], to course: Course, link: @escaping @Sendable (String) -> String = { $0 },
                      writes: Writes) async throws -> RosterImportSummary {
        let courseID = try course.requireID()
        return try await writes.transaction { db in
            let emails = rows.map(\.email)
            var users = Dictionary(uniqueKeysWithValues: try await User.query(on: db).filter(\.$email ~~ emails).all().map { ($0.email, $0) })
            var newPeople: [String] = [], invitations: [RosterImportSummary.Invitation] = []
            for row in rows where users[row.email] == nil {
                let user = User(email: row.email, displayName: row.name, passwordHash: nil)
                try await user.create(on: db)
                users[row.email] = user
                newPeople.append(row.email)
                invitations.append(.init(email: row.email, link: link(try await PasswordLinks.issue(for: user, purpose: .invitation, on: db))))
            }
            let userIDs = try users.values.map { try $0.requireID() }
            let existing = Dictionary(uniqueKeysWithValues: try await CourseMember.query(on: db).filter(\.$course.$id == courseID)
                .filter(\.$user.$id ~~ userIDs).all().map { ($0.$user.id, $0) })
            var added = 0, changed = 0
            for row in rows {
                let userID = try users[row.email]!.requireID()
                if let member = existing[userID] {
                    // Listed again by the course's staff: let in again (had they left at the LMS).
                    if member.role != row.role || member.leftAt != nil || member.admittedBy != nil {
                        (member.role, member.leftAt, member.admittedBy) = (row.role, nil, nil)
                        try await member.save(on: db)
                        changed += 1
                    }
                } else {
                    try await CourseMember(courseID: courseID, userID: userID, role: row.role).create(on: db)
                    added += 1
                }
            }
            return RosterImportSummary(rows: rows.count, newPeople: newPeople, added: added, roleChanged: changed, invitations: invitations)
        }
    }

    struct Entry: Content, Equatable {
        var userID: UUID
        var email: String
        var name: String
        var role: CourseRole
        /// When they left the course at its LMS (no longer let in); absent for members.
        var leftAt: Date?
    }

    /// The whole roster: staff first (instructors, then TAs), then by name as people read it (users.sort_key), then
    /// by email; one statement. The API's pages, the course page's and the CSV share this order.
    static func all(of course: Course, on db: any Database) async throws -> [Entry] {
        try await list(try course.requireID(), window: "", on: db)
    }

    /// A page of the roster (`number` from 1) in the same order, and how many people it has: two statements, reading
    /// only the page's people (the course page of a class of 500 rendered every one of them).
    static func page(of course: Course, number: Int, per: Int, on db: any Database) async throws -> (entries: [Entry], total: Int) {
        let courseID = try course.requireID()
        let total = try await CourseMember.query(on: db).filter(\.$course.$id == courseID).count()
        return (try await list(courseID, window: "LIMIT \(literal: per) OFFSET \(literal: (number - 1) * per)", on: db), total)
    }

    private static func list(_ courseID: UUID, window: SQLQueryString, on db: any Database) async throws -> [Entry] {
        try await db.sqlDatabase().raw("""
            SELECT u.id, u.email, u.display_name, m.role, m.left_at FROM course_members m JOIN users u ON u.id = m.user_id
            WHERE m.course_id = \(bind: courseID)
            ORDER BY CASE m.role WHEN 'instructor' THEN 0 WHEN 'ta' THEN 1 ELSE 2 END, u.sort_key, u.email \(window)
            """).all().map { row in
            Entry(userID: try row.decode(column: "id", as: UUID.self), email: try row.decode(column: "email", as: String.self),
                  name: try row.decode(column: "display_name", as: String.self),
                  role: CourseRole(rawValue: try row.decode(column: "role", as: String.self)) ?? .student,
                  leftAt: try row.decode(column: "left_at", as: Date?.self))
        }
    }

    /// The roster as CSV, in the form `parse` reads; a name a spreadsheet would run as a formula is neutralised.
    static func csv(_ entries: [Entry]) -> String {
        (["email,name,role"] + entries.map { CSVCells.row([$0.email, $0.name, $0.role.rawValue]) }).joined(separator: "\r\n") + "\r\n"
    }

}

extension Rosters.Entry: APIBody {
    static let schemaName = "RosterEntry"
    static let schema = JSONSchema.object(["userID": .string(format: "uuid"), "email": .string(format: "email"), "name": .string(), "role": .choice(CourseRole.self),
                                           "leftAt": .string(format: "date-time")],
                                          required: ["userID", "email", "name", "role"])
    static let samples = [Rosters.Entry(userID: Sample.id, email: "ada@uni.test", name: "Ada", role: .ta, leftAt: nil),
                          Rosters.Entry(userID: Sample.id, email: "bo@uni.test", name: "Bo", role: .student, leftAt: Sample.date)]
}
