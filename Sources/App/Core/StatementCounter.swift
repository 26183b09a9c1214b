// Counts the SQL statements a piece of work issues, read from the database driver's query log (SQLite logs each one
// at debug level as "Executing query"): a check of cost that grows with nothing but what it should, used by tests
// (`withTestApp(statements:)` makes it the platform's logger from the start, so every pooled connection logs to it)
// and by bench/insight (a database handle with its logger). It counts only inside `count`, and passes everything
// else at warning and above on as the usual logger would.
import Logging
import NIOConcurrencyHelpers
import Vapor

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
