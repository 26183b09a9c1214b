// Credits pages: each person's own allowances and history; a programme's pool, allocations and burn-down (with
// grant and allocation forms for managers; partner contacts see the same totals, no names); a course's or
// project's allocation with each member's use (forms for instructors and PIs); notices marked read.
import Fluent
import Foundation
import Insight
import Ledger
import Vapor

enum CreditsPageController {
    @Sendable static func mine(req: Request) async throws -> View {
        let user = try req.auth.require(User.self)
        try Policy.require(user, can: .viewSelf)
        let allowances = try await CreditsViews.mine(user, on: req.db)
        let ids = allowances.map(\.accountID)
        let entries = ids.isEmpty ? [] : try await LedgerEntry.query(on: req.db)
            .group(.or) { $0.filter(\.$fromAccountID ~~ ids).filter(\.$toAccountID ~~ ids) }
            .sort(\.$createdAt, .descending).limit(500).all()
        let rows = allowances.map { allowance in
            MyCreditsPage.Allowance(allowance: allowance, entries: entries.filter { $0.fromAccountID == allowance.accountID || $0.toAccountID == allowance.accountID }
                .prefix(20).compactMap { try? CreditsViews.entry($0, for: allowance.accountID) })
        }
        return try await req.view.render("credits-mine", MyCreditsPage(page: PageContext(req), allowances: rows))
    }

    // MARK: Programme

    @Sendable static func programme(req: Request) async throws -> View {
        let (programme, user, role) = try await req.programme(for: Policy.Action.viewProgrammeCredits)
        return try await renderProgramme(req, programme, canManage: Policy.allows(user, .manageProgramme(role)), PageContext(req))
    }

    @Sendable static func grant(req: Request) async throws -> Response {
        let (programme, user, _) = try await req.programme(for: Policy.Action.manageProgramme)
        return try await req.formAction(back: .programmeCredits(.id(try programme.requireID())),
                                        render: { try await renderProgramme(req, programme, canManage: true, $0) }) {
            let input = try req.input(GrantInput.self)
            try await ProgrammeTransfers.grant(input, key: try CreditsController.idempotencyKey(input.idempotencyKey, req), to: programme, by: user, ledger: req.ledger)
            return "Recorded a grant of \(input.amount) credits into the pool."
        }
    }

    @Sendable static func allocate(req: Request) async throws -> Response {
        let (programme, user, _) = try await req.programme(for: Policy.Action.manageProgramme)
        return try await req.formAction(back: .programmeCredits(.id(try programme.requireID())),
                                        render: { try await renderProgramme(req, programme, canManage: true, $0) }) {
            let input = try req.input(AllocationInput.self)
            let place = try await ProgrammeTransfers.move(input, key: try CreditsController.idempotencyKey(input.idempotencyKey, req), in: programme, down: true, by: user, ledger: req.ledger)
            return "Allocated \(input.amount) credits to \(place.name)."
        }
    }

    private static func renderProgramme(_ req: Request, _ programme: Programme, canManage: Bool, _ page: PageContext) async throws -> View {
        let id = try programme.requireID()
        let credits = try await CreditsViews.programme(programme, on: req.db)
        let byPlace = Dictionary(credits.allocations.map { ($0.placeID, $0) }, uniquingKeysWith: { a, _ in a })
        let courses = try await Course.query(on: req.db).filter(\.$programme.$id == id).all().naturallySorted(by: \.code)
        let projects = try await ResearchProject.query(on: req.db).filter(\.$programme.$id == id).all().naturallySorted(by: \.title)
        let empty = BalanceDTO(free: 0, held: 0, spent: 0)
        func row(_ kind: String, _ placeID: UUID, _ name: String) -> ProgrammeCreditsPage.Row {
            let allocation = byPlace[placeID]
            return .init(kind: kind, placeID: placeID, name: name, balance: allocation?.balance ?? empty,
                         defaultAllowance: allocation?.defaultAllowance, expiresOn: allocation?.expiresAt?.day)
        }
        let rows = try courses.map { row("course", try $0.requireID(), "\($0.code) \($0.title)") }
            + (try projects.map { row("project", try $0.requireID(), $0.title) })
        let points = try await BurnDownChart.points(programmeID: id, on: req.db)
        return try await req.view.render("credits-programme", ProgrammeCreditsPage(
            title: "Credits · \(programme.name)", page: page, programmeLink: SitePath.programme(.id(id)).url,
            allocate: SitePath.programmeAllocations(.id(id)).url, grant: SitePath.programmeGrants(.id(id)).url,
            statementCSV: "/api/v1/programmes/\(id)/credits/statement.csv", programmeName: programme.name, granted: credits.granted,
            pool: credits.pool, rows: rows, chart: BurnDownChart.svg(points, title: "Credits remaining in \(programme.name), by day"),
            points: points, canManage: canManage))
    }

