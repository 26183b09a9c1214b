import ArgumentParser

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the web server: pages, the JSON API, /healthz and /metrics.",
        discussion: "Migrations must already be applied (`campuscloud migrate`), unless --auto-migrate is given.")

    @ArgumentParser.Option(help: "Address to listen on (0.0.0.0 for every interface).") var hostname = "127.0.0.1"
    @ArgumentParser.Option(help: "Port to listen on.") var port = 8080
    @ArgumentParser.Flag(help: "Apply pending migrations before serving.") var autoMigrate = false

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535.") }
    }

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await PlatformRuntime.ensureMigrated(app, apply: autoMigrate)
            try await PlatformRuntime.serve(app, hostname: hostname, port: port)
        }
    }
}
