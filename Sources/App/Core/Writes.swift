// Where domain code writes: the database and this process's turn to write. On SQLite one transaction writes at a time,
// and a transaction that read first and writes later fails ("database is locked", SQLITE_BUSY_SNAPSHOT) when another
// connection wrote in between, whatever the busy timeout. So on SQLite a write transaction takes the write lock first
// (others wait in the busy timeout), and this process's write transactions queue at `LedgerWriteGate`; on
// PostgreSQL it is an ordinary transaction. Domain functions that write several rows take a `Writes` rather than an
// Application; handlers pass `req.writes`.
import Fluent
import SQLKit
import Vapor

struct Writes: Sendable {
    let db: any Database
    /// Set on SQLite only (see `useDatabase`).
    let gate: LedgerWriteGate?

    /// Whether the error is a unique (or other constraint) violation: someone else wrote the same row first.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? any DatabaseError)?.isConstraintFailure == true
    }

    /// `body` in one transaction, in this process's turn to write.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        guard let gate, !db.inTransaction else { return try await db.transaction(body) }
        return try await gate.run {
            try await db.transaction { tx in
                // A write first, so the transaction holds SQLite's write lock from its start (as BEGIN IMMEDIATE
                // would; Fluent begins deferred): it waits for other writers in the busy timeout, and no other
                // connection can write between its reads and its writes. The statement changes no row.
                try await tx.sqlDatabase().raw("UPDATE \(unsafeRaw: PlatformSetting.schema) SET value = value WHERE 0 = 1").run()
                return try await body(tx)
            }
        }
    }
}

extension Request {
    var writes: Writes { Writes(db: db, gate: application.ledgerGate) }
}

extension Application {
    private struct LedgerGateKey: StorageKey { typealias Value = LedgerWriteGate }

    /// The write queue on SQLite (set in `useDatabase`); nil on PostgreSQL.
    var ledgerGate: LedgerWriteGate? {
        get { storage[LedgerGateKey.self] }
        set { storage[LedgerGateKey.self] = newValue }
    }

    var writes: Writes { Writes(db: db, gate: ledgerGate) }

    /// Runs `body`, which writes, in this process's turn to write: on SQLite the write queue (`LedgerWriteGate`),
    /// so this process's writers wait for each other in order and are woken at once, rather than meeting SQLite's
    /// lock and sleeping in its busy handler (a millisecond and more, while a sandbox slot waits); on PostgreSQL
    /// at once. Take it before leasing a connection, never while holding one.
    func writing<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        if let gate = ledgerGate { return try await gate.run(body) }
        return try await body()
    }

    /// A transaction that writes several rows, in this process's turn to write (see `Writes`).
    func writeTransaction<T: Sendable>(on db: any Database, _ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        try await Writes(db: db, gate: ledgerGate).transaction(body)
    }
}

/// Queues this process's multi-statement write transactions on SQLite (SQLite has one writer at a time anyway): the
/// ledger's, and every `Writes.transaction`.
actor LedgerWriteGate {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        while busy { await withCheckedContinuation { waiting.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiting.isEmpty { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
