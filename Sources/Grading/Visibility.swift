// Who sees what of a grading result, by Gradescope's rules: `hidden` never to students, `after_due_date` once
// the due date has passed, `after_published` once the instructor publishes grades, `visible` always. Staff see
// everything.
import Foundation

public enum Visibility: String, Codable, Sendable, CaseIterable {
    case hidden
    case afterDueDate = "after_due_date"
    case afterPublished = "after_published"
    case visible
}

/// The person looking and the moment they look.
public struct Viewer: Sendable, Equatable {
    public var isStaff: Bool
    public var now: Date
    public var dueDate: Date?
    public var gradesPublished: Bool

    public init(isStaff: Bool, now: Date, dueDate: Date?, gradesPublished: Bool) {
        self.isStaff = isStaff
        self.now = now
        self.dueDate = dueDate
        self.gradesPublished = gradesPublished
    }

    public func sees(_ visibility: Visibility) -> Bool {
        if isStaff { return true }
        switch visibility {
        case .visible: return true
        case .hidden: return false
        case .afterDueDate: return dueDate.map { now >= $0 } ?? true
        case .afterPublished: return gradesPublished
        }
    }
}
