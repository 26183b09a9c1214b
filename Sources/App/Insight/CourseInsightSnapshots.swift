// The overview of a course as last computed: read from `course_insights` while it is younger than `maximumAge`,
// computed again (and kept) when older, missing, or asked for. Computing a 500-student course's overview reads every
// hand-in (about half a second); reading the snapshot is one statement, so pages stay fast in the busiest week.
// Upserted on the course, so two views computing at once leave one row.
import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Vapor

enum CourseInsightSnapshots {
    static let maximumAge: TimeInterval = 15 * 60

    /// Younger than `maximumAge`, and not from the future (a stored time may read back a hair later than it was
    /// written, and processes' clocks differ by a little: a second is allowed).
    static func fresh(_ computedAt: Date, now: Date) -> Bool {
        now.timeIntervalSince(computedAt) < maximumAge && computedAt.timeIntervalSince(now) < 1
    }

    /// A person's refresh (the API's `?refresh=true`, the page's button) recomputes an overview at most once a minute.
    static let soonestRefresh: TimeInterval = 60

    /// The overview's JSON as the API sends it (ContentConfiguration's encoder) and the time it was computed.
    /// `byPerson`: the refresh was asked for by someone, so it is not honoured within `soonestRefresh` of the last
    /// computation (a button pressed in a loop must not recompute a large course each time).
    static func current(_ course: Course, now: Date, refresh: Bool = false, byPerson: Bool = false, on db: any Database) async throws -> (json: String, computedAt: Date) {
        let courseID = try course.requireID(), sql = try db.sqlDatabase()
        if !refresh || byPerson, let row = try await sql.select().column("body").column("computed_at").from("course_insights")
            .where("course_id", .equal, courseID).first() {
            let computedAt = try row.decode(column: "computed_at", as: Date.self)
            if fresh(computedAt, now: now), !refresh || now.timeIntervalSince(computedAt) < soonestRefresh {
                return (try row.decode(column: "body", as: String.self), computedAt)
            }
        }
        let overview = try await CourseInsights.overview(course, now: now, on: db)
        var buffer = ByteBuffer(), headers = HTTPHeaders()
        try ContentConfiguration.global.requireEncoder(for: .json).encode(overview, to: &buffer, headers: &headers)
        let json = String(buffer: buffer)
        try await sql.insert(into: "course_insights").columns("id", "course_id", "body", "computed_at")
            .values(SQLBind(UUID()), SQLBind(courseID), SQLBind(json), SQLBind(now))
            .onConflict(with: ["course_id"]) {
                // A slower computation that began earlier does not overwrite a newer one.
                $0.set(excludedValueOf: "id").set(excludedValueOf: "body").set(excludedValueOf: "computed_at")
                    .where(SQLColumn("computed_at", table: "course_insights"), .lessThanOrEqual, SQLExcludedColumn("computed_at"))
            }.run()
        return (json, now)
    }

    /// The snapshot decoded, for the page. Decoding a 500-student overview's JSON was a quarter of the page's time, so
    /// each process keeps the latest decoded overview per course, keyed by the row's id (new with each computation): a
    /// view reads only the id and the time, and decodes again only when another process or a refresh wrote a new one.
    static func overview(_ course: Course, now: Date, refresh: Bool = false, cache: DecodedCache, on db: any Database) async throws -> CourseOverviewDTO {
        try await kept(course, now: now, refresh: refresh, cache: cache, on: db).overview
    }

    /// The decoded overview with its charts, as kept.
    static func kept(_ course: Course, now: Date, refresh: Bool = false, cache: DecodedCache, on db: any Database) async throws -> DecodedCache.Entry {
        let courseID = try course.requireID()
        let sql = try db.sqlDatabase()
        if !refresh, let row = try await sql.select().column("id").column("computed_at").from("course_insights").where("course_id", .equal, courseID).first() {
            let computedAt = try row.decode(column: "computed_at", as: Date.self)
            if fresh(computedAt, now: now), let kept = cache.get(courseID, version: try row.decode(column: "id", as: UUID.self)) {
                return kept
            }
        }
        _ = try await current(course, now: now, refresh: refresh, on: db)
        // Read back with its id: the row another view may have written meanwhile is as good as this one's.
        guard let row = try await sql.select().column("id").column("body").from("course_insights").where("course_id", .equal, courseID).first() else {
            throw Abort(.internalServerError, reason: "The course's overview was not kept.")
        }
        let body = try row.decode(column: "body", as: String.self)
        let overview: CourseOverviewDTO
        do {
            overview = try ContentConfiguration.global.requireDecoder(for: .json).decode(CourseOverviewDTO.self, from: ByteBuffer(string: body), headers: [:])
        } catch where !refresh {
            // Kept by an earlier version of the platform in another shape: computed again.
            return try await kept(course, now: now, refresh: true, cache: cache, on: db)
        }
        let entry = DecodedCache.Entry(version: try row.decode(column: "id", as: UUID.self), overview: overview, charts: CourseOverviewPage.Charts(overview))
        cache.put(courseID, entry)
        return entry
    }

    /// The decoded overviews this process keeps, with their charts drawn: the latest per course, for at most 64 courses.
    final class DecodedCache: Sendable {
        struct Entry: Sendable {
            var version: UUID
            var overview: CourseOverviewDTO
            var charts: CourseOverviewPage.Charts
        }
        private let kept = NIOLockedValueBox([UUID: Entry]())

        func get(_ course: UUID, version: UUID) -> Entry? {
            kept.withLockedValue { $0[course].flatMap { $0.version == version ? $0 : nil } }
        }

        func put(_ course: UUID, _ entry: Entry) {
            kept.withLockedValue { kept in
                if kept.count >= 64, kept[course] == nil, let oldest = kept.min(by: { $0.value.overview.asOf < $1.value.overview.asOf })?.key { kept[oldest] = nil }
                kept[course] = entry
            }
        }
    }
}

extension Application {
    private struct InsightCacheKey: StorageKey { typealias Value = CourseInsightSnapshots.DecodedCache }

    /// This process's decoded course overviews (see `CourseInsightSnapshots.overview`), made by `configure`.
    var insightCache: CourseInsightSnapshots.DecodedCache {
        get { storage[InsightCacheKey.self] ?? CourseInsightSnapshots.DecodedCache() }
        set { storage[InsightCacheKey.self] = newValue }
    }
}
