// The gradebook page's kept scores. Each (course, student) row holds that student's counted scores, one per
// assignment they have one for, so a page of 50 students reads 50 short rows rather than every hand-in of theirs
// (5,000 in a course of 20 assignments × 5 attempts). The transaction that changes one of a student's scores (a
// result recorded or failed, a regrade queued, an adjustment) stamps that student's row stale, last in it (one
// statement: a graded hand-in's bookkeeping stays small); a change to a rule that counts for every student (an
// assignment's counted attempt, late policy or due date) bumps the course's generation instead, with the rule. A row
// counts only while its generation and format are the course's and `format`; the page rebuilds the rows it finds
// missing or stale, a page's at once in one write transaction (which is also how rows come to exist).
// The API (a page of students), the CSV, the student's view and the insights compute from the hand-ins (`GradebookData.load`).
//
// Concurrency: on SQLite every stamp and rebuild runs in a write transaction, one at a time. On PostgreSQL (read
// committed) both a stamp and a rebuild begin by inserting their students' rows or locking them (an insert that meets
// another transaction's uncommitted row waits for it): a rebuild then reads the generation, the rules and the
// hand-ins. Of a stamp and a rebuild of one student, if the rebuild holds the row first, the stamp waits for its
// commit and then makes what it wrote stale; if the stamp holds it first, the rebuild waits for the stamp's commit and
// reads the hand-ins it changed. A rule change commits with its bump: a rebuild that read the old generation is
// stamped with it and so is stale, one that read the new one reads the new rule after it.
import Fluent
import Foundation
import Grading
import Insight
import SQLKit
import Vapor

enum GradebookRows {
    /// The layout of `cells`; a row of another format is stale (raise it when the layout or the arithmetic changes).
    static let format = 1

    /// One hand-in's score may have changed: its student's row is stamped stale, for the page to rebuild (not for a
    /// staff test run). Call it on the changing transaction, after the change.
    static func changed(submission id: UUID, on db: any Database) async throws {
        try await db.sqlDatabase().raw("""
            INSERT INTO gradebook_rows (course_id, user_id, cells, generation, format)
            SELECT a.course_id, s.user_id, '', -1, 0 FROM submissions s JOIN assignments a ON a.id = s.assignment_id
            WHERE s.id = \(bind: id) AND s.is_test_run = \(bind: false)
            ON CONFLICT (course_id, user_id) DO UPDATE SET generation = -1
            """).run()
    }

    /// A rule every student's scores follow changed: every row of the course is stale. On the changing transaction.
    static func bump(courseID: UUID, on db: any Database) async throws {
        try await db.sqlDatabase().raw("""
            INSERT INTO gradebook_courses (course_id, generation) VALUES (\(bind: courseID), 1)
            ON CONFLICT (course_id) DO UPDATE SET generation = gradebook_courses.generation + 1
            """).run()
    }

    /// Rebuilds the rows of `users` in the course from their hand-ins (a user who is no longer a student gets
    /// theirs too); returns each one's cells. Four statements, in a transaction the caller holds (see the top).
    static func refresh(courseID: UUID, users: [UUID], on db: any Database) async throws -> [UUID: String] {
        let users = Array(Set(users)).sorted { $0.uuidString < $1.uuidString }
        guard !users.isEmpty else { return [:] }
        let sql = try db.sqlDatabase()
        // 1. The rows, inserted as stale placeholders or locked as they are, in user order (no lock cycles).
        try await sql.raw("""
            INSERT INTO gradebook_rows (course_id, user_id, cells, generation, format)
            VALUES \(SQLList(users.map { "(\(bind: courseID), \(bind: $0), '', -1, 0)" as SQLQueryString }))
            ON CONFLICT (course_id, user_id) DO UPDATE SET generation = gradebook_rows.generation
            """).run()
        // 2. The generation, before the rules.
        let generation = try await sql.raw("SELECT generation FROM gradebook_courses WHERE course_id = \(bind: courseID)").first()?
            .decode(column: "generation", as: Int.self) ?? 0
        // 3. The rules and the hand-ins.
        let assignments = try await GradebookData.columns(of: courseID, on: db)
        let byCell = try await GradebookData.handIns(courseID: courseID, assignments: assignments, users: users, onlyThem: true, on: db)
        var cells: [UUID: String] = [:]
        for user in users {
            cells[user] = try assignments.compactMap { assignment -> String? in
                guard let score = GradebookData.counted(byCell[.init(user: user, assignment: assignment.id!)] ?? [], assignment: assignment) else { return nil }
                return try assignment.requireID().uuidString.lowercased() + "=" + score.description
            }.joined(separator: ";")
        }
        // 4. The rows, with the generation read in 2.
        try await sql.raw("""
            INSERT INTO gradebook_rows (course_id, user_id, cells, generation, format)
            VALUES \(SQLList(users.map { "(\(bind: courseID), \(bind: $0), \(bind: cells[$0]!), \(bind: generation), \(bind: format))" as SQLQueryString }))
            ON CONFLICT (course_id, user_id) DO UPDATE SET cells = excluded.cells, generation = excluded.generation, format = excluded.format
            """).run()
        return cells
    }

