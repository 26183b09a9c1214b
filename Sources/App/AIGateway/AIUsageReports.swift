// AI usage reports: per student and per model for the course's staff, and each person's own.
import Fluent
import Foundation
import Gateway
import Insight
import Ledger
import Vapor

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
            }.naturallySorted(by: \.key)
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
    static func erasePrompts(before now: Date, on db: any Database) async throws {
        try await AIUsage.query(on: db).filter(\.$promptExpiresAt < now).set(\.$prompt, to: nil).set(\.$promptExpiresAt, to: nil).update()
    }
}

extension AIUsageReport.Line: APIBody {
    static let schemaName = "AIUsageLine"
    static let schema = JSONSchema.object(["key": .string(), "requests": .integer(), "promptTokens": .integer(), "completionTokens": .integer(),
                                           "credits": .credits], required: ["key", "requests", "promptTokens", "completionTokens", "credits"])
    static let samples = [Self(key: "Ada", requests: 12, promptTokens: 3_000, completionTokens: 9_000, credits: Credits(micro: 15_000))]
}

extension AIUsageReport: APIBody {
    static let schemaName = "AIUsage"
    static let schema = JSONSchema.object(["since": .string(format: "date-time"), "byStudent": .array(.ref(Line.self)), "byModel": .array(.ref(Line.self))],
                                          required: ["since", "byStudent", "byModel"])
    static var parts: [any APIBody.Type] { [Line.self] }
    static let samples = [AIUsageReport(since: Sample.date, byStudent: Line.samples, byModel: Line.samples)]
}
