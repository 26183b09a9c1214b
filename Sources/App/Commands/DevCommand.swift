// Tools for development, tests and benchmarks: `campuscloud dev fake-upstream` serves an OpenAI-compatible model
// API with deterministic replies, so the gateway, its tests and the demo work without any provider's secret.
import ArgumentParser
import Foundation
import Vapor

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Development tools.", subcommands: [FakeUpstreamCommand.self])
}

struct FakeUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-upstream",
        abstract: "Serve a fake OpenAI-compatible model API on 127.0.0.1 (deterministic replies, streaming, usage).",
        discussion: "Register it as a provider with base URL http://127.0.0.1:PORT/v1. Stop with Ctrl-C.")

    @ArgumentParser.Option(help: "Port to listen on.") var port = 8090
    @ArgumentParser.Option(help: "Milliseconds before each reply and between streamed chunks.") var delayMs = 0
    @ArgumentParser.Option(help: "Answer every request with this HTTP status (a failing provider).") var failStatus: Int?
    @ArgumentParser.Option(help: "Require this bearer token (as a real provider would).") var requireKey: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535.") }
        guard (0...600_000).contains(delayMs) else { throw ValidationError("--delay-ms must be between 0 and 600000.") }
        if let failStatus, !(400...599).contains(failStatus) { throw ValidationError("--fail-status must be an HTTP error status (400–599).") }
    }

    func run() async throws {
        let options = FakeUpstreamOptions(delayMs: delayMs, failStatus: failStatus, requiredAuthorization: requireKey.map { "Bearer \($0)" })
        let (app, bound) = try await FakeUpstream.start(port: port, options: options)
        say("fake upstream: http://127.0.0.1:\(bound)/v1 (delay \(delayMs) ms\(failStatus.map { ", failing with \($0)" } ?? "")); stop with Ctrl-C")
        await Signals.wait(for: [SIGINT, SIGTERM])
        await FakeUpstream.stop(app)
    }
}
