// An action refused by the rules of what it acts on or by the ledger (a deadline passed, a maximum reached, not enough
// credits, a project not active): 409 with a sentence that says why and what to do.
import Vapor

struct Refusal: AbortError {
    var reason: String
    var status: HTTPResponseStatus { .conflict }
    init(_ reason: String) { self.reason = reason }
}
