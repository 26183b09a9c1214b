// Checks an email and password. An unknown email costs the same bcrypt work as a wrong password, so timing tells
// nothing about which accounts exist.
import Fluent
import Vapor

enum Credentials {
    /// A bcrypt hash of a random password, verified against when the account does not exist.
    private static let decoyHash = "$2b$12$QbZ9jNRGvvB2wsfnxcoWPOL./flTBYqjQzD3mb4IPfanzodZnZzbO"

    static func user(email: String, password: String, on request: Request) async throws -> User? {
        let normalised = User.normalise(email: email)
        let user = normalised.isEmpty ? nil : try await User.query(on: request.db).filter(\.$email == normalised).first()
        let hash = user?.passwordHash ?? decoyHash
        let matches = (try? await request.password.async.verify(password, created: hash)) ?? false
        guard let user, user.passwordHash != nil, matches, user.isActive else { return nil }
        return user
    }
}
