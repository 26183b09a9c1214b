// Managing the gateway: the catalogue (admins register providers and models with their prices), people's keys
// (per course, shown once, stored hashed), course policies (instructors) and usage reports (per student, per model).
// Handlers stay thin: this is where the checks live.
import Fluent
import Foundation
import Gateway
import Ledger
import Vapor

// MARK: Catalogue

struct ProviderInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name, baseURL, secretEnv }
    typealias Fields = CodingKeys
    var name: String?
    var baseURL: String?
    var secretEnv: String?
}

struct ModelInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name, kind, provider, fallbackProvider, upstreamName, inputPrice, outputPrice }
    typealias Fields = CodingKeys
    var name: String?
    var kind: String?
    /// Provider name.
    var provider: String?
    var fallbackProvider: String?
    var upstreamName: String?
    /// Credits per million tokens, as text ("0.5") or a number.
    var inputPrice: String?
    var outputPrice: String?
}

struct ProviderDTO: Content {
    var id: UUID
    var name: String
    var baseURL: String
    /// The NAME of the environment variable holding the secret, and whether this process has it; never the secret.
    var secretEnv: String?
    var secretPresent: Bool
}

struct ModelDTO: Content {
    var id: String
    var object = "model"
    var created: Int
    var owned_by: String
}

struct CatalogueModelDTO: Content {
    var id: UUID
    var name: String
    var kind: String
    var provider: String
    var fallbackProvider: String?
    var upstreamName: String
    var inputPrice: Credits?
    var outputPrice: Credits?
}

enum AICatalogue {
    /// The only environment variables a provider's secret may come from: CAMPUSCLOUD_AI_…, so no other secret of the
    /// machine (the platform's own, the database's) can ever be sent upstream, whatever an admin types.
    static let secretEnvPattern = #"^CAMPUSCLOUD_AI_[A-Z0-9_]{1,80}$"#
    static func allowedSecretEnv(_ name: String) -> Bool {
        name.range(of: secretEnvPattern, options: .regularExpression) != nil && name != "CAMPUSCLOUD_AI_WRITE_TIMEOUT"
    }

    /// (Catalogue changes drop the gateway's caches in this process at once.)
    static func addProvider(_ input: ProviderInput, app: Application, on db: any Database) async throws -> AIProvider {
        var checks = InputChecks()
        let name = checks.text(input.name, "name", max: 100)
        let url = checks.text(input.baseURL, "baseURL", max: 500)
        if let url, URL(string: url).map({ ["http", "https"].contains($0.scheme ?? "") && $0.host != nil }) != true {
            checks.add("baseURL must be an http(s) URL, e.g. https://models.partner.example/v1.")
        }
        let secretEnv = input.secretEnv?.trimmingCharacters(in: .whitespaces)
        if let secretEnv, !secretEnv.isEmpty {
            if !allowedSecretEnv(secretEnv) {
                checks.add("secretEnv is the NAME of an environment variable that starts with CAMPUSCLOUD_AI_ (A-Z, 0-9, _), e.g. "
                           + "CAMPUSCLOUD_AI_PARTNER_KEY — never the secret itself, and no other variable of the machine.")
            }
        }
        try checks.finish()
        if let name, try await AIProvider.query(on: db).filter(\.$name == name).first() != nil { throw InputRejection.conflict("a provider named '\(name)' exists.") }
        let provider = AIProvider(name: name!, baseURL: url!, secretEnv: secretEnv?.isEmpty == false ? secretEnv : nil)
        try await provider.create(on: db)
        app.gatewayCache.forgetAll()
        return provider
    }

    static func providerDTO(_ provider: AIProvider) throws -> ProviderDTO {
        ProviderDTO(id: try provider.requireID(), name: provider.name, baseURL: provider.baseURL, secretEnv: provider.secretEnv,
                    secretPresent: provider.secretEnv.map { allowedSecretEnv($0) && ProcessInfo.processInfo.environment[$0]?.isEmpty == false } ?? false)
    }