    // MARK: Courses and projects

    @Sendable static func course(req: Request) async throws -> View {
        let (course, user, access) = try await req.course(for: Policy.Action.viewRoster)
        return try await renderPlace(req, .course(course), canManage: Policy.allows(user, .manageCourse(access)), PageContext(req))
    }

    @Sendable static func project(req: Request) async throws -> View {
        let (project, user, access) = try await req.project(for: Policy.Action.viewProject)
        return try await renderPlace(req, .project(project), canManage: Policy.allows(user, .manageProject(access)), PageContext(req))
    }

    @Sendable static func courseDefault(req: Request) async throws -> Response {
        let (course, user, _) = try await req.course(for: Policy.Action.manageCourse)
        return try await setDefault(req, .course(course), user)
    }

    @Sendable static func projectDefault(req: Request) async throws -> Response {
        let (project, user, _) = try await req.project(for: Policy.Action.manageProject)
        return try await setDefault(req, .project(project), user)
    }

    @Sendable static func courseAllowance(req: Request) async throws -> Response {
        let (course, user, _) = try await req.course(for: Policy.Action.manageCourse)
        return try await setOne(req, .course(course), user)
    }

    @Sendable static func projectAllowance(req: Request) async throws -> Response {
        let (project, user, _) = try await req.project(for: Policy.Action.manageProject)
        return try await setOne(req, .project(project), user)
    }

    struct OneAllowanceForm: Content { var userID: UUID; var amount: Credits }

    private static func setDefault(_ req: Request, _ place: LedgerPlace, _ user: User) async throws -> Response {
        try await req.formAction(back: path(place), render: { try await renderPlace(req, place, canManage: true, $0) }) {
            let amount = try req.input(AmountInput.self).amount
            _ = try await req.ledger.setDefaultAllowance(in: place, to: amount, actor: user.id)
            return "Every member's allowance is now at least \(amount) credits."
        }
    }

    private static func setOne(_ req: Request, _ place: LedgerPlace, _ user: User) async throws -> Response {
        try await req.formAction(back: path(place), render: { try await renderPlace(req, place, canManage: true, $0) }) {
            let form = try req.content.decode(OneAllowanceForm.self)
            guard let (member, _) = try await place.member(form.userID, on: req.db) else { throw InputRejection("That person is not a member here.") }
            _ = try await req.ledger.setAllowance(of: member, in: place, to: form.amount, actor: user.id)
            return "\(member.displayName)'s allowance is now \(form.amount) credits."
        }
    }

    private static func path(_ place: LedgerPlace) -> SitePath {
        switch place {
        case .course(let course): .courseCredits(.id(course.id!))
        case .project(let project): .projectCredits(.id(project.id!))
        }
    }

    /// The place's two allowance forms: the default for everyone, and one member's.
    private static func forms(_ place: LedgerPlace) -> (defaultAllowance: SitePath, allowances: SitePath) {
        switch place {
        case .course(let course): (.courseDefaultAllowance(.id(course.id!)), .courseAllowances(.id(course.id!)))
        case .project(let project): (.projectDefaultAllowance(.id(project.id!)), .projectAllowances(.id(project.id!)))
        }
    }

    private static func renderPlace(_ req: Request, _ place: LedgerPlace, canManage: Bool, _ page: PageContext) async throws -> View {
        let credits = try await CreditsViews.place(place, allocation: try await req.ledger.allocation(of: place), on: req.db)
        let name: String
        switch place {
        case .course(let course): name = "\(course.code) \(course.title)"
        case .project(let project): name = project.title
        }
        return try await req.view.render("credits-place", PlaceCreditsPage(
            title: "Credits · \(name)", page: page, defaultAllowance: forms(place).defaultAllowance.url, allowances: forms(place).allowances.url, name: name, credits: credits,
            nearCap: credits.members.filter { ($0.balance?.usedPercent ?? 0) >= 80 }, canManage: canManage))
    }
}
