// Course policies for the gateway (instructors): which models, token caps, requests a minute, a system prompt,
// blackouts, prompt logging. Handlers stay thin: this is where the checks live.
import Fluent
import Foundation
import Gateway
import Ledger
import Vapor

struct AIPolicyInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case allowedModels, maxTokensPerRequest, requestsPerMinute, maxChoices, systemPrompt, blackouts, logPrompts, promptRetentionDays
    }
    typealias Fields = CodingKeys
    var allowedModels: [String]?
    var maxTokensPerRequest: Int?
    var requestsPerMinute: Int?
    /// Whether requestsPerMinute was in the body at all: `null` there removes the limit, leaving it out keeps it.
    var requestsPerMinuteGiven = false
    /// The most answers (`n`) a request may ask for.
    var maxChoices: Int?
    var systemPrompt: String?
    var blackouts: [GatewayPolicy.Blackout]?
    var logPrompts: Bool?
    var promptRetentionDays: Int?

    init() {}

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        allowedModels = try fields.decodeIfPresent([String].self, forKey: .allowedModels)
        maxTokensPerRequest = try fields.decodeIfPresent(Int.self, forKey: .maxTokensPerRequest)
        requestsPerMinuteGiven = fields.contains(.requestsPerMinute)
        requestsPerMinute = try fields.decodeIfPresent(Int.self, forKey: .requestsPerMinute)
        maxChoices = try fields.decodeIfPresent(Int.self, forKey: .maxChoices)
        systemPrompt = try fields.decodeIfPresent(String.self, forKey: .systemPrompt)
        blackouts = try fields.decodeIfPresent([GatewayPolicy.Blackout].self, forKey: .blackouts)
        logPrompts = try fields.decodeIfPresent(Bool.self, forKey: .logPrompts)
        promptRetentionDays = try fields.decodeIfPresent(Int.self, forKey: .promptRetentionDays)
    }
}

extension AIPolicyInput: APIInput {
    static let schema = JSONSchema.object([
        "allowedModels": .array(.string(), maxItems: 100), "maxTokensPerRequest": .integer(minimum: 1, maximum: GatewayPolicy.maxTokensCeiling),
        "requestsPerMinute": .integer(maximum: 10_000), "maxChoices": .integer(minimum: 1, maximum: 16),
        "systemPrompt": .string(maxLength: GatewayPolicy.maxSystemPrompt), "logPrompts": .boolean, "promptRetentionDays": .integer(minimum: 1, maximum: 365),
        "blackouts": .array(.object(["start": .string(format: "date-time"), "end": .string(format: "date-time"), "message": .string()],
                                    required: ["start", "end", "message"])),
    ], required: [])
}

enum AIPolicies {
    /// A stored policy that does not decode (written by another version, edited by hand): the gateway refuses the
    /// course's requests rather than run them under defaults nobody chose.
    struct Unreadable: Error {}

    static func policy(of courseID: UUID, on db: any Database) async throws -> GatewayPolicy {
        guard let record = try await AIPolicyRecord.query(on: db).filter(\.$course.$id == courseID).first() else { return GatewayPolicy() }
        do { return try JSONDecoder.gateway.decode(GatewayPolicy.self, from: Data(record.policy.utf8)) } catch { throw Unreadable() }
    }

    /// The policy for its editors to see and mend: the defaults when the stored one is unreadable (the gateway refuses
    /// requests meanwhile; saving writes a readable one).
    static func editablePolicy(of courseID: UUID, on db: any Database) async throws -> GatewayPolicy {
        do { return try await policy(of: courseID, on: db) } catch is Unreadable { return GatewayPolicy() }
    }

    /// Replaces the fields given; every problem is listed and nothing is saved when there is one.
    static func update(_ course: Course, _ input: AIPolicyInput, by user: User, app: Application, on db: any Database) async throws -> GatewayPolicy {
        let courseID = try course.requireID()
        var policy = try await editablePolicy(of: courseID, on: db)
        if let models = input.allowedModels { policy.allowedModels = models.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        if let value = input.maxTokensPerRequest { policy.maxTokensPerRequest = value }
        if input.requestsPerMinuteGiven { policy.requestsPerMinute = (input.requestsPerMinute ?? 0) > 0 ? input.requestsPerMinute : nil }
        if let choices = input.maxChoices { policy.maxChoices = choices }
        if let prompt = input.systemPrompt { policy.systemPrompt = prompt.isEmpty ? nil : prompt }
        if let windows = input.blackouts { policy.blackouts = windows }
        if let log = input.logPrompts { policy.logPrompts = log }
        if let days = input.promptRetentionDays { policy.promptRetentionDays = days }
        let problems = policy.problems()
        let known = Set(try await AIModel.query(on: db).all().map(\.name))
        guard problems.isEmpty else { throw InputRejection(problems) }
        let unknown = policy.allowedModels.filter { !known.contains($0) }.map { "allowedModels: '\($0)' is not a model of this platform." }
        guard unknown.isEmpty else { throw InputRejection.conflict(unknown) }
        let text = String(decoding: try JSONEncoder.gateway.encode(policy), as: UTF8.self)
        if let record = try await AIPolicyRecord.query(on: db).filter(\.$course.$id == courseID).first() {
            record.policy = text
            record.$updatedBy.id = user.id
            try await record.save(on: db)
        } else {
            try await AIPolicyRecord(courseID: courseID, policy: text, by: user.id).create(on: db)
        }
        app.gatewayCache.forgetAll()
        return policy
    }
}

extension JSONEncoder {
    static var gateway: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
}

extension JSONDecoder {
    static var gateway: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension GatewayPolicy: APIBody {
    static let schemaName = "AIPolicy"
    static let schema = JSONSchema.object([
        "allowedModels": .array(.string(), maxItems: 100), "maxTokensPerRequest": .integer(minimum: 1, maximum: GatewayPolicy.maxTokensCeiling),
        "requestsPerMinute": .integer(minimum: 1, maximum: 10_000), "maxChoices": .integer(minimum: 1, maximum: 16),
        "systemPrompt": .string(maxLength: GatewayPolicy.maxSystemPrompt), "logPrompts": .boolean, "promptRetentionDays": .integer(minimum: 1, maximum: 365),
        "blackouts": .array(.object(["start": .string(format: "date-time"), "end": .string(format: "date-time"), "message": .string()],
                                    required: ["start", "end", "message"])),
    ], required: ["allowedModels", "maxTokensPerRequest", "logPrompts", "promptRetentionDays", "blackouts"])
    static var samples: [GatewayPolicy] {
        var policy = GatewayPolicy()
        policy.allowedModels = ["tutor-small"]
        policy.systemPrompt = "You are a patient tutor."
        policy.maxChoices = 2
        policy.blackouts = [Blackout(start: Sample.date, end: Sample.date.addingTimeInterval(3600), message: "Exam in progress.")]
        return [policy]
    }
}
