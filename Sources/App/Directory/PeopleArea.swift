// People (administrators create, rename, (de)activate them) and the administrators' list of programmes.
import Vapor

enum PeopleArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.adminUsers, use: AdminController.usersPage)
        pages.signedIn.post(.adminUsers, use: AdminController.createUserFromPage)
        pages.signedIn.post(.adminUser(.key), use: AdminController.changeUserFromPage)
        pages.signedIn.get(.adminProgrammes, use: AdminController.programmesPage)
        pages.signedIn.post(.adminProgrammes, use: AdminController.createProgrammeFromPage)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "users", id: "listUsers", summary: "Everyone with an account (administrators); ?q= searches email and name; ?page=&per=.",
               tag: "people", response: .page(UserDTO.self), errors: [404: "Only administrators list people."], use: AdminController.listUsers)
        api.on(.POST, "users", id: "createUser", summary: "Create a person (administrators); the answer has their invitation link.", tag: "people",
               request: .input(NewUserInput.self),
               response: .one(NewUserDTO.self), status: 201,
               errors: [404: "Only administrators create people.", 409: "There is already a person with that email."], use: AdminController.createUser)
        api.on(.PATCH, "users/:userID", id: "changeUser", summary: "Rename, (de)activate, grant or remove administrator (administrators).",
               tag: "people", request: .input(UserChangeInput.self),
               response: .one(UserDTO.self), errors: [404: "No such person, or not an administrator."], use: AdminController.changeUser)

    }
}
