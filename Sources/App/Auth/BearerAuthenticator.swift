// Authorization: Bearer cc_… on the JSON API: the key is looked up on every request, so a revoked key stops at once.
import Vapor
import Fluent

struct BearerAuthenticator: AsyncBearerAuthenticator {
    func authenticate(bearer: BearerAuthorization, for request: Request) async throws {
        guard let key = try await APIKeys.key(for: bearer.token, on: request.db) else { return }
        request.storage[Credentials.BearerOrigin.self] = Credentials.Origin(
            method: key.madeWith.flatMap(Credentials.SignInMethod.init(rawValue:)) ?? .password, lms: key.ltiRegistrationID)
        request.auth.login(key.user)
    }
}

/// The session cookie names a person; a deactivated person, or a session begun before their password last changed,
/// is signed out at the next request.
struct ActiveUserSessionAuthenticator: AsyncSessionAuthenticator {
    typealias User = App.User
    func authenticate(sessionID: UUID, for request: Request) async throws {
        switch try await Credentials.sessionPerson(sessionID, session: request.session.data, on: request.db) {
        case .signedIn(let user):
            request.auth.login(user)
            // Written once a day: its cookie then goes out again with a fresh week (`SessionCookieRule`).
            Credentials.stampDay(request)
        case .nobody: return
        case .outdated: request.session.destroy()
        }
    }
}

extension User: Authenticatable {}
extension User: ModelSessionAuthenticatable {}
