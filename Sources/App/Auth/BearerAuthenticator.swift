// Authorization: Bearer cc_… on the JSON API: the key is looked up on every request, so a revoked key stops at once.
import Vapor
import Fluent

struct BearerAuthenticator: AsyncBearerAuthenticator {
    func authenticate(bearer: BearerAuthorization, for request: Request) async throws {
        if let user = try await APIKeys.user(for: bearer.token, on: request.db) { request.auth.login(user) }
    }
}

/// The session cookie names a person; a deactivated person is signed out at their next request.
struct ActiveUserSessionAuthenticator: AsyncSessionAuthenticator {
    typealias User = App.User
    func authenticate(sessionID: UUID, for request: Request) async throws {
        if let user = try await User.find(sessionID, on: request.db), user.isActive { request.auth.login(user) }
    }
}

extension User: Authenticatable {}
extension User: ModelSessionAuthenticatable {}
