import ArgumentParser

/// Where `serve` and `demo` listen.
struct ServerOptions: ParsableArguments {
    @ArgumentParser.Option(help: "Address to listen on (0.0.0.0 for every interface).") var hostname = "127.0.0.1"
    @ArgumentParser.Option(help: "Port to listen on.") var port = 8080

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535.") }
    }
}
