// What the lab pages' templates are given (their view-models; links come from SitePath).
import Foundation
import Labs

struct LabLinks: Encodable {
    var page, setup, course, start, homeZip, resetHome, startFiles, classStart: String

    init(lab: UUID, course: UUID) {
        classStart = SitePath.labPrestart(.id(lab)).url
        (homeZip, resetHome, startFiles) = (SitePath.labHomeZip(.id(lab)).url, SitePath.resetLabHome(.id(lab)).url, SitePath.labStartFiles(.id(lab)).url)
        (page, setup, self.course) = (SitePath.lab(.id(lab)).url, SitePath.labSetup(.id(lab)).url, SitePath.course(.id(course)).url(at: "labs"))
        start = SitePath.startLab(.id(lab)).url
    }
}

struct LabPage: Encodable {
    var title: String
    var page: PageContext
    var lab: LabDTO
    var course: CourseDTO
    var links: LabLinks
    /// Course staff: the set-up script and its log.
    var staff: Bool
    var canManage: Bool
    /// The set-up is waiting or running (the page says to reload).
    var pending: Bool
    /// The person's files of this lab.
    var home: LabHomeDTO
    var homeUsedMB: String
    /// The person's running session of this lab, if any.
    var runningSession: String?
    /// A Start button: the lab can be started now by this person (set up, of a kind served, and not running already).
    var canStart: Bool
    var kinds = LabKind.allCases.map(\.rawValue)
    var audiences = LabAudience.allCases.map(\.rawValue)
}

struct LabSessionLinks: Encodable {
    var page, stop, terminal, lab, xtermScript, xtermFit, xtermStyle, jupyter, status, keep: String

    init(session: UUID, lab: UUID) {
        (status, keep) = (SitePath.labSessionStatus(.id(session)).url, SitePath.keepLabSession(.id(session)).url)
        jupyter = SitePath.openLab(.id(session)).url
        (page, stop, terminal) = (SitePath.labSession(.id(session)).url, SitePath.stopLabSession(.id(session)).url, SitePath.labTerminal(.id(session)).url)
        self.lab = SitePath.lab(.id(lab)).url
        (xtermScript, xtermFit, xtermStyle) = (SitePath.xtermScript.url, SitePath.xtermFit.url, SitePath.xtermStyle.url)
    }
}

struct LabSessionPage: Encodable {
    var title: String
    var page: PageContext
    var session: LabSessionDTO
    var labName: String
    var kind: String
    var links: LabSessionLinks
    var running: Bool
    /// xterm.js is on this server (scripts/install-deps puts it there).
    var terminalInstalled: Bool
}
