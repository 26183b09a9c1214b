// A course's "AI access" page: members create and revoke their gateway keys (the token is shown once, on the page
// that created it, never stored in the session) and see their usage; instructors set the policy; staff see usage
// per student and per model. Forms go through CSRF; the logic is in AIKeys, AIPolicies and AIUsageReports.
import Fluent
import Foundation
import Gateway
import Vapor

enum AIPageController {
    @Sendable static func page(req: Request) async throws -> View {
        let (course, user, access) = try await req.course(for: Policy.Action.viewCourse)
        return try await render(req, course, user, access, page: PageContext(req))
    }

    static func render(_ req: Request, _ course: Course, _ user: User, _ access: CourseAccess, page: PageContext, newToken: String? = nil) async throws -> View {
        let canUse = Policy.allows(user, .useAI(access)), canSee = Policy.allows(user, .viewAIUsage(access))
        let since = req.now.addingTimeInterval(-30 * 86_400)
        func when(_ date: Date?) -> String { PageFormat.when(date) ?? "never" }
        func line(_ line: AIUsageReport.Line) -> AIPage.Line {
            .init(key: line.key, requests: line.requests, promptTokens: line.promptTokens, completionTokens: line.completionTokens, credits: line.credits.description)
        }
        let keys = canUse ? try await AIKeys.list(of: user, in: course, on: req.db) : []
        let report = canSee ? try await AIUsageReports.course(course, since: since, on: req.db) : nil
        let policy = try await AIPolicies.editablePolicy(of: try course.requireID(), on: req.db)
        let host = req.headers.first(name: .host) ?? "localhost"
        return try await req.view.render("ai", AIPage(
            title: "\(course.code): AI access", page: page, course: try CourseDTO(course, access: access), links: CourseLinks(try course.requireID()), baseURL: "http://\(host)/v1",
            canUse: canUse, canSetPolicy: Policy.allows(user, .setAIPolicy(access)), canSeeUsage: canSee,
            keys: keys.map { .init(revoke: SitePath.revokeAIKey(.id($0.id)).url, name: $0.name, prefix: $0.prefix, created: when($0.createdAt), lastUsed: when($0.lastUsedAt)) },
            newToken: newToken, mine: canUse ? line(try await AIUsageReports.mine(user, in: course, since: since, on: req.db)) : nil,
            byStudent: report?.byStudent.map(line) ?? [], byModel: report?.byModel.map(line) ?? [],
            models: try await AIModel.query(on: req.db).sort(\.$name).all().map(\.name).filter(policy.allows(model:)),
            policy: policy, allowedModels: policy.allowedModels.joined(separator: ", "),
            blackout: policy.blackouts.first.map { .init(start: minute($0.start), end: minute($0.end), message: $0.message) }))
    }

    /// YYYY-MM-DDTHH:MM in UTC, as the form takes it back.
    static func minute(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm"
        return formatter.string(from: date)
    }

