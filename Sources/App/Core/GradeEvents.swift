// A student's grade changed (a result recorded, an adjustment, an assignment's grades published): whatever mirrors
// grades elsewhere (the LMS's grade book, through LTI) listens. Called inside the transaction that made the change,
// so what a listener writes (an outbox row) commits with it or not at all. Grading knows no listener; the root
// assembly registers them (`configure`).
import Fluent
import Foundation
import Vapor

enum GradeChange: Sendable {
    /// One hand-in's score changed.
    case submission(UUID)
    /// Every student's grade of the assignment may have (its grades were published).
    case assignment(UUID)
}

typealias GradeListener = @Sendable (GradeChange, any Database, Date) async throws -> Void

extension Application {
    private struct GradeListenersKey: StorageKey { typealias Value = [GradeListener] }

    var gradeListeners: [GradeListener] {
        get { storage[GradeListenersKey.self] ?? [] }
        set { storage[GradeListenersKey.self] = newValue }
    }

    /// Tells every listener, on `db` (the change's transaction).
    func gradeChanged(_ change: GradeChange, on db: any Database) async throws {
        for listener in gradeListeners { try await listener(change, db, clock.now()) }
    }
}
