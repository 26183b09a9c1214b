// LTI 1.3 with the university's LMS: its login initiation and launches (cross-site, exempt from the forms' CSRF
// field and nowhere else), and the registrations of LMSs with their deployments (administrators).
import Vapor

enum LTIArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.crossSite.get(.ltiLogin, use: LTIController.login)
        pages.crossSite.post(.ltiLogin, use: LTIController.login)
        pages.crossSite.post(.ltiLaunch, use: LTIController.launch)
        pages.crossSite.post(.ltiWindow, use: LTIController.window)  // checks its Origin itself
        pages.open.get(.ltiKeySet, use: LTIController.keySet)
        pages.open.get(.ltiConfiguration, use: LTIController.configuration)
        pages.open.get(.ltiRegister, use: LTIController.dynamicRegistration)

        pages.signedIn.post(.adminLTIInvites, use: LTIController.inviteFromPage)
        pages.signedIn.get(.ltiDeepLink(.key), use: LTIController.deepLinkPage)
        pages.signedIn.post(.ltiDeepLink(.key), use: LTIController.deepLinkAnswer)
        pages.signedIn.post(.adminLTIKeys, use: LTIController.rotateKeyFromPage)
        pages.signedIn.get(.lmsScores(.key), use: LTIController.scoresPage)
        pages.signedIn.post(.resendLMSScores(.key), use: LTIController.resendScores)
        pages.signedIn.get(.adminLTI, use: LTIController.adminPage)
        pages.signedIn.post(.adminLTIRegistrations, use: LTIController.addFromPage)
        pages.signedIn.post(.adminLTIDeployments(.key), use: LTIController.addDeploymentFromPage)
        pages.signedIn.post(.adminLTIRegistration(.key), use: LTIController.changeFromPage)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "lti/registrations", id: "listLTIRegistrations",
               summary: "LMSs registered as LTI 1.3 platforms (admins), with their deployments and the URLs to enter in the LMS.",
               tag: "people", response: .list(LTIRegistrationDTO.self), errors: [404: "Not an admin."], use: LTIController.list)
        api.on(.POST, "lti/registrations", id: "addLTIRegistration", summary: "Register an LMS as an LTI 1.3 platform (admins).", tag: "people",
               request: .input(LTIRegistrationInput.self), response: .one(LTIRegistrationDTO.self), status: 201,
               errors: [404: "Not an admin.", 409: "The name, or the issuer and client id, are registered already; or the programme does not exist."],
               use: LTIController.add)
        api.on(.PATCH, "lti/registrations/:registrationID", id: "changeLTIRegistration",
               summary: "Switch an LMS's registration on or off, or remove deployments it no longer uses (admins).", tag: "people",
               request: .input(LTIRegistrationChange.self), response: .one(LTIRegistrationDTO.self),
               errors: [404: "Not an admin, or no such registration.", 422: "A deployment to remove is not one of this registration's."],
               use: LTIController.change)
        api.on(.POST, "lti/registrations/:registrationID/deployments", id: "addLTIDeployment",
               summary: "Accept launches from another deployment of a registered LMS (admins).", tag: "people",
               request: .input(LTIDeploymentInput.self), response: .one(LTIRegistrationDTO.self), status: 201,
               errors: [404: "Not an admin, or no such registration.", 409: "That deployment is registered already."],
               use: LTIController.addDeployment)
    }
}
