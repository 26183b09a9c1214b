// A launch verified inside an LMS frame whose browser keeps no cookies there (Safari; third-party cookies blocked):
// the browser proved itself through the LMS's storage, but a session cookie would not be kept either, so the person
// continues in a window of their own. The launch's page posts the ticket to /lti/window in a new window (from this
// site's origin only): single-use, five minutes, kept hashed, opening a first-party session where the launch lands.
import Fluent
import Foundation
import Identity
import SQLKit
import Vapor

enum LTIWindowTickets {
    static let lifetime: TimeInterval = 300

    /// A ticket for the landed launch.
    static func issue(for landed: LTILaunches.Landed, on db: any Database, now: Date) async throws -> String {
        try await LTIWindowTicket.query(on: db).filter(\.$expiresAt < now).delete()
        let ticket = PKCE.randomToken()
        let row = LTIWindowTicket()
        (row.ticketHash, row.$user.id, row.destination, row.expiresAt) = (TokenCodec.hash(ticket), try landed.user.requireID(), landed.destination,
                                                                         now.addingTimeInterval(lifetime))
        row.registrationID = landed.registration
        try await row.create(on: db)
        return ticket
    }

    /// Takes a ticket once: its person, where they land and the LMS they came from (nil: unknown, used, expired, or
    /// its LMS switched off since).
    static func take(_ ticket: String, on db: any Database, now: Date) async throws -> (user: User, destination: String, registration: UUID)? {
        guard !ticket.isEmpty, ticket.utf8.count <= 100 else { return nil }
        let taken = try await db.sqlDatabase().raw("""
            UPDATE lti_window_tickets SET used_at = \(bind: now)
            WHERE ticket_hash = \(bind: TokenCodec.hash(ticket)) AND used_at IS NULL AND expires_at > \(bind: now)
              AND registration_id IN (SELECT id FROM lti_registrations WHERE enabled = \(bind: true))
            RETURNING user_id, destination, registration_id
            """).first()
        guard let taken, let userID = try? taken.decode(column: "user_id", as: UUID.self),
              let destination = try? taken.decode(column: "destination", as: String.self),
              let registration = try? taken.decode(column: "registration_id", as: UUID.self),
              let user = try await User.find(userID, on: db), user.isActive else { return nil }
        return (user, destination, registration)
    }
}
