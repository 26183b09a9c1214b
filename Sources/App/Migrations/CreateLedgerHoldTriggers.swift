// On SQLite, a hold's whole step is one statement: inserting a hold checks and takes the account's free credits
// and journals it; closing a hold (status open → settled or voided) moves its credits and journals that. One
// statement is atomic in SQLite (a refusal or a duplicate key undoes everything it did), and one statement is one
// trip to the database instead of five. PostgreSQL does the same steps as single statements with data-modifying
// CTEs (see LedgerStore), so it needs no triggers.
import Fluent
import SQLKit

struct CreateLedgerHoldTriggers: AsyncMigration {
    /// A random UUID as Fluent stores them on SQLite (upper-case text).
    static let newID = "hex(randomblob(4))||'-'||hex(randomblob(2))||'-4'||substr(hex(randomblob(2)),2)||'-'||"
        + "substr('89AB',1+(abs(random())%4),1)||substr(hex(randomblob(2)),2)||'-'||hex(randomblob(6))"

    static let columns = "id, programme_id, kind, from_account_id, to_account_id, amount, hold_id, idempotency_key, memo, actor_id, created_at"

    func prepare(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase, sql.dialect.name == "sqlite" else { return }
        try await sql.raw("""
            CREATE TRIGGER ledger_holds_check BEFORE INSERT ON ledger_holds
            BEGIN
              SELECT RAISE(ABORT, 'ledger: not enough free credits') WHERE NOT EXISTS (
                SELECT 1 FROM ledger_accounts WHERE id = NEW.account_id AND kind <> 'partner' AND balance >= NEW.amount
                  AND (expires_at IS NULL OR expires_at > NEW.created_at));
            END
            """).run()
        try await sql.raw("""
            CREATE TRIGGER ledger_holds_reserve AFTER INSERT ON ledger_holds
            BEGIN
              UPDATE ledger_accounts SET balance = balance - NEW.amount, held = held + NEW.amount WHERE id = NEW.account_id;
              INSERT INTO ledger_entries (\(unsafeRaw: Self.columns))
                SELECT \(unsafeRaw: Self.newID), programme_id, 'reserve', NEW.account_id, NULL, NEW.amount, NEW.id, NULL, NEW.reason,
                       NEW.created_by, NEW.created_at
                FROM ledger_accounts WHERE id = NEW.account_id;
            END
            """).run()
        try await sql.raw("""
            CREATE TRIGGER ledger_holds_close AFTER UPDATE OF status ON ledger_holds
            WHEN OLD.status = 'open' AND NEW.status IN ('settled', 'voided')
            BEGIN
              UPDATE ledger_accounts SET held = held - NEW.amount, spent = spent + coalesce(NEW.settled_amount, 0),
                balance = balance + NEW.amount - coalesce(NEW.settled_amount, 0) WHERE id = NEW.account_id;
              INSERT INTO ledger_entries (\(unsafeRaw: Self.columns))
                SELECT \(unsafeRaw: Self.newID), programme_id, 'settle', NEW.account_id, NULL, NEW.settled_amount, NEW.id, NULL, NEW.reason,
                       NEW.closed_by, NEW.closed_at
                FROM ledger_accounts WHERE id = NEW.account_id AND coalesce(NEW.settled_amount, 0) > 0;
              INSERT INTO ledger_entries (\(unsafeRaw: Self.columns))
                SELECT \(unsafeRaw: Self.newID), programme_id, CASE NEW.status WHEN 'settled' THEN 'release' ELSE 'void' END, NULL,
                       NEW.account_id, NEW.amount - coalesce(NEW.settled_amount, 0), NEW.id, NULL, coalesce(NEW.close_memo, NEW.reason),
                       NEW.closed_by, NEW.closed_at
                FROM ledger_accounts WHERE id = NEW.account_id AND NEW.amount > coalesce(NEW.settled_amount, 0);
            END
            """).run()
    }

    func revert(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase, sql.dialect.name == "sqlite" else { return }
        for name in ["ledger_holds_close", "ledger_holds_reserve", "ledger_holds_check"] {
            try await sql.raw("DROP TRIGGER IF EXISTS \(unsafeRaw: name)").run()
        }
    }
}