    /// Adds a model and its prices (price list versions from now) in one transaction.
    static func addModel(_ input: ModelInput, app: Application, on db: any Database) async throws -> AIModel {
        var checks = InputChecks()
        let name = checks.text(input.name, "name", max: 100)
        if let name, name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"#, options: .regularExpression) == nil {
            checks.add("name may hold letters, digits and . _ : / - (it is what clients send as model).")
        }
        let kind = checks.choice(input.kind ?? "chat", "kind", as: AIModelKind.self)
        let upstream = checks.text(input.upstreamName.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } ?? input.name, "upstreamName", max: 200)
        let providers = try await AIProvider.query(on: db).all()
        let provider = providers.first { $0.name == input.provider }
        var missing: [String] = []
        if provider == nil { missing.append("provider '\(input.provider ?? "")' is not registered; add it first.") }
        var fallback: AIProvider?
        if let wanted = input.fallbackProvider, !wanted.isEmpty {
            fallback = providers.first { $0.name == wanted }
            if fallback == nil { missing.append("fallbackProvider '\(wanted)' is not registered.") }
        }
        func price(_ text: String?, _ label: String) -> Credits? {
            guard let text, let credits = Credits.parse(text.trimmingCharacters(in: .whitespaces)), credits >= .zero else {
                checks.add("\(label) is the price in credits per million tokens, e.g. 0.5."); return nil
            }
            return credits
        }
        let input1 = price(input.inputPrice, "inputPrice"), output = price(input.outputPrice ?? (kind == .embedding ? "0" : nil), "outputPrice")
        if let name, try await AIModel.query(on: db).filter(\.$name == name).first() != nil { missing.append("a model named '\(name)' exists.") }
        try checks.finish()
        if !missing.isEmpty { throw InputRejection.conflict(missing) }
        let model = AIModel(name: name!, kind: kind!, providerID: try provider!.requireID(), fallbackID: fallback?.id, upstreamName: upstream!)
        let now = Date()
        try await app.writeTransaction(on: db) { tx in
            try await model.create(on: tx)
            try await LedgerPrice(meter: Meter.modelInput(name!).name, price: input1!.micro, effectiveFrom: now).create(on: tx)
            try await LedgerPrice(meter: Meter.modelOutput(name!).name, price: output!.micro, effectiveFrom: now).create(on: tx)
        }
        app.gatewayCache.forgetAll()
        return model
    }

    static func catalogue(on db: any Database) async throws -> [CatalogueModelDTO] {
        let models = try await AIModel.query(on: db).with(\.$provider).with(\.$fallback).sort(\.$name).all()
        let prices = try await Prices.list(on: db), now = Date()
        return try models.map {
            CatalogueModelDTO(id: try $0.requireID(), name: $0.name, kind: $0.kind.rawValue, provider: $0.provider.name, fallbackProvider: $0.fallback?.name,
                              upstreamName: $0.upstreamName, inputPrice: prices.price(of: .modelInput($0.name), at: now)?.price,
                              outputPrice: prices.price(of: .modelOutput($0.name), at: now)?.price)
        }
    }
}

// MARK: Keys

struct AIKeyInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name }
    typealias Fields = CodingKeys
    var name: String?
}

struct AIKeyDTO: Content {
    var id: UUID
    var name: String
    var courseID: UUID?
    var projectID: UUID?
    /// The start of the token, to recognise it (cc_<prefix>_…).
    var prefix: String
    var createdAt: Date?
    var lastUsedAt: Date?
    /// Only in the answer that created it.
    var token: String?
}

enum AIKeys {
    static func issue(to user: User, in course: Course, name: String?, on db: any Database) async throws -> AIKeyDTO {
        try await issue(to: user, courseID: try course.requireID(), projectID: nil, name: name, on: db)
    }

    /// A key for a research project: requests are paid from the member's allowance in the project (default policy).
    static func issue(to user: User, in project: ResearchProject, name: String?, on db: any Database) async throws -> AIKeyDTO {
        try await issue(to: user, courseID: nil, projectID: try project.requireID(), name: name, on: db)
    }

