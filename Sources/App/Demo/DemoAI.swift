// The demo's AI gateway: the built-in fake upstream (started by `campuscloud demo`, so nothing needs a secret)
// registered as a provider, a tutoring chat model and an embedding model priced on the price list, and CS101's
// policy (a tutor persona, a token cap, a per-minute limit). Students create keys on CS101's AI page.
import Fluent
import Foundation
import Gateway
import Ledger

extension DemoData {
    static let aiProvider = "demo-fake-upstream"
    static let tutorModel = "campuscloud-tutor"
    static let embedModel = "campuscloud-embed"

    /// Points the demo provider at `baseURL` (the fake upstream of this run) and adds the rest once.
    @discardableResult
    static func loadAI(on db: any Database, upstream baseURL: String) async throws -> Int {
        var created = 0
        let provider: AIProvider
        if let existing = try await AIProvider.query(on: db).filter(\.$name == aiProvider).first() {
            existing.baseURL = baseURL
            try await existing.save(on: db)
            provider = existing
        } else {
            provider = AIProvider(name: aiProvider, baseURL: baseURL, secretEnv: nil)
            try await provider.create(on: db)
            created += 1
        }
        let startsOn = try await Programme.query(on: db).first()?.startsOn ?? Date()
        for (name, kind, input, output) in [(tutorModel, AIModelKind.chat, "0.5", "1.5"), (embedModel, .embedding, "0.02", "0")] {
            guard try await AIModel.query(on: db).filter(\.$name == name).first() == nil else { continue }
            try await AIModel(name: name, kind: kind, providerID: try provider.requireID(), fallbackID: nil, upstreamName: name).create(on: db)
            for (meter, price) in [(Meter.modelInput(name), input), (Meter.modelOutput(name), output)]
            where try await LedgerPrice.query(on: db).filter(\.$meter == meter.name).first() == nil {
                try await LedgerPrice(meter: meter.name, price: Credits.parse(price)!.micro, effectiveFrom: startsOn).create(on: db)
            }
            created += 1
        }
        if let course = try await Course.query(on: db).filter(\.$code == "CS101").first(),
           try await AIPolicyRecord.query(on: db).filter(\.$course.$id == course.requireID()).first() == nil {
            var policy = GatewayPolicy()
            policy.allowedModels = [tutorModel, embedModel]
            policy.maxTokensPerRequest = 512
            policy.requestsPerMinute = 20
            policy.systemPrompt = "You are a patient CS101 tutor. Give hints and ask guiding questions; never hand out complete solutions."
            try await AIPolicyRecord(courseID: try course.requireID(), policy: String(decoding: try JSONEncoder.gateway.encode(policy), as: UTF8.self), by: nil).create(on: db)
            created += 1
        }
        return created
    }
}
