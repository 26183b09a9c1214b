// The gateway's catalogue: administrators register OpenAI-compatible providers (the secret stays in the environment,
// only its variable's name is stored) and the models offered through them, with their prices.
import Fluent
import Foundation
import Gateway
import Ledger
import Vapor

struct ProviderInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name, baseURL, secretEnv }
    typealias Fields = CodingKeys
    var name: String?
    var baseURL: String?
    var secretEnv: String?
}

extension ProviderInput: APIInput {
    static let schema = JSONSchema.object([
        "name": .text(max: 100), "baseURL": .string(maxLength: 500, pattern: "^ *https?://[^/?#\\s]+"),
        "secretEnv": .string(pattern: "^ *$|^ *CAMPUSCLOUD_AI_[A-Z0-9_]{1,80} *$"),
    ], required: ["name", "baseURL"])
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

extension ModelInput: APIInput {
    static let schema = JSONSchema.object([
        "name": .string(maxLength: 100, pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]*$"), "kind": .choice(AIModelKind.self),
        "provider": .string(), "fallbackProvider": .string(), "upstreamName": .string(maxLength: 200),
        "inputPrice": .creditsText, "outputPrice": .creditsText,
    ], required: ["name", "provider", "inputPrice"])
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

extension ProviderDTO: APIBody {
    static let schemaName = "AIProvider"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "baseURL": .string(), "secretEnv": .string(),
                                           "secretPresent": .boolean], required: ["id", "name", "baseURL", "secretPresent"])
    static let samples = [ProviderDTO(id: Sample.id, name: "partner", baseURL: "https://ai.partner.test/v1", secretEnv: "CAMPUSCLOUD_AI_PARTNER",
                                      secretPresent: true)]
}

extension CatalogueModelDTO: APIBody {
    static let schemaName = "AIModel"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "name": .string(), "kind": .choice(AIModelKind.self), "provider": .string(),
                                           "fallbackProvider": .string(), "upstreamName": .string(), "inputPrice": .credits, "outputPrice": .credits],
                                          required: ["id", "name", "kind", "provider", "upstreamName"])
    static let samples = [CatalogueModelDTO(id: Sample.id, name: "tutor-small", kind: "chat", provider: "partner", fallbackProvider: "backup",
                                            upstreamName: "small-2026", inputPrice: Credits(micro: 500_000), outputPrice: Credits(micro: 1_500_000))]
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
        let now = app.clock.now()
        try await app.writeTransaction(on: db) { tx in
            try await model.create(on: tx)
            try await LedgerPrice(meter: Meter.modelInput(name!).name, price: input1!.micro, effectiveFrom: now).create(on: tx)
            try await LedgerPrice(meter: Meter.modelOutput(name!).name, price: output!.micro, effectiveFrom: now).create(on: tx)
        }
        app.gatewayCache.forgetAll()
        return model
    }

    /// The catalogue with the prices in force at `now` (the platform's time).
    static func catalogue(at now: Date, on db: any Database) async throws -> [CatalogueModelDTO] {
        let models = try await AIModel.query(on: db).with(\.$provider).with(\.$fallback).sort(\.$name).all()
        let prices = try await Prices.list(on: db)
        return try models.map {
            CatalogueModelDTO(id: try $0.requireID(), name: $0.name, kind: $0.kind.rawValue, provider: $0.provider.name, fallbackProvider: $0.fallback?.name,
                              upstreamName: $0.upstreamName, inputPrice: prices.price(of: .modelInput($0.name), at: now)?.price,
                              outputPrice: prices.price(of: .modelOutput($0.name), at: now)?.price)
        }
    }
}
