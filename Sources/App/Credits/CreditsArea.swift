// The credits ledger: grants, allocations, allowances, holds, statements and prices.
import Vapor

enum CreditsArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.credits, use: CreditsPageController.mine)
        pages.signedIn.get(.programmeCredits(.key), use: CreditsPageController.programme)
        pages.signedIn.post(.programmeGrants(.key), use: CreditsPageController.grant)
        pages.signedIn.post(.programmeAllocations(.key), use: CreditsPageController.allocate)
        pages.signedIn.get(.courseCredits(.key), use: CreditsPageController.course)
        pages.signedIn.post(.courseDefaultAllowance(.key), use: CreditsPageController.courseDefault)
        pages.signedIn.post(.courseAllowances(.key), use: CreditsPageController.courseAllowance)
        pages.signedIn.get(.projectCredits(.key), use: CreditsPageController.project)
        pages.signedIn.post(.projectDefaultAllowance(.key), use: CreditsPageController.projectDefault)
        pages.signedIn.post(.projectAllowances(.key), use: CreditsPageController.projectAllowance)
    }

    static func api(_ api: APIRoutes) {
        let refused = "The ledger refused (not enough credits at the level named, expired, or already closed); nothing moved."

        api.on(.GET, "programmes/:programmeID/credits", id: "getProgrammeCredits",
               summary: "The pool and every allocation with free, held and spent credits (members' use rolled up; no names).", tag: "credits",
               response: .one(ProgrammeCreditsDTO.self), errors: [404: "No such programme, or not yours to see."], use: CreditsController.programme)
        api.on(.POST, "programmes/:programmeID/credits/grants", id: "grantCredits",
               summary: "Record the partner's grant into the programme pool (managers). Amounts are credits: 12 or \"12.5\".", tag: "credits",
               request: .input(GrantInput.self),
               response: .one(ProgrammeCreditsDTO.self), status: 201,
               errors: [404: "No such programme, or not yours to manage.", 409: "The idempotency key was used with other values, or the pool would pass what "
                                                                                       + "the ledger keeps in one account."],
               use: CreditsController.grant)
        api.on(.POST, "programmes/:programmeID/credits/allocations", id: "allocateCredits",
               summary: "Move credits from the pool to a course's or project's allocation, optionally until a date (managers).", tag: "credits",
               request: .input(AllocationInput.self), response: .one(ProgrammeCreditsDTO.self), status: 201,
               errors: [404: "No such programme, or not yours to manage.", 409: refused], use: CreditsController.allocate)
        api.on(.POST, "programmes/:programmeID/credits/returns", id: "returnCredits",
               summary: "Move credits from a course's or project's allocation back to the pool (managers).", tag: "credits",
               request: .input(AllocationInput.self), response: .one(ProgrammeCreditsDTO.self), status: 201,
               errors: [404: "No such programme, or not yours to manage.", 409: refused], use: CreditsController.giveBack)
        for (kind, parameter, handler, setDefault, setOne) in [
            ("course", "courseID", CreditsController.course, CreditsController.setCourseDefault, CreditsController.setCourseAllowance),
            ("project", "projectID", CreditsController.project, CreditsController.setProjectDefault, CreditsController.setProjectAllowance),
        ] {
            let capital = kind.prefix(1).uppercased() + kind.dropFirst()
            api.on(.GET, "\(kind)s/:\(parameter)/credits", id: "get\(capital)Credits",
                   summary: "The \(kind)'s allocation and each member's allowance and use (staff).", tag: "credits",
                   response: .one(PlaceCreditsDTO.self), errors: [404: "No such \(kind), or not yours to see."], use: handler)
            api.on(.PUT, "\(kind)s/:\(parameter)/credits/default-allowance", id: "set\(capital)DefaultAllowance",
                   summary: "What each member's allowance starts with; allowances below it are raised to it at once.", tag: "credits",
                   request: .input(AmountInput.self), response: .one(PlaceCreditsDTO.self),
                   errors: [404: "No such \(kind), or not yours to manage.", 409: refused], use: setDefault)
            api.on(.PUT, "\(kind)s/:\(parameter)/credits/allowances/:userID", id: "set\(capital)Allowance",
                   summary: "Set one member's allowance (in all: free + held + spent).", tag: "credits",
                   request: .input(AmountInput.self), response: .one(MemberCreditsDTO.self),
                   errors: [404: "No such \(kind) or member, or not yours to manage.", 409: refused], use: setOne)
        }
        api.on(.GET, "me/credits", id: "getMyCredits", summary: "Your allowances in every course and project, with what is left.", tag: "credits",
               response: .list(MyAllowanceDTO.self),
               use: CreditsController.mine)
        api.on(.POST, "credits/holds", id: "reserveCredits",
               summary: "Hold credits before a use: from your allowance in the course or project, or (staff) from its allocation. The same idempotencyKey holds once.",
               tag: "credits",
               request: .input(CreditsController.HoldInput.self),
               response: .one(HoldDTO.self), status: 201,
               errors: [404: "No such course or project, or not one you may spend in.", 409: refused], use: CreditsController.reserve)
        api.on(.POST, "credits/holds/:holdID/settle", id: "settleHold",
               summary: "Spend the actual amount (at most the hold), or the usage per meter priced at the list in force when the hold was made; the rest is freed.",
               tag: "credits", request: .input(CreditsController.SettleInput.self), response: .one(HoldDTO.self),
               errors: [404: "No such hold of yours.", 409: refused], use: CreditsController.settle)
        api.on(.POST, "credits/holds/:holdID/void", id: "voidHold", summary: "Free the whole hold.", tag: "credits", response: .one(HoldDTO.self),
               errors: [404: "No such hold of yours.", 409: refused], use: CreditsController.void)
        api.on(.GET, "credits/accounts/:accountID/entries", id: "getStatement",
               summary: "One account's entries, newest first; ?page=&per=.", tag: "credits",
               response: .page(EntryDTO.self),
               errors: [404: "No such account, or not yours to see."], use: CreditsController.entries)
        api.on(.GET, "credits/accounts/:accountID/statement.csv", id: "getStatementCSV",
               summary: "One account's entries as CSV (time,kind,from,to,credits,hold,memo), oldest first.", tag: "credits",
               errors: [404: "No such account, or not yours to see."], use: CreditsController.accountStatement)
        api.on(.GET, "programmes/:programmeID/credits/statement.csv", id: "getProgrammeStatementCSV",
               summary: "Every entry of the programme as CSV (managers).", tag: "credits",
               errors: [404: "No such programme, or not yours to manage."], use: CreditsController.programmeStatement)
        api.on(.GET, "credits/prices", id: "listPrices", summary: "The price list: every version of every meter's price.", tag: "credits",
               response: .list(CreditsController.PriceDTO.self), use: CreditsController.prices)
        api.on(.POST, "credits/prices", id: "setPrice", summary: "Add a price version taking effect at a time (administrators).", tag: "credits",
               request: .input(CreditsController.PriceInput.self),
               response: .one(CreditsController.PriceDTO.self), status: 201,
               errors: [404: "Only administrators set prices.", 409: "The meter has a price from that time already."],
               use: CreditsController.setPrice)
    }
}
