import Fluent
import SQLKit

/// A course's members by role, covering their ids: the gradebook page and the roster read a course's students
/// (hundreds) and join them to their names; the unique (course, person) index made each member a row lookup for
/// its role.
struct AddCourseStudentsIndex: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await (database as! any SQLDatabase).create(index: "course_members_by_role").on("course_members")
            .column("course_id").column("role").column("user_id").run()
    }

    func revert(on database: any Database) async throws {
        try await (database as! any SQLDatabase).drop(index: "course_members_by_role").run()
    }
}
