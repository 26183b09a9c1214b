// `campuscloud admin …`: what an administrator does from the server's shell (no mail server is assumed, so links
// are printed for the administrator to pass on).
import ArgumentParser
import Fluent
import Vapor

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Create people, print password links, rotate the LTI tool's signing key.",
        subcommands: [CreateUser.self, ResetLink.self, RotateLTIKey.self])

    struct RotateLTIKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-lti-key",
            abstract: "Publish a new LTI signing key; it signs from a day later, and the one it replaces is published a day more.")

        @ArgumentParser.Flag(help: "The new key signs at once and the old ones are withdrawn (a key that must not sign any more).")
        var now = false

        func run() async throws {
            try await PlatformRuntime.withApplication { app in
                try await PlatformRuntime.ensureMigrated(app, apply: false)
                for key in try await LTIToolKeys.rotate(secret: app.platformSecret, immediately: now, on: app.db, now: app.clock.now()) {
                    say("\(key.state)\t\(key.kid)\tsigns from \(key.activatesAt.formatted(.iso8601))")
                }
            }
        }
    }

    struct CreateUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-user",
            abstract: "Create a person and print their invitation link (valid 14 days, once).")

        @ArgumentParser.Option(help: "Their email address.") var email: String
        @ArgumentParser.Option(help: "Their name as others see it.") var name: String
        @ArgumentParser.Flag(help: "Make them a platform administrator.") var admin = false

        func validate() throws {
            guard InputChecks.isPlausibleEmail(User.normalise(email: email)) else { throw ValidationError("'\(email)' is not an email address.") }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--name must not be empty.") }
        }

        func run() async throws {
            try await PlatformRuntime.withApplication { app in
                try await PlatformRuntime.ensureMigrated(app, apply: false)
                let normalised = User.normalise(email: email)
                guard try await User.query(on: app.db).filter(\.$email == normalised).first() == nil else {
                    throw StartupError.message("There is already a person with the email \(normalised); use `campuscloud admin reset-link \(normalised)`.")
                }
                let user = User(email: normalised, displayName: name.trimmingCharacters(in: .whitespaces), passwordHash: nil, isAdmin: admin)
                try await user.create(on: app.db)
                let link = try await PasswordLinks.issue(for: user, purpose: .invitation, on: app.db)
                say("Created \(normalised)\(admin ? " (administrator)" : ""). Invitation link, valid 14 days, once:")
                say(app.platformConfig.absolute(link))
            }
        }
    }

    struct ResetLink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-link",
            abstract: "Print a link with which a person sets a new password (valid 24 hours, once).")

        @ArgumentParser.Argument(help: "Their email address.") var email: String

        func run() async throws {
            try await PlatformRuntime.withApplication { app in
                try await PlatformRuntime.ensureMigrated(app, apply: false)
                let normalised = User.normalise(email: email)
                guard let user = try await User.query(on: app.db).filter(\.$email == normalised).first() else {
                    throw StartupError.message("There is nobody with the email \(normalised).")
                }
                let link = try await PasswordLinks.issue(for: user, purpose: .reset, on: app.db)
                say("Reset link for \(normalised), valid 24 hours, once:")
                say(app.platformConfig.absolute(link))
            }
        }
    }
}
