// The AI gateway's management: providers and models (admins), keys (each member), policy (instructors), usage.
import Gateway
import Vapor

enum AIArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.courseAI(.key), use: AIPageController.page)
        pages.signedIn.post(.courseAIKeys(.key), use: AIPageController.createKey)
        pages.signedIn.post(.courseAIPolicy(.key), use: AIPageController.setPolicy)
        pages.signedIn.post(.revokeAIKey(.key), use: AIPageController.revokeKey)
        pages.signedIn.get(.adminAI, use: AIAdminPageController.page)
        pages.signedIn.post(.adminAIProviders, use: AIAdminPageController.addProvider)
        pages.signedIn.post(.adminAIModels, use: AIAdminPageController.addModel)
    }

    /// The OpenAI-compatible endpoints under /v1, with the gateway's own keys. The model requests run on their
    /// request's event loop (nothing on their path blocks: the database and the upstream are awaited).
    static func gatewayRoutes(_ gateway: any RoutesBuilder) {
        gateway.onEventLoop(.POST, "chat", "completions", maxBody: "4mb", use: AIGatewayController.chatCompletions)
        gateway.onEventLoop(.POST, "embeddings", maxBody: "4mb", use: AIGatewayController.embeddings)
        gateway.get("models", use: AIGatewayController.models)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "ai/providers", id: "listAIProviders", summary: "AI providers (admins): base URL and the NAME of the variable holding the secret, never the secret.",
               tag: "ai", response: .list(ProviderDTO.self), errors: [404: "Not an admin."], use: AIGatewayController.providers)
        api.on(.POST, "ai/providers", id: "addAIProvider", summary: "Register an OpenAI-compatible provider (admins).", tag: "ai",
               request: .input(ProviderInput.self),
               response: .one(ProviderDTO.self), status: 201, errors: [404: "Not an admin.", 409: "A provider has that name already."], use: AIGatewayController.addProvider)
        api.on(.GET, "ai/models", id: "listAIModels", summary: "The models the gateway offers, their providers and prices (credits per million tokens).",
               tag: "ai", response: .list(CatalogueModelDTO.self), use: AIGatewayController.catalogue)
        api.on(.POST, "ai/models", id: "addAIModel", summary: "Offer a model through a provider (and a fallback), with its prices (admins).", tag: "ai",
               request: .input(ModelInput.self),
               response: .one(CatalogueModelDTO.self), status: 201,
               errors: [404: "Not an admin.", 409: "The model's name is taken, or its provider is not registered."], use: AIGatewayController.addModel)
        api.on(.GET, "courses/:courseID/ai/keys", id: "listAIKeys", summary: "Your live AI gateway keys for the course.", tag: "ai",
               response: .list(AIKeyDTO.self), errors: [404: "No such course, or not yours."], use: AIGatewayController.keys)
        api.on(.POST, "courses/:courseID/ai/keys", id: "createAIKey", summary: "A new AI gateway key for the course; the token is in this answer only.", tag: "ai",
               request: .input(AIKeyInput.self), response: .one(AIKeyDTO.self), status: 201,
               errors: [404: "No such course, or not yours.", 409: "You have 20 live AI keys; revoke one first."], use: AIGatewayController.createKey)
        api.on(.GET, "projects/:projectID/ai/keys", id: "listProjectAIKeys", summary: "Your live AI gateway keys for the research project.", tag: "ai",
               response: .list(AIKeyDTO.self), errors: [404: "No such project, or not yours."], use: AIGatewayController.projectKeys)
        api.on(.POST, "projects/:projectID/ai/keys", id: "createProjectAIKey",
               summary: "A new AI gateway key for the research project, paid from your allowance in it; the token is in this answer only.", tag: "ai",
               request: .input(AIKeyInput.self), response: .one(AIKeyDTO.self), status: 201,
               errors: [404: "No such project, or not yours.", 409: "You have 20 live AI keys; revoke one first."], use: AIGatewayController.createProjectKey)
        api.on(.DELETE, "ai/keys/:keyID", id: "revokeAIKey", summary: "Revoke one of your AI keys; it stops at once.", tag: "ai", status: 204,
               errors: [404: "No such key, or not yours."], use: AIGatewayController.revokeKey)
        api.on(.GET, "courses/:courseID/ai/policy", id: "getAIPolicy", summary: "The course's AI policy.", tag: "ai", response: .one(GatewayPolicy.self),
               errors: [404: "No such course, or not yours."], use: AIGatewayController.policy)
        api.on(.PUT, "courses/:courseID/ai/policy", id: "setAIPolicy", summary: "Change the fields given of the course's AI policy (instructors).", tag: "ai",
               request: .input(AIPolicyInput.self), response: .one(GatewayPolicy.self),
               errors: [404: "No such course, or not yours to manage.", 409: "allowedModels names a model the platform does not offer."], use: AIGatewayController.setPolicy)
        api.on(.GET, "courses/:courseID/ai/usage", id: "getAIUsage", summary: "AI usage per student and per model (staff); ?since=YYYY-MM-DD.", tag: "ai",
               response: .one(AIUsageReport.self),
               errors: [404: "No such course, or not yours to see."], use: AIGatewayController.usage)
        api.on(.GET, "courses/:courseID/ai/usage/mine", id: "getMyAIUsage", summary: "Your own AI usage in the course; ?since=YYYY-MM-DD.", tag: "ai",
               response: .one(AIUsageReport.Line.self), errors: [404: "No such course, or not yours."], use: AIGatewayController.myUsage)
    }
}
