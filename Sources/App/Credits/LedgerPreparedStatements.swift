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
import Ledger
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
        typealias Row = ClosedHold

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

        func decodeRow(_ row: PostgresRow) throws -> ClosedHold { try ClosedHold(row.decode(ClosedHold.Columns.self)) }
    }

    /// A closed hold's row as `Close` and `CloseBatch` return it, decoded by position: Fluent's decoding of a model
    /// (reflection over its properties) was a quarter of the process's time under `bench/ledger`.
    struct ClosedHold: Sendable {
        typealias Columns = (UUID, UUID, Int64, String, Int64?, String, String, UUID?, String, Date, Date?, Date?, UUID?, String?)
        let columns: Columns

        init(_ columns: Columns) { self.columns = columns }

        func model() throws -> LedgerHold {
            let hold = LedgerHold()
            (hold.id, hold.$account.id, hold.amount) = (columns.0, columns.1, columns.2)
            guard let status = HoldStatus(rawValue: columns.3), let origin = HoldOrigin(rawValue: columns.8) else {
                throw PostgresDecodingError.Code.failure
            }
            (hold.status, hold.settledAmount, hold.idempotencyKey, hold.reason, hold.createdBy) = (status, columns.4, columns.5, columns.6, columns.7)
            (hold.origin, hold.expiresAt, hold.createdAt) = (origin, columns.9, columns.10)
            (hold.closedAt, hold.closedBy, hold.closeMemo) = (columns.11, columns.12, columns.13)
            hold.$id.exists = true
            return hold
        }
    }

    /// Many `Reserve`s in one statement (`LedgerBatches`): each row takes its amount from its own account under the
    /// same conditions; returns the ordinals (from 1) of the rows taken. The accounts must be distinct (one UPDATE
    /// changes a row once). The accounts are locked first, in id order (`locked`: the join's plan would otherwise lock
    /// them in whatever order it reads them, which on a small table is the table's). A person is none: the zero UUID.
    struct ReserveBatch: PostgresPreparedStatement {
        static let name = "campuscloud_ledger_reserve_batch_v2"
        static let sql = """
            WITH locked AS MATERIALIZED (
              SELECT id FROM ledger_accounts WHERE id = ANY($2::uuid[]) ORDER BY id FOR NO KEY UPDATE),
            account AS (
              UPDATE ledger_accounts AS a SET balance = a.balance - r.amount, held = a.held + r.amount
              FROM unnest($1::int8[], $2::uuid[], $3::timestamptz[], $4::text[], $5::uuid[], $6::text[], $7::uuid[], $8::text[],
                          $9::timestamptz[], $10::uuid[])
                WITH ORDINALITY AS r(amount, account_id, stamp, key, hold_id, reason, actor, origin, expires_at, entry_id, ordinal),
                locked
              WHERE a.id = r.account_id AND locked.id = a.id AND a.balance >= r.amount AND (a.expires_at IS NULL OR a.expires_at > r.stamp)
                AND NOT EXISTS (SELECT 1 FROM ledger_holds WHERE idempotency_key = r.key)
              RETURNING a.programme_id, r.amount, r.account_id, r.stamp, r.key, r.hold_id, r.reason,
                NULLIF(r.actor, '00000000-0000-0000-0000-000000000000') AS actor, r.origin, r.expires_at, r.entry_id, r.ordinal),
            hold AS (
              INSERT INTO ledger_holds (id, account_id, amount, status, idempotency_key, reason, created_by, origin, expires_at, created_at)
              SELECT hold_id, account_id, amount, 'open', key, reason, actor, origin, expires_at, stamp FROM account
              RETURNING id),
            entry AS (
              INSERT INTO ledger_entries (id, programme_id, kind, from_account_id, amount, hold_id, memo, actor_id, created_at)
              SELECT entry_id, programme_id, 'reserve', account_id, amount, hold_id, reason, actor, stamp FROM account
              RETURNING id)
            SELECT ordinal FROM account
            """
        static let bindingDataTypes: [PostgresDataType] = [.int8Array, .uuidArray, .timestamptzArray, .textArray, .uuidArray, .textArray,
                                                           .uuidArray, .textArray, .timestamptzArray, .uuidArray]
        typealias Row = Int64

        var reserves: [Reserve]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 10)
            bindings.append(reserves.map(\.amount))
            bindings.append(reserves.map(\.accountID))
            bindings.append(reserves.map(\.now))
            bindings.append(reserves.map(\.key))
            bindings.append(reserves.map(\.holdID))
            bindings.append(reserves.map(\.reason))
            bindings.append(reserves.map { $0.actor ?? LedgerPrepared.nobody })
            bindings.append(reserves.map(\.origin))
            bindings.append(reserves.map(\.expires))
            bindings.append(reserves.map(\.entryID))
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    /// Many `Close`s in one statement (`LedgerBatches`): each row closes its hold under the same conditions; the
    /// accounts are given back the sums of their closed holds (one account may have several). Returns each closed
    /// hold's row as `Close` does, after the ordinal (from 1) of the request that closed it. The accounts are locked
    /// in id order first, as in `ReserveBatch`. A person is none: the zero UUID; a memo is none unless `memo_given`.
    struct CloseBatch: PostgresPreparedStatement {
        static let name = "campuscloud_ledger_close_batch_v2"
        static let sql = """
            WITH hold AS (
              UPDATE ledger_holds AS h SET status = r.status, settled_amount = CASE WHEN r.status = 'settled' THEN r.actual END,
                closed_at = r.stamp, closed_by = NULLIF(r.actor, '00000000-0000-0000-0000-000000000000'),
                close_memo = CASE WHEN r.memo_given THEN r.memo END
              FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::timestamptz[], $5::uuid[], $6::text[], $7::bool[], $8::uuid[], $9::text[],
                          $10::uuid[])
                WITH ORDINALITY AS r(hold_id, status, actual, stamp, actor, memo, memo_given, used_entry_id, freed_kind, freed_entry_id, ordinal)
              WHERE h.id = r.hold_id AND h.status = 'open' AND h.amount >= r.actual
              RETURNING h.id, h.account_id, h.amount, h.status, h.settled_amount, h.idempotency_key, h.reason, h.created_by, h.origin,
                h.expires_at, h.created_at, h.closed_at, h.closed_by, h.close_memo, r.actual, r.used_entry_id, r.freed_kind,
                r.freed_entry_id, r.ordinal),
            moved AS (
              SELECT account_id, sum(amount)::int8 AS amount, sum(actual)::int8 AS actual FROM hold GROUP BY account_id),
            locked AS MATERIALIZED (
              SELECT a.id FROM ledger_accounts AS a WHERE a.id IN (SELECT account_id FROM moved) ORDER BY a.id FOR NO KEY UPDATE OF a),
            account AS (
              UPDATE ledger_accounts AS a SET held = a.held - moved.amount, spent = a.spent + moved.actual,
                balance = a.balance + moved.amount - moved.actual
              FROM moved, locked WHERE a.id = moved.account_id AND locked.id = a.id
              RETURNING a.id, a.programme_id),
            used AS (
              INSERT INTO ledger_entries (id, programme_id, kind, from_account_id, amount, hold_id, memo, actor_id, created_at)
              SELECT hold.used_entry_id, account.programme_id, 'settle', hold.account_id, hold.actual, hold.id, hold.reason, hold.closed_by,
                hold.closed_at
              FROM hold JOIN account ON account.id = hold.account_id WHERE hold.actual > 0
              RETURNING id),
            freed AS (
              INSERT INTO ledger_entries (id, programme_id, kind, to_account_id, amount, hold_id, memo, actor_id, created_at)
              SELECT hold.freed_entry_id, account.programme_id, hold.freed_kind, hold.account_id, hold.amount - hold.actual, hold.id,
                coalesce(hold.close_memo, hold.reason), hold.closed_by, hold.closed_at
              FROM hold JOIN account ON account.id = hold.account_id WHERE hold.amount > hold.actual
              RETURNING id)
            SELECT ordinal, id, account_id, amount, status, settled_amount, idempotency_key, reason, created_by, origin, expires_at,
              created_at, closed_at, closed_by, close_memo FROM hold
            """
        static let bindingDataTypes: [PostgresDataType] = [.uuidArray, .textArray, .int8Array, .timestamptzArray, .uuidArray, .textArray,
                                                           .boolArray, .uuidArray, .textArray, .uuidArray]
        typealias Row = (ordinal: Int64, hold: ClosedHold)

        var closes: [Close]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 10)
            bindings.append(closes.map(\.holdID))
            bindings.append(closes.map(\.status))
            bindings.append(closes.map(\.actual))
            bindings.append(closes.map(\.now))
            bindings.append(closes.map { $0.actor ?? LedgerPrepared.nobody })
            bindings.append(closes.map { $0.memo ?? "" })
            bindings.append(closes.map { $0.memo != nil })
            bindings.append(closes.map(\.usedEntryID))
            bindings.append(closes.map(\.freedKind))
            bindings.append(closes.map(\.freedEntryID))
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> (ordinal: Int64, hold: ClosedHold) {
            let c = try row.decode((Int64, UUID, UUID, Int64, String, Int64?, String, String, UUID?, String, Date, Date?, Date?, UUID?, String?).self)
            return (c.0, ClosedHold((c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9, c.10, c.11, c.12, c.13, c.14)))
        }
    }

    /// No person (`ReserveBatch`, `CloseBatch`: arrays hold no NULLs).
    static let nobody = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

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