    private static func issue(to user: User, courseID: UUID?, projectID: UUID?, name: String?, on db: any Database) async throws -> AIKeyDTO {
        var checks = InputChecks()
        let label = checks.text(name, "name", max: 100)
        try checks.finish()
        let live = try await AIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$revokedAt == nil).count()
        guard live < 20 else { throw InputRejection.conflict("You have 20 live AI keys; revoke one first.") }
        let (token, prefix, hash) = TokenCodec.generate()
        let key = AIKey(userID: try user.requireID(), courseID: courseID, projectID: projectID, name: label!, prefix: prefix, secretHash: hash)
        try await key.create(on: db)
        var dto = try dto(key)
        dto.token = token
        return dto
    }

    static func list(of user: User, in project: ResearchProject, on db: any Database) async throws -> [AIKeyDTO] {
        try await AIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$project.$id == project.requireID())
            .filter(\.$revokedAt == nil).sort(\.$createdAt).all().map(dto)
    }

    static func dto(_ key: AIKey) throws -> AIKeyDTO {
        AIKeyDTO(id: try key.requireID(), name: key.name, courseID: key.$course.id, projectID: key.$project.id, prefix: "cc_\(key.prefix)_", createdAt: key.createdAt,
                 lastUsedAt: key.lastUsedAt, token: nil)
    }

    static func list(of user: User, in course: Course, on db: any Database) async throws -> [AIKeyDTO] {
        try await AIKey.query(on: db).filter(\.$user.$id == user.requireID()).filter(\.$course.$id == course.requireID())
            .filter(\.$revokedAt == nil).sort(\.$createdAt).all().map(dto)
    }

    /// Revokes one of `user`'s keys (at once in this process); anyone else's (or an unknown id) is 404.
    @discardableResult
    static func revoke(_ id: UUID, by user: User, app: Application, on db: any Database) async throws -> AIKey {
        guard let key = try await AIKey.find(id, on: db), key.revokedAt == nil else { throw Abort(.notFound) }
        try Policy.require(user, can: .manageKey(ownerID: key.$user.id))
        key.revokedAt = Date()
        try await key.save(on: db)
        app.gatewayCache.forgetAll()
        return key
    }
}

// MARK: Policies

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
        var problems = policy.problems()
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

// MARK: Usage

struct AIUsageReport: Content {
    struct Line: Content {
        var key: String
        var requests: Int
        var promptTokens: Int
        var completionTokens: Int
        var credits: Credits
    }
    var since: Date
    var byStudent: [Line]
    var byModel: [Line]
}

enum AIUsageReports {
    /// The course's usage since `since`, per person and per model: two grouped queries whatever the volume.
    static func course(_ course: Course, since: Date, on db: any Database) async throws -> AIUsageReport {
        let courseID = try course.requireID()
        let rows = try await AIUsage.query(on: db).filter(\.$course.$id == courseID).filter(\.$createdAt >= since)
            .field(\.$user.$id).field(\.$model).field(\.$promptTokens).field(\.$completionTokens).field(\.$credits).all()
        let names = Dictionary(uniqueKeysWithValues: try await User.query(on: db).filter(\.$id ~~ Set(rows.map { $0.$user.id })).all()
            .map { ($0.id!, $0.displayName) })
        func lines(_ key: (AIUsage) -> String) -> [AIUsageReport.Line] {
            Dictionary(grouping: rows, by: key).map { key, group in
                .init(key: key, requests: group.count, promptTokens: group.reduce(0) { $0 + $1.promptTokens },
                      completionTokens: group.reduce(0) { $0 + $1.completionTokens }, credits: Credits(micro: group.reduce(0) { $0 + $1.credits }))
            }.sorted { $0.key < $1.key }
        }
        return AIUsageReport(since: since, byStudent: lines { names[$0.$user.id] ?? "?" }, byModel: lines(\.model))
    }

    /// One person's own usage in the course since `since`.
    static func mine(_ user: User, in course: Course, since: Date, on db: any Database) async throws -> AIUsageReport.Line {
        let rows = try await AIUsage.query(on: db).filter(\.$course.$id == course.requireID()).filter(\.$user.$id == user.requireID())
            .filter(\.$createdAt >= since).field(\.$promptTokens).field(\.$completionTokens).field(\.$credits).all()
        return .init(key: user.displayName, requests: rows.count, promptTokens: rows.reduce(0) { $0 + $1.promptTokens },
                     completionTokens: rows.reduce(0) { $0 + $1.completionTokens }, credits: Credits(micro: rows.reduce(0) { $0 + $1.credits }))
    }

    /// Prompts past their retention are erased (usage numbers stay).
    static func erasePrompts(before now: Date = Date(), on db: any Database) async throws {
        try await AIUsage.query(on: db).filter(\.$promptExpiresAt < now).set(\.$prompt, to: nil).set(\.$promptExpiresAt, to: nil).update()
    }
}
