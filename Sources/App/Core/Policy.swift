// Who may do what: the one place that decides. Every route asks it. A refusal about something the person may not
// even know exists answers 404, so ids leak nothing.
import Foundation
import Vapor

enum Policy {
    enum Action: Equatable {
        /// See or change one's own profile and memberships.
        case viewSelf
        /// See or revoke an API key.
        case manageKey(ownerID: UUID)
    }

    static func allows(_ user: User, _ action: Action) -> Bool {
        guard user.isActive else { return false }
        switch action {
        case .viewSelf: return true
        case .manageKey(let ownerID): return user.id == ownerID
        }
    }

    static func require(_ user: User, can action: Action) throws {
        guard allows(user, action) else { throw Abort(.notFound) }
    }
}
