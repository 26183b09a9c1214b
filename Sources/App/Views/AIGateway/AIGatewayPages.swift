// What the templates of the AI access pages are given (their view-models; links come from SitePath).
import Foundation
import Gateway
import Vapor

struct AIPage: Encodable {
    struct Key: Encodable { var revoke: String; var name: String; var prefix: String; var created: String; var lastUsed: String }
    struct Line: Encodable { var key: String; var requests: Int; var promptTokens: Int; var completionTokens: Int; var credits: String }
    /// The first blackout, as the policy form shows it.
    struct Window: Encodable { var start: String; var end: String; var message: String }
    var title: String
    var page: PageContext
    var course: CourseDTO
    var links: CourseLinks
    var baseURL: String
    var canUse: Bool
    var canSetPolicy: Bool
    var canSeeUsage: Bool
    var keys: [Key]
    var newToken: String?
    var mine: Line?
    var byStudent: [Line]
    var byModel: [Line]
    var models: [String]
    var policy: GatewayPolicy
    var allowedModels: String
    var blackout: Window?
}

struct AdminAIPage: Encodable {
    var title = "AI providers and models"
    var page: PageContext
    var providers: [ProviderDTO]
    var addProvider = SitePath.adminAIProviders.url, addModel = SitePath.adminAIModels.url
    struct Model: Encodable { var name: String; var kind: String; var provider: String; var fallback: String; var upstream: String; var prices: String }
    var models: [Model]
}
