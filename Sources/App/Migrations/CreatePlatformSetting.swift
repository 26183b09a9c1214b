import Fluent

struct CreatePlatformSetting: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("platform_settings")
            .field("key", .string, .identifier(auto: false))
            .field("value", .string, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("platform_settings").delete()
    }
}
