// People and their single memberships: an administrator creates and (de)activates people; managers, instructors
// and PIs add one person to their place with a role, change it, or remove it. The policy decides who may (the
// controllers ask it first); these functions check the input and write, or write nothing.
import Fluent
import Foundation
import Insight
import Vapor

struct UserDTO: Content, Equatable {
    var id: UUID
    var email: String
    var name: String
    var isAdmin: Bool
    var isActive: Bool
    /// False until the person has used their invitation link.
    var hasPassword: Bool

    init(_ user: User) throws {
        id = try user.requireID()
        email = user.email
        name = user.displayName
        isAdmin = user.isAdmin
        isActive = user.isActive
        hasPassword = user.passwordHash != nil
    }
}

extension UserDTO: APIBody {
    static let schemaName = "User"
    static let schema = JSONSchema.object(["id": .string(format: "uuid"), "email": .string(), "name": .string(), "isAdmin": .boolean, "isActive": .boolean,
                                           "hasPassword": .boolean], required: ["id", "email", "name", "isAdmin", "isActive", "hasPassword"])
    static var samples: [UserDTO] {
        [try! UserDTO(User(id: Sample.id, email: "ada@uni.test", displayName: "Ada", passwordHash: nil, isAdmin: false))]
    }
}

struct NewUserInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case email, name, isAdmin }
    typealias Fields = CodingKeys
    var email: String?
    var name: String?
    var isAdmin: Bool?
}

extension NewUserInput: APIInput {
    static let schema = JSONSchema.object(["email": .string(format: "email"), "name": .text(), "isAdmin": .boolean], required: ["email", "name"])
}

struct UserChangeInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name, isActive, isAdmin }
    typealias Fields = CodingKeys
    var name: String?
    var isActive: Bool?
    var isAdmin: Bool?
}

extension UserChangeInput: APIInput {
    static let schema = JSONSchema.object(["name": .text(), "isActive": .boolean, "isAdmin": .boolean], required: [])
}

/// One person in one place. `name` is only used (and then required) when the email is new, for courses, where an
/// instructor may bring in people who have no account yet.
struct MembershipInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case email, role, name }
    typealias Fields = CodingKeys
    var email: String?
    var role: String?
    var name: String?
}

extension MembershipInput {
    /// One person's membership in a place whose roles are `Role`'s; `name` only for a new person (courses).
    static func schema<Role: CaseIterable & RawRepresentable>(roles: Role.Type) -> JSONSchema where Role.RawValue == String {
        .object(["email": .string(format: "email"), "role": .choice(Role.self), "name": .text()], required: ["email", "role"])
    }
}

struct NewUserDTO: Content {
    var user: UserDTO
    /// Where they set their password (valid 14 days, once); give it to them.
    var invitation: String
}

extension NewUserDTO: APIBody {
    static let schemaName = "NewUser"
    static let schema = JSONSchema.object(["user": .ref(UserDTO.self), "invitation": .string()], required: ["user", "invitation"])
    static var parts: [any APIBody.Type] { [UserDTO.self] }
    static var samples: [NewUserDTO] { [NewUserDTO(user: UserDTO.samples[0], invitation: "https://cc.uni.test/set-password?token=abc")] }
}

struct MemberDTO: Content, Equatable {
    var userID: UUID
    var email: String
    var name: String
    var role: String
}

extension MemberDTO: APIBody {
    static let schemaName = "Member"
    static let schema = JSONSchema.object(["userID": .string(format: "uuid"), "email": .string(), "name": .string(), "role": .string()],
                                          required: ["userID", "email", "name", "role"])
    static let samples = [MemberDTO(userID: Sample.id, email: "ada@uni.test", name: "Ada", role: "student")]
}

