import ArgumentParser
import Vapor

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (or revert the last batch with --revert), printing each one.")

    @ArgumentParser.Flag(help: "Revert the last batch of migrations instead of applying.") var revert = false

    func run() async throws {
        try await PlatformRuntime.withApplication { app in
            try await app.migrator.setupIfNeeded().get()
            if revert {
                let batch = try await app.migrator.previewRevertLastBatch().get()
                guard !batch.isEmpty else { return say("Nothing to revert.") }
                try await app.migrator.revertLastBatch().get()
                batch.forEach { say("Reverted \($0.0.name)") }
                say("Reverted \(batch.count) migration(s).")
            } else {
                let pending = try await app.migrator.previewPrepareBatch().get()
                guard !pending.isEmpty else { return say("Database is up to date; nothing to apply.") }
                try await app.migrator.prepareBatch().get()
                pending.forEach { say("Applied \($0.0.name)") }
                say("Applied \(pending.count) migration(s).")
            }
        }
    }
}