    /// Creates a key and shows its token on this answer only.
    @Sendable static func createKey(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.useAI)
        do {
            let key = try await AIKeys.issue(to: user, in: course, name: try req.input(AIKeyInput.self).name, origin: req.credentialOrigin, on: req.db)
            var page = PageContext(req)
            page.notice = "Key “\(key.name)” created. Copy it now: it is shown only this once."
            return try await render(req, course, user, access, page: page, newToken: key.token).encodeResponse(status: .created, for: req)
        } catch let rejection as InputRejection {
            return try await render(req, course, user, access, page: PageContext(req, problems: rejection.problems)).encodeResponse(status: .unprocessableEntity, for: req)
        }
    }

    @Sendable static func revokeKey(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        guard let id = req.parameters.get("keyID", as: UUID.self) else { throw Abort(.notFound) }
        let key = try await AIKeys.revoke(id, by: user, app: req.application, on: req.db)
        req.session.data[PageContext.noticeKey] = "Key “\(key.name)” revoked; it stops working at once."
        return req.redirect(to: key.$course.id.map { SitePath.courseAI(.id($0)).url } ?? SitePath.dashboard.url, redirectType: .normal)
    }

    @Sendable static func setPolicy(req: Request) async throws -> Response {
        let (course, user, access) = try await req.course(for: Policy.Action.setAIPolicy)
        return try await req.formAction(back: .courseAI(.id(try course.requireID())),
                                        render: { try await render(req, course, user, access, page: $0) }) {
            let form = try req.input(PolicyForm.self)
            var input = AIPolicyInput()
            var checks = InputChecks()
            func number(_ text: String?, _ label: String) -> Int? {
                guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
                guard let value = Int(text) else { checks.add("\(label) must be a whole number."); return nil }
                return value
            }
            input.allowedModels = (form.allowedModels ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            input.maxTokensPerRequest = number(form.maxTokensPerRequest, "Max tokens per request")
            input.requestsPerMinute = number(form.requestsPerMinute, "Requests per minute")  // empty: no limit
            input.requestsPerMinuteGiven = true
            input.systemPrompt = form.systemPrompt ?? ""
            input.logPrompts = form.logPrompts != nil
            input.promptRetentionDays = number(form.promptRetentionDays, "Days prompts are kept")
            let start = InputChecks.dateTime(form.blackoutStart, "Blackout start", &checks)
            let end = InputChecks.dateTime(form.blackoutEnd, "Blackout end", &checks)
            if let start, let end {
                input.blackouts = [.init(start: start, end: end, message: form.blackoutMessage?.isEmpty == false ? form.blackoutMessage! : "AI access is paused.")]
            } else {
                input.blackouts = []
            }
            try checks.finish()
            _ = try await AIPolicies.update(course, input, by: user, app: req.application, on: req.db)
            return "AI policy saved."
        }
    }
}

/// The policy form as the page sends it (text fields, read by `AIPolicies`).
struct PolicyForm: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case allowedModels, maxTokensPerRequest, requestsPerMinute, systemPrompt, logPrompts, promptRetentionDays
        case blackoutStart, blackoutEnd, blackoutMessage
    }
    typealias Fields = CodingKeys
    var allowedModels: String?
    var maxTokensPerRequest: String?
    var requestsPerMinute: String?
    var systemPrompt: String?
    var logPrompts: String?
    var promptRetentionDays: String?
    var blackoutStart: String?
    var blackoutEnd: String?
    var blackoutMessage: String?
}


/// The administrators' page for the gateway's catalogue: providers (base URL, the secret's variable name and whether
/// this process has it — never the secret) and models with their prices; forms to add either.
enum AIAdminPageController {
    @Sendable static func page(req: Request) async throws -> View {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await render(req, PageContext(req))
    }

    static func render(_ req: Request, _ page: PageContext) async throws -> View {
        let providers = try await AIProvider.query(on: req.db).sort(\.$name).all().map(AICatalogue.providerDTO)
        let models = try await AICatalogue.catalogue(at: req.now, on: req.db).map {
            AdminAIPage.Model(name: $0.name, kind: $0.kind, provider: $0.provider, fallback: $0.fallbackProvider ?? "—", upstream: $0.upstreamName,
                              prices: "\($0.inputPrice?.description ?? "?") in / \($0.outputPrice?.description ?? "?") out per million tokens")
        }
        return try await req.view.render("admin-ai", AdminAIPage(page: page, providers: providers, models: models))
    }

    @Sendable static func addProvider(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await req.formAction(back: .adminAI, render: { try await render(req, $0) }) {
            let provider = try await AICatalogue.addProvider(try req.content.decode(ProviderInput.self), app: req.application, on: req.db)
            return "Provider \(provider.name) added."
        }
    }

    @Sendable static func addModel(req: Request) async throws -> Response {
        try Policy.require(try req.auth.require(User.self), can: .administerPlatform)
        return try await req.formAction(back: .adminAI, render: { try await render(req, $0) }) {
            let model = try await AICatalogue.addModel(try req.content.decode(ModelInput.self), app: req.application, on: req.db)
            return "Model \(model.name) added."
        }
    }
}