/// The three kinds of membership (programme, course, project) seen alike.
protocol PlaceMembership: Model where IDValue == UUID {
    associatedtype Role: RawRepresentable & CaseIterable & Codable & Sendable where Role.RawValue == String
    static var placeName: String { get }
    var role: Role { get set }
    var userID: UUID { get }
    var member: User { get }
    init(place: UUID, userID: UUID, role: Role)
    static func query(place: UUID, on db: any Database) -> QueryBuilder<Self>
}

extension ProgrammeMember: PlaceMembership {
    static let placeName = "programme"
    var userID: UUID { $user.id }
    var member: User { user }
    convenience init(place: UUID, userID: UUID, role: ProgrammeRole) { self.init(programmeID: place, userID: userID, role: role) }
    static func query(place: UUID, on db: any Database) -> QueryBuilder<ProgrammeMember> { query(on: db).filter(\.$programme.$id == place).with(\.$user) }
}

extension CourseMember: PlaceMembership {
    static let placeName = "course"
    var userID: UUID { $user.id }
    var member: User { user }
    convenience init(place: UUID, userID: UUID, role: CourseRole) { self.init(courseID: place, userID: userID, role: role) }
    static func query(place: UUID, on db: any Database) -> QueryBuilder<CourseMember> { query(on: db).filter(\.$course.$id == place).with(\.$user) }
}

extension ProjectMember: PlaceMembership {
    static let placeName = "project"
    var userID: UUID { $user.id }
    var member: User { user }
    convenience init(place: UUID, userID: UUID, role: ProjectRole) { self.init(projectID: place, userID: userID, role: role) }
    static func query(place: UUID, on db: any Database) -> QueryBuilder<ProjectMember> { query(on: db).filter(\.$project.$id == place).with(\.$user) }
}

enum People {
    // MARK: Accounts (administrators)

    /// Creates a person without a password and returns the invitation path with which they set one.
    static func create(_ input: NewUserInput, writes: Writes) async throws -> (User, String) {
        var checks = InputChecks()
        let email = checks.email(input.email), name = checks.text(input.name, "name")
        try checks.finish()
        return try await writes.transaction { db in
            if try await User.query(on: db).filter(\.$email == email!).first() != nil {
                throw InputRejection.conflict("There is already a person with the email \(email!).")
            }
            let user = User(email: email!, displayName: name!, passwordHash: nil, isAdmin: input.isAdmin ?? false)
            try await create(user, on: db)
            return (user, try await PasswordLinks.issue(for: user, purpose: .invitation, on: db))
        }
    }

    /// Creates the account; the same email created at the same moment by another request is a conflict (409), not an
    /// error of the platform's.
    private static func create(_ user: User, on db: any Database) async throws {
        do { try await user.create(on: db) } catch where Writes.isUniqueViolation(error) {
            throw InputRejection.conflict("There is already a person with the email \(user.email).")
        }
    }

    /// Renames, (de)activates, grants or removes admin. Nobody removes their own access by mistake.
    static func change(_ user: User, _ input: UserChangeInput, by actor: User, on db: any Database) async throws {
        var checks = InputChecks()
        let name = input.name.flatMap { checks.text($0, "name") }
        if user.id == actor.id && (input.isActive == false || input.isAdmin == false) {
            checks.add("You cannot deactivate yourself or remove your own administrator role; ask another administrator.")
        }
        try checks.finish()
        if let name { user.displayName = name }
        if let active = input.isActive { user.isActive = active }
        if let admin = input.isAdmin { user.isAdmin = admin }
        // A deactivated person's keys and session stop working at their next request (both check the flag).
        try await user.save(on: db)
    }

    /// People whose email or name contains `search`, in the natural order of their names, then by email (the caller
    /// paginates).
    static func search(_ search: String?, on db: any Database) -> QueryBuilder<User> {
        let query = User.query(on: db).sort(\.$sortKey).sort(\.$email)
        if let search = search?.trimmingCharacters(in: .whitespaces), !search.isEmpty {
            query.group(.or) { $0.filter(\.$email ~~ search.lowercased()).filter(\.$displayName ~~ search) }
        }
        return query
    }

