import Fluent

/// Where a login's state was also put in the LMS's own storage (LTI Client Side postMessages: the frame the LMS named
/// in `lti_storage_target`), for a launch whose browser did not send the state cookie back.
struct AddLTILaunchStateStorage: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("lti_launch_states").field("storage_target", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("lti_launch_states").deleteField("storage_target").update()
    }
}
