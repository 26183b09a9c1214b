// The AI gateway's catalogue: providers (an OpenAI-compatible base URL and the NAME of the environment variable
// holding its secret — never the secret itself) and the models offered through them, each with an optional second
// provider tried when the first fails before the first byte. Prices live on the price list (meters
// model_input_tokens:<model> and model_output_tokens:<model>, per million tokens).
import Fluent
import Foundation

final class AIProvider: Model, @unchecked Sendable {
    static let schema = "ai_providers"
    @ID(key: .id) var id: UUID?
    @Field(key: "name") var name: String
    @Field(key: "base_url") var baseURL: String
    @OptionalField(key: "secret_env") var secretEnv: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
    init(name: String, baseURL: String, secretEnv: String?) {
        self.name = name
        self.baseURL = baseURL
        self.secretEnv = secretEnv
    }
}

enum AIModelKind: String, Codable, Sendable, CaseIterable { case chat, embedding }

final class AIModel: Model, @unchecked Sendable {
    static let schema = "ai_models"
    @ID(key: .id) var id: UUID?
    /// The name clients send as `model`.
    @Field(key: "name") var name: String
    @Field(key: "kind") var kind: AIModelKind
    @Parent(key: "provider_id") var provider: AIProvider
    @OptionalParent(key: "fallback_provider_id") var fallback: AIProvider?
    /// The model's name at the provider.
    @Field(key: "upstream_name") var upstreamName: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
    init(name: String, kind: AIModelKind, providerID: UUID, fallbackID: UUID?, upstreamName: String) {
        self.name = name
        self.kind = kind
        self.$provider.id = providerID
        self.$fallback.id = fallbackID
        self.upstreamName = upstreamName
    }
}

/// A person's gateway key for one course (or project), whose allowance pays for its requests. Only a hash of the
/// secret is stored; the token is shown once.
final class AIKey: Model, @unchecked Sendable {
    static let schema = "ai_keys"
    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @OptionalParent(key: "course_id") var course: Course?
    @OptionalParent(key: "project_id") var project: ResearchProject?
    @Field(key: "name") var name: String
    @Field(key: "prefix") var prefix: String
    @Field(key: "secret_hash") var secretHash: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @OptionalField(key: "last_used_at") var lastUsedAt: Date?
    @OptionalField(key: "revoked_at") var revokedAt: Date?
    /// The LMS whose launch began the session it was made in (revoked when that LMS is switched off).
    @OptionalField(key: "lti_registration_id") var ltiRegistrationID: UUID?
    /// How the session (or key) it was made with began: password, provider or lms (revoked, when password, if
    /// passwords are switched off for the person's domain).
    @OptionalField(key: "made_with") var madeWith: String?

    init() {}
    init(userID: UUID, courseID: UUID?, projectID: UUID?, name: String, prefix: String, secretHash: String) {
        self.$user.id = userID
        self.$course.id = courseID
        self.$project.id = projectID
        self.name = name
        self.prefix = prefix
        self.secretHash = secretHash
    }
}

/// A course's gateway rules (GatewayPolicy as JSON); a course without a row has the default policy.
final class AIPolicyRecord: Model, @unchecked Sendable {
    static let schema = "ai_policies"
    @ID(key: .id) var id: UUID?
    @Parent(key: "course_id") var course: Course
    @Field(key: "policy") var policy: String
    @OptionalParent(key: "updated_by") var updatedBy: User?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
    init(courseID: UUID, policy: String, by userID: UUID?) {
        self.$course.id = courseID
        self.policy = policy
        self.$updatedBy.id = userID
    }
}

/// One gateway request: who, which model, tokens, credits, outcome, latency. Prompt text only when the course keeps
/// it, and only until `promptExpiresAt`.
final class AIUsage: Model, @unchecked Sendable {
    static let schema = "ai_usage"
    @ID(key: .id) var id: UUID?
    @Parent(key: "key_id") var key: AIKey
    @Parent(key: "user_id") var user: User
    @OptionalParent(key: "course_id") var course: Course?
    @OptionalParent(key: "project_id") var project: ResearchProject?
    @Field(key: "model") var model: String
    @Field(key: "endpoint") var endpoint: String
    @Field(key: "prompt_tokens") var promptTokens: Int
    @Field(key: "completion_tokens") var completionTokens: Int
    /// Micro-credits charged.
    @Field(key: "credits") var credits: Int64
    @Field(key: "status") var status: Int
    /// ok, refused, upstream_error, disconnected.
    @Field(key: "outcome") var outcome: String
    @Field(key: "streamed") var streamed: Bool
    @Field(key: "latency_ms") var latencyMs: Int
    @OptionalField(key: "upstream_ms") var upstreamMs: Int?
    @OptionalField(key: "prompt") var prompt: String?
    @OptionalField(key: "prompt_expires_at") var promptExpiresAt: Date?
    @Field(key: "created_at") var createdAt: Date

    init() {}
}