    // MARK: Memberships

    /// Adds the person with this email to the place, or changes their role there. For courses a new email with a
    /// name creates the person (the returned invitation path is for them); elsewhere the person must exist.
    static func setMember<M: PlaceMembership>(_ type: M.Type, place: UUID, _ input: MembershipInput, allowNewPeople: Bool,
                                              writes: Writes) async throws -> (MemberDTO, invitation: String?) {
        var checks = InputChecks()
        let email = checks.email(input.email), role = checks.choice(input.role, "role", as: M.Role.self)
        if let name = input.name { _ = checks.text(name, "name") }
        try checks.finish()
        do {
            return try await setMember(type, place: place, email: email!, role: role!, input, allowNewPeople: allowNewPeople, writes: writes)
        } catch where Writes.isUniqueViolation(error) {
            // Another change made the same membership (or account) at the same moment: this one did nothing.
            throw InputRejection.conflict("\(email!)'s membership was changed by someone else at the same moment; nothing was changed. Try again.")
        }
    }

    private static func setMember<M: PlaceMembership>(_ type: M.Type, place: UUID, email: String, role: M.Role, _ input: MembershipInput,
                                                      allowNewPeople: Bool, writes: Writes) async throws -> (MemberDTO, invitation: String?) {
        try await writes.transaction { db in
            var invitation: String?
            let user: User
            if let existing = try await User.query(on: db).filter(\.$email == email).first() {
                user = existing
            } else if allowNewPeople {
                var checks = InputChecks()
                guard let name = checks.text(input.name, "name") else {
                    throw InputRejection.conflict("\(email) has no account yet; give their name too and they get an invitation link.")
                }
                user = User(email: email, displayName: name, passwordHash: nil)
                try await create(user, on: db)
                invitation = try await PasswordLinks.issue(for: user, purpose: .invitation, on: db)
            } else {
                throw InputRejection.conflict("Nobody has the email \(email). An administrator creates their account first.")
            }
            let userID = try user.requireID()
            let membership: M
            if let existing = try await M.query(place: place, on: db).filter("user_id", .equal, userID).first() {
                existing.role = role
                // Set by the course's staff: theirs now (let in again, never marked as having left by an LMS).
                if let member = existing as? CourseMember { (member.leftAt, member.admittedBy) = (nil, nil) }
                // Set by a manager: theirs now, never taken back by a single sign-on provider's claim rule.
                if let member = existing as? ProgrammeMember { member.grantedByProvider = nil }
                try await existing.save(on: db)
                membership = existing
            } else {
                membership = M(place: place, userID: userID, role: role)
                try await membership.create(on: db)
            }
            return (MemberDTO(userID: userID, email: user.email, name: user.displayName, role: membership.role.rawValue), invitation)
        }
    }

    /// Removes the person from the place; removing someone who is not there is not an error (the same request
    /// twice has one effect). An unknown person is.
    static func removeMember<M: PlaceMembership>(_ type: M.Type, place: UUID, userID: UUID, on db: any Database) async throws {
        guard try await User.find(userID, on: db) != nil else { throw Abort(.notFound, reason: "No such person.") }
        let ids = try await M.query(place: place, on: db).filter("user_id", .equal, userID).all().map { try $0.requireID() }
        if !ids.isEmpty { try await M.query(on: db).filter(\._$id ~~ ids).delete() }
    }

    /// Everyone in the place, by role order then name (two queries).
    static func members<M: PlaceMembership>(_ type: M.Type, place: UUID, on db: any Database) async throws -> [MemberDTO] {
        let order = Dictionary(uniqueKeysWithValues: M.Role.allCases.enumerated().map { ($1.rawValue, $0) })
        return try await M.query(place: place, on: db).all()
            .map { MemberDTO(userID: $0.userID, email: $0.member.email, name: $0.member.displayName, role: $0.role.rawValue) }
            .naturallySorted(group: { order[$0.role]! }, by: \.name)
    }
}
