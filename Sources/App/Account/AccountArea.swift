// Your account: signing in and out, passwords (invitation and reset links too), the profile with its API keys, and /me.
import Vapor

enum AccountArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.open.get(.signIn, use: AuthController.signInPage)
        pages.open.post(.signIn, use: AuthController.signIn)
        pages.open.post(.signOut, use: AuthController.signOut)
        pages.open.get(.setPassword, use: PasswordController.page)
        pages.open.post(.setPassword, use: PasswordController.setPassword)
        pages.signedIn.get(.profile, use: ProfileController.page)
        pages.signedIn.post(.profilePassword, use: PasswordController.change)
        pages.signedIn.post(.profileKeys, use: ProfileController.createKeyFromForm)
        pages.signedIn.post(.revokeProfileKey(.key), use: ProfileController.revokeKeyFromForm)
    }

    static func api(_ api: APIRoutes) {
        api.on(.POST, "auth/token", id: "issueToken", summary: "Exchange an email and password for a bearer token (30 days).", tag: "auth",
               request: .input(AuthController.TokenRequest.self),
               response: .one(AuthController.TokenDTO.self),
               errors: [401: "Wrong email or password.", 429: "Too many failed attempts; see Retry-After."], auth: false,
               use: AuthController.issueToken)
        api.on(.GET, "me", id: "getMe", summary: "The signed-in person and every place they have a role.", tag: "people",
               response: .one(MeDTO.self),
               errors: [401: "No valid bearer token."], use: ProfileController.me)
        api.on(.GET, "me/keys", id: "listMyKeys", summary: "Your personal API keys (prefix only, never the secret).", tag: "people",
               response: .list(APIKeyDTO.self), errors: [401: "No valid bearer token."], use: ProfileController.listKeys)
        api.on(.POST, "me/keys", id: "createMyKey", summary: "Create a personal API key; the token is shown once.", tag: "people",
               request: .input(ProfileController.NewKey.self),
               response: .one(NewAPIKeyDTO.self), status: 201,
               errors: [400: "The name is missing or too long.", 401: "No valid bearer token."], use: ProfileController.createKey)
        api.on(.DELETE, "me/keys/:keyID", id: "revokeMyKey", summary: "Revoke one of your keys; it stops working at once.", tag: "people",
               status: 204, errors: [401: "No valid bearer token.", 404: "No such key of yours."], use: ProfileController.revokeKey)
    }
}
