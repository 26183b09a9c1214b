// Key/value facts about this installation (e.g. that it holds the demo data set).
import Fluent

final class PlatformSetting: Model, @unchecked Sendable {
    static let schema = "platform_settings"
    static let demoDatasetKey = "demo_dataset"

    @ID(custom: "key", generatedBy: .user) var id: String?
    @Field(key: "value") var value: String

    init() {}
    init(key: String, value: String) {
        self.id = key
        self.value = value
    }
}
