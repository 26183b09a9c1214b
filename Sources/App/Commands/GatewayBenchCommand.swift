// bench/gateway's set-up (hidden): the demo, a provider at the fake upstream, a model and a student's key in the
// configured database; prints the key. bench/gateway then starts `campuscloud serve` on that database and loads it
// with wrk from outside, beside the upstream alone and LiteLLM.
import ArgumentParser
import Fluent
import Foundation
import Ledger
import Vapor

struct GatewayBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway-bench", abstract: "Prepare the AI gateway's benchmark (for bench/gateway); prints a key.",
                                                    shouldDisplay: false)

    @ArgumentParser.Option(help: "The fake upstream's base URL (…/v1).") var upstream: String
    @ArgumentParser.Option(help: "The course's per-minute limit (none when left out).") var requestsPerMinute: Int?

    func run() async throws {
        let token = try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: true)
            return try await prepare(app, upstream: upstream)
        }
        say(token)
    }

    /// The demo's people and credits, a provider at the upstream, a model, a policy (with the per-minute limit
    /// asked for, or none), a big allowance for student 1, and their key.
    func prepare(_ app: Application, upstream: String) async throws -> String {
        _ = try await DemoData.load(on: app.db, passwordHash: try Bcrypt.hash(DemoData.password, cost: 4), credits: true)
        let provider = AIProvider(name: "bench-\(UUID().uuidString.prefix(8))", baseURL: upstream, secretEnv: nil)
        try await provider.create(on: app.db)
        if try await AIModel.query(on: app.db).filter(\.$name == "bench-model").first() == nil {
            var input = ModelInput()
            (input.name, input.provider, input.inputPrice, input.outputPrice) = ("bench-model", provider.name, "0.5", "1.5")
            _ = try await AICatalogue.addModel(input, app: app, on: app.db)
        }
        guard let course = try await Course.query(on: app.db).filter(\.$code == "CS101").first(),
              let student = try await User.query(on: app.db).filter(\.$email == "student1@demo.test").first(),
              let instructor = try await User.query(on: app.db).filter(\.$email == DemoData.instructor.email).first() else {
            throw CommandFailure("the demo course is missing")
        }
        var policy = AIPolicyInput()
        policy.requestsPerMinuteGiven = true  // null: no limit
        policy.requestsPerMinute = requestsPerMinute
        policy.allowedModels = []
        _ = try await AIPolicies.update(course, policy, by: instructor, app: app, on: app.db)
        _ = try await app.ledger.setAllowance(of: student, in: .course(course), to: Credits(whole: 500), actor: nil)
        guard let token = try await AIKeys.issue(to: student, in: course, name: "bench", origin: .password, on: app.db).token else { throw CommandFailure("no key") }
        return token
    }
}
