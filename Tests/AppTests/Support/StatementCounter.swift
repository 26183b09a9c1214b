// Counts the SQL statements a piece of work issues, read from the database driver's query log (SQLite logs each one
// at debug level as "Executing query"): a test of cost that grows with nothing but what it should. The platform's
// logger is this counter's from the start (`withTestApp(statements:)`), so every pooled connection logs to it; it
// counts only inside `count`, and passes everything else at warning and above on as the usual logger would.
import Logging
import NIOConcurrencyHelpers
import Vapor
@testable import App

final class StatementCounter: @unchecked Sendable {
    private struct State { var counting = false; var statements: [String] = [] }
    private let state = NIOLockedValueBox(State())

    var statements: [String] { state.withLockedValue { $0.statements } }

    /// The logger the platform starts with.
    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { label in Handler(counter: self, next: StreamLogHandler.standardError(label: label)) }
        logger.logLevel = .debug
        return logger
    }

    /// The statements `work` issues.
    func count(_ work: () async throws -> Void) async throws -> Int {
        state.withLockedValue { $0 = State(counting: true) }
        defer { state.withLockedValue { $0.counting = false } }
        try await work()
        return statements.count
    }

    struct Handler: LogHandler {
        let counter: StatementCounter
        var next: any LogHandler
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            if event.message.description == "Executing query" {
                let sql = event.metadata?["sql"].map { "\($0)" } ?? "?"
                counter.state.withLockedValue { if $0.counting { $0.statements.append(sql) } }
            } else if event.level >= .warning {
                next.log(event: event)
            }
        }
    }
}
