import Fluent
import Insight
import SQLKit

/// Each person's `NaturalOrder.sortKey` of their name (users.sort_key), indexed, so paginated lists of people read
/// "Student 2" before "Student 10". On PostgreSQL the column compares bytes (COLLATE "C") like SQLite and like the
/// sorts done in memory; a locale's collation would skip spaces and disagree.
struct AddUserSortKey: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let sql = database as! any SQLDatabase
        let type: DatabaseSchema.DataType = sql.dialect.name == "postgresql" ? .sql(unsafeRaw: #"TEXT COLLATE "C""#) : .string
        try await database.schema("users").field("sort_key", type, .required, .sql(.default(""))).update()
        // Only the two columns this needs are read, so later columns of User do not break the migration.
        for user in try await User.query(on: database).field(\.$id).field(\.$displayName).all() {
            try await User.query(on: database).filter(\.$id == user.requireID())
                .set(\.$sortKey, to: NaturalOrder.sortKey(user.displayName)).update()
        }
        try await sql.create(index: "users_sort_key").on("users").column("sort_key").run()
    }

    func revert(on database: any Database) async throws {
        try await (database as! any SQLDatabase).drop(index: "users_sort_key").run()
        try await database.schema("users").deleteField("sort_key").update()
    }
}
