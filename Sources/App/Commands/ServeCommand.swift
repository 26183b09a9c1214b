import ArgumentParser

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the web server: pages, the JSON API, /healthz and /metrics.",
        discussion: "Migrations must already be applied (`campuscloud migrate`), unless --auto-migrate is given.")

    @ArgumentParser.OptionGroup var server: ServerOptions
    @ArgumentParser.Flag(help: "Apply pending migrations before serving.") var autoMigrate = false

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: autoMigrate)
            try await PlatformRuntime.serve(app, hostname: server.hostname, port: server.port)
        }
    }
}
