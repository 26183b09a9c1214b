// The ledger's two hot statements on PostgreSQL (a hold, and closing it), as prepared statements: each connection
// parses and plans them once, then only binds and executes. Sent as plain queries, parsing, analysing and planning
// these data-modifying CTEs took about 45% of the server's time under 64 clients, more than running them. The SQL
// and its conditions are the ones `LedgerStore` documents: the UPDATE locks the account (or the hold) and re-checks
// the condition, so a cap holds under any concurrency. A prepared statement's result has a fixed shape, so the closed
// hold's columns are named (a column added to `ledger_holds` later changes nothing here; a statement that returns
// it takes a new name). A connection whose preparing failed (PostgresNIO keeps that failure for the statement's
// name) runs the same SQL unprepared: both statements are safe to run again (a hold's key, a hold's `open` status).
import Fluent
import Foundation
import PostgresKit

enum LedgerPrepared {
    /// Takes `amount` from the account into a new open hold, with its `reserve` entry, when the account has it free,
    /// has not expired and no hold has the key; returns 1 when taken, else 0.
    struct Reserve: PostgresPreparedStatement {
        static let name = "campuscloud_ledger_reserve_v1"
        static let sql = """
            WITH account AS (
              UPDATE ledger_accounts SET balance = balance - $1, held = held + $1
              WHERE id = $2 AND balance >= $1 AND (expires_at IS NULL OR expires_at > $3)
                AND NOT EXISTS (SELECT 1 FROM ledger_holds WHERE idempotency_key = $4)
              RETURNING programme_id),
            hold AS (
              INSERT INTO ledger_holds (id, account_id, amount, status, idempotency_key, reason, created_by, origin, expires_at, created_at)
              SELECT $5, $2, $1, 'open', $4, $6, $7, $8, $9, $3 FROM account
              RETURNING id),
            entry AS (
              INSERT INTO ledger_entries (id, programme_id, kind, from_account_id, amount, hold_id, memo, actor_id, created_at)
              SELECT $10, account.programme_id, 'reserve', $2, $1, hold.id, $6, $7, $3 FROM account, hold
              RETURNING id)
            SELECT count(*) AS taken FROM entry
            """
        static let bindingDataTypes: [PostgresDataType] = [.int8, .uuid, .timestamptz, .text, .uuid, .text, .uuid, .text, .timestamptz, .uuid]
        typealias Row = Int64

        var amount: Int64, accountID: UUID, now: Date, key: String, holdID: UUID, reason: String, actor: UUID?, origin: String,
            expires: Date, entryID = UUID()

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 10)
            bindings.append(amount)
            bindings.append(accountID)
            bindings.append(now)
            bindings.append(key)
            bindings.append(holdID)
            bindings.append(reason)
            bindings.append(actor)
            bindings.append(origin)
            bindings.append(expires)
            bindings.append(entryID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    /// Closes an open hold whose amount covers `actual` (settled, or voided with 0): the account gets back what was
    /// not used, with a `settle` entry for what was used and a `release` or `void` entry for the rest; returns the
    /// closed hold's row, or none when the hold was not open (or `actual` is above it).
    struct Close: PostgresPreparedStatement {
        static let name = "campuscloud_ledger_close_v2"
        static let sql = """
            WITH hold AS (
              UPDATE ledger_holds SET status = $1, settled_amount = $2, closed_at = $3, closed_by = $4, close_memo = $5
              WHERE id = $6 AND status = 'open' AND amount >= $7
              RETURNING id, account_id, amount, status, settled_amount, idempotency_key, reason, created_by, origin, expires_at, created_at,
                closed_at, closed_by, close_memo),
            account AS (
              UPDATE ledger_accounts AS a SET held = a.held - hold.amount, spent = a.spent + $7, balance = a.balance + hold.amount - $7
              FROM hold WHERE a.id = hold.account_id
              RETURNING a.programme_id),
            used AS (
              INSERT INTO ledger_entries (id, programme_id, kind, from_account_id, amount, hold_id, memo, actor_id, created_at)
              SELECT $8, account.programme_id, 'settle', hold.account_id, $7, hold.id, hold.reason, $4, $3
              FROM hold, account WHERE $7 > 0
              RETURNING id),
            freed AS (
              INSERT INTO ledger_entries (id, programme_id, kind, to_account_id, amount, hold_id, memo, actor_id, created_at)
              SELECT $10, account.programme_id, $9, hold.account_id, hold.amount - $7, hold.id, coalesce($5, hold.reason), $4, $3
              FROM hold, account WHERE hold.amount > $7
              RETURNING id)
            SELECT id, account_id, amount, status, settled_amount, idempotency_key, reason, created_by, origin, expires_at, created_at,
              closed_at, closed_by, close_memo FROM hold
            """
        static let bindingDataTypes: [PostgresDataType] = [.text, .int8, .timestamptz, .uuid, .text, .uuid, .int8, .uuid, .text, .uuid]
        typealias Row = PostgresRow

        var status: String, settled: Int64?, now: Date, actor: UUID?, memo: String?, holdID: UUID, actual: Int64,
            freedKind: String, usedEntryID = UUID(), freedEntryID = UUID()

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 10)
            bindings.append(status)
            bindings.append(settled)
            bindings.append(now)
            bindings.append(actor)
            bindings.append(memo)
            bindings.append(holdID)
            bindings.append(actual)
            bindings.append(usedEntryID)
            bindings.append(freedKind)
            bindings.append(freedEntryID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// Runs `statement` on the connection `db` uses (a transaction's, or one from the pool). PostgreSQL only.
    static func run<Statement: PostgresPreparedStatement>(_ statement: Statement, on db: any Database) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        guard let postgres = db as? any PostgresDatabase else { throw NotPostgreSQL() }
        let logger = db.logger
        return try await postgres.withConnection { connection in
            connection.eventLoop.makeFutureWithTask {
                var rows: [Statement.Row] = []
                do {
                    for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
                } catch let first as PSQLError where !Writes.isUniqueViolation(first) && !connection.isClosed && rows.isEmpty {
                    // Not prepared on this connection (or its run failed): the same SQL and values, unprepared. When
                    // that fails too (an aborted transaction), the first error is the one that tells why.
                    do {
                        let query = PostgresQuery(unsafeSQL: Statement.sql, binds: try statement.makeBindings())
                        for try await row in try await connection.query(query, logger: logger) { rows.append(try statement.decodeRow(row)) }
                    } catch let retry where Writes.isUniqueViolation(retry) {
                        throw retry
                    } catch {
                        throw first
                    }
                }
                return rows
            }
        }.get()
    }

    struct NotPostgreSQL: Error, CustomStringConvertible {
        var description: String { "the ledger's prepared statements run on PostgreSQL only" }
    }
}
