// The overview of a course as last computed: read from `course_insights` while it is younger than `maximumAge`,
// computed again (and kept) when older, missing, or asked for. Computing a 500-student course's overview reads every
// hand-in (about half a second); reading the snapshot is one statement, so pages stay fast in the busiest week.
// Upserted on the course, so two views computing at once leave one row.
import Fluent
import Foundation
import SQLKit
import Vapor

enum CourseInsightSnapshots {
    static let maximumAge: TimeInterval = 15 * 60

    /// The overview's JSON as the API sends it (ContentConfiguration's encoder) and the time it was computed.
    static func current(_ course: Course, now: Date, refresh: Bool = false, on db: any Database) async throws -> (json: String, computedAt: Date) {
        let courseID = try course.requireID(), sql = try db.sqlDatabase()
        if !refresh, let row = try await sql.select().column("body").column("computed_at").from("course_insights")
            .where("course_id", .equal, courseID).first() {
            let computedAt = try row.decode(column: "computed_at", as: Date.self)
            if now.timeIntervalSince(computedAt) < maximumAge && computedAt <= now { return (try row.decode(column: "body", as: String.self), computedAt) }
        }
        let overview = try await CourseInsights.overview(course, now: now, on: db)
        var buffer = ByteBuffer(), headers = HTTPHeaders()
        try ContentConfiguration.global.requireEncoder(for: .json).encode(overview, to: &buffer, headers: &headers)
        let json = String(buffer: buffer)
        try await sql.insert(into: "course_insights").columns("id", "course_id", "body", "computed_at")
            .values(SQLBind(UUID()), SQLBind(courseID), SQLBind(json), SQLBind(now))
            .onConflict(with: ["course_id"]) { $0.set(excludedValueOf: "body").set(excludedValueOf: "computed_at") }.run()
        return (json, now)
    }

    /// The snapshot decoded, for the page.
    static func overview(_ course: Course, now: Date, refresh: Bool = false, on db: any Database) async throws -> CourseOverviewDTO {
        let (json, _) = try await current(course, now: now, refresh: refresh, on: db)
        return try ContentConfiguration.global.requireDecoder(for: .json).decode(CourseOverviewDTO.self, from: ByteBuffer(string: json), headers: [:])
    }
}
