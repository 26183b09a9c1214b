// What every page's layout needs: who is signed in (for the navigation) and the CSRF token for its forms.
import Vapor

struct PageContext: Encodable {
    var userName: String?
    var csrf: String

    init(_ request: Request) {
        userName = request.auth.get(User.self)?.displayName
        csrf = CSRF.token(for: request)
    }
}
