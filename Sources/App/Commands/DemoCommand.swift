import ArgumentParser
import Vapor

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Migrate, load the demo data (idempotently), print the sign-ins, then serve.",
        discussion: "Refuses a database that holds anything but demo data.")

    @ArgumentParser.OptionGroup var server: ServerOptions

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await DemoData.refuseForeignDatabase(app)
            try await PlatformRuntime.ensureMigrated(app, apply: true)
            let hash = try await app.password.async.hash(DemoData.password)
            let result = try await DemoData.load(on: app.db, passwordHash: hash)
            let assignments = try await DemoData.loadAssignments(on: app.db) + DemoData.loadResearch(app: app) + DemoData.loadLabs(app: app)
            // The AI gateway's provider in the demo: the built-in fake upstream, on a free port for this run.
            let (upstream, upstreamPort) = try await FakeUpstream.start()
            defer { Task { await FakeUpstream.stop(upstream) } }
            try await DemoData.loadAI(on: app.db, upstream: "http://127.0.0.1:\(upstreamPort)/v1")
            say(result.created + assignments == 0 ? "Demo data already loaded; nothing added." : "Demo data loaded (\(result.created + assignments) records).")
            if assignments > 0 { say("Grading the demo hand-ins, running the research project's jobs and setting up CS101's JupyterLab in the sandbox now.") }
            say("""

            CampusCloud demo: http://\(server.hostname == "0.0.0.0" ? "127.0.0.1" : server.hostname):\(server.port)/
            Sign in with any of these; the password for all is \(DemoData.password)
              admin@demo.test         platform admin, programme manager
              instructor@demo.test    instructor of CS101 and CS340, PI of the research project
              ta@demo.test            TA in CS101
              student1@demo.test … student\(DemoData.students.count)@demo.test
              mentor@partner.test     partner contact and project mentor (Nimbus Cloud)

            AI gateway (OpenAI-compatible): base URL http://\(server.hostname == "0.0.0.0" ? "127.0.0.1" : server.hostname):\(server.port)/v1,
            model \(DemoData.tutorModel); create a key on CS101's "AI access" page (replies come from a built-in fake model).

            """)
            try await PlatformRuntime.serve(app, hostname: server.hostname, port: server.port)
        }
    }
}