    /// A page of the gradebook (`number` from 1): the columns, the students in the order of their names with their
    /// displayed scores, and how many students the course has. Two statements when its rows are current; a stale
    /// or missing row is rebuilt first (one write transaction for the page's).
    static func page(_ course: Course, number: Int, per: Int, writes: Writes) async throws -> Page {
        let db = writes.db, sql = try db.sqlDatabase(), courseID = try course.requireID()
        let number = min(max(number, 1), 1_000_000), per = min(max(per, 1), 1_000)
        // The columns in plain SQL, in `GradebookData.columns`' order: decoding Fluent models (reflection) was a tenth
        // of the page's time.
        let columns = try await sql.raw("""
            SELECT id, title, points_possible FROM assignments WHERE course_id = \(bind: courseID) ORDER BY due_at, created_at, id
            """).all().map { Page.Column(id: try $0.decode(column: "id", as: UUID.self), title: try $0.decode(column: "title", as: String.self),
                                         pointsPossible: try $0.decode(column: "points_possible", as: Double?.self)) }
        let rows = try await sql.raw("""
            SELECT p.id, p.display_name, p.email, r.cells, r.generation, r.format,
                (SELECT generation FROM gradebook_courses WHERE course_id = \(bind: courseID)) AS current,
                (SELECT count(*) FROM course_members WHERE course_id = \(bind: courseID) AND role = 'student') AS total
            FROM (SELECT u.id, u.display_name, u.email, u.sort_key FROM course_members m JOIN users u ON u.id = m.user_id
                  WHERE m.course_id = \(bind: courseID) AND m.role = 'student' ORDER BY u.sort_key, u.email
                  LIMIT \(literal: per) OFFSET \(literal: (number - 1) * per)) p
            LEFT JOIN gradebook_rows r ON r.course_id = \(bind: courseID) AND r.user_id = p.id
            ORDER BY p.sort_key, p.email
            """).all()
        var students: [Page.Student] = [], stale: [UUID] = []
        // The count comes with the page's rows; a page past the last student counts them on its own.
        let total = if let first = rows.first { try first.decode(column: "total", as: Int.self) } else {
            try await CourseMember.query(on: db).filter(\.$course.$id == courseID).filter(\.$role == .student).count()
        }
        for row in rows {
            let id = try row.decode(column: "id", as: UUID.self), current = try row.decode(column: "current", as: Int?.self) ?? 0
            let cells = try row.decode(column: "cells", as: String?.self)
            let valid = try cells != nil && row.decode(column: "generation", as: Int?.self) == current && row.decode(column: "format", as: Int?.self) == format
            if !valid { stale.append(id) }
            students.append(.init(id: id, name: try row.decode(column: "display_name", as: String.self), email: try row.decode(column: "email", as: String.self),
                                  cells: valid ? cells! : ""))
        }
        if !stale.isEmpty {
            let users = stale
            let rebuilt = try await writes.transaction { tx in try await refresh(courseID: courseID, users: users, on: tx) }
            for index in students.indices { if let cells = rebuilt[students[index].id] { students[index].cells = cells } }
        }
        return Page(columns: columns, students: students, total: total, rebuilt: stale.count)
    }

    struct Page {
        struct Student { var id: UUID; var name: String; var email: String; var cells: String }
        struct Column { var id: UUID; var title: String; var pointsPossible: Double? }
        var columns: [Column]
        var students: [Student]
        var total: Int
        /// How many of the page's rows were rebuilt.
        var rebuilt: Int

        /// Each student's scores, one per column (nil: nothing counted), read from the kept cells byte by byte: an
        /// assignment id's 32 hex digits as two integers, looked up among the columns' (reading them as Characters
        /// was a fifth of the page's time).
        var scores: [[Double?]] {
            struct Key: Hashable { var high: UInt64; var low: UInt64 }
            func key<C: Collection<UInt8>>(_ text: C) -> Key? {
                var (high, low, digits): (UInt64, UInt64, Int) = (0, 0, 0)
                for byte in text where byte != UInt8(ascii: "-") {
                    let value: UInt8
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): value = byte - UInt8(ascii: "A") + 10
                    default: return nil
                    }
                    if digits < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
                    digits += 1
                }
                return digits == 32 ? Key(high: high, low: low) : nil
            }
            var index: [Key: Int] = [:]
            for (offset, column) in columns.enumerated() { if let id = key(column.id.uuidString.utf8) { index[id] = offset } }
            return students.map { student in
                var scores = [Double?](repeating: nil, count: columns.count)
                let bytes = Array(student.cells.utf8)
                var start = 0
                while start < bytes.count {
                    let end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
                    if let equals = bytes[start..<end].firstIndex(of: UInt8(ascii: "=")), let id = key(bytes[start..<equals]), let column = index[id],
                       let score = Double(String(decoding: bytes[(equals + 1)..<end], as: UTF8.self)) {
                        scores[column] = score
                    }
                    start = end + 1
                }
                return scores
            }
        }

        /// The table's head: a column per assignment, linked, with its points.
        func tableHead(assignmentLink: (UUID) -> String) -> String {
            var html = "<tr><th scope=\"col\">Student</th><th scope=\"col\">Email</th>"
            for column in columns {
                html += "<th scope=\"col\"><a href=\"" + SVGChart.escape(assignmentLink(column.id)) + "\">" + SVGChart.escape(column.title) + "</a>"
                if let points = column.pointsPossible { html += " (" + Gradebook.number(points) + ")" }
                html += "</th>"
            }
            return html + "</tr>"
        }

        /// The table's body: a row per student, their name linking to their view, escaped here (built without Leaf:
        /// a thousand cells through the template were most of a page's time).
        func tableBody(studentLink: (UUID) -> String) -> String {
            var html = ""
            html.reserveCapacity(students.count * (160 + columns.count * 12))
            for (student, scores) in zip(students, scores) {
                for part in ["<tr><td><a href=\"", SVGChart.escape(studentLink(student.id)), "\">", SVGChart.escape(student.name), "</a></td><td>",
                             SVGChart.escape(student.email), "</td>"] { html += part }
                for score in scores {
                    html += "<td>"
                    if let score { html += Gradebook.number(score) }
                    html += "</td>"
                }
                html += "</tr>\n"
            }
            return html
        }
    }
}
