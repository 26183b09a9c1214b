// The web sessions' store (the database, `_fluent_sessions`) without a write for every page: Vapor's sessions
// middleware saves a request's session whenever it has one, changed or not, so each page view of a signed-in
// person wrote a row (on SQLite, through its one writer). This driver remembers what it read for the request and
// saves only data that differs from it; it reads only the data column; creating and deleting are the database's as before.
// It notes whether a write found its session still there, for `SessionCookieRule`.
import Fluent
import SQLKit
import Vapor

struct QuietSessions: SessionDriver {
    let base: any SessionDriver

    private struct ReadKey: StorageKey { typealias Value = SessionData }

    /// Set when this request wrote its session and found it still there afterwards (`SessionCookieRule` sends the
    /// cookie again only then): a session ended meanwhile (signed out, or someone else signed in with this browser) is
    /// not brought back to the browser by a late reply.
    struct Written: StorageKey { typealias Value = Bool }

    func createSession(_ data: SessionData, for request: Request) -> EventLoopFuture<SessionID> {
        base.createSession(data, for: request)
    }

    /// The session's data alone, in plain SQL (Fluent's query builder and model decoding were a share of every
    /// signed-in page).
    func readSession(_ sessionID: SessionID, for request: Request) -> EventLoopFuture<SessionData?> {
        request.eventLoop.makeFutureWithTask {
            let row = try await request.db.sqlDatabase().raw("""
                SELECT data FROM \(ident: SessionRecord.schema) WHERE key = \(bind: sessionID.string)
                """).first()
            let data = try row?.decode(column: "data", as: SessionData.self)
            request.storage[ReadKey.self] = data
            return data
        }
    }

    func updateSession(_ sessionID: SessionID, to data: SessionData, for request: Request) -> EventLoopFuture<SessionID> {
        if let read = request.storage[ReadKey.self], read == data { return request.eventLoop.makeSucceededFuture(sessionID) }
        return base.updateSession(sessionID, to: data, for: request).flatMap { id in
            request.eventLoop.makeFutureWithTask {
                request.storage[ReadKey.self] = data
                let there = try await request.db.sqlDatabase().raw("""
                    SELECT key FROM \(ident: SessionRecord.schema) WHERE key = \(bind: sessionID.string)
                    """).first()
                request.storage[Written.self] = there != nil
                return id
            }
        }
    }

    func deleteSession(_ sessionID: SessionID, for request: Request) -> EventLoopFuture<Void> {
        request.storage[ReadKey.self] = nil
        return base.deleteSession(sessionID, for: request)
    }
}
