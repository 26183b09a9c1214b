// Sessions started ahead of need: each lab host keeps an environment's chosen number of sessions running with an
// empty home, so a person who starts the lab gets one at once (JupyterLab alone takes seconds to start, and a class
// starting together would wait in line behind one another). Plain rules; the host (App's LabHost) applies them.
import Foundation

public enum LabReadyPool {
    /// How many an environment may ask each lab host to keep ready.
    public static let range = 0...50
    /// At most this many are being started at once on a host: each start takes a core for a few seconds, and the
    /// people already working in sessions come first.
    public static let startingAtOnce = 2
    /// A prepared session nobody took for this long is replaced by a fresh one (its sandbox's time limits count from
    /// its own start).
    public static let longestWait: TimeInterval = 12 * 3600
    /// A prepared session whose program has not started listening by then is stopped (it would hold a starting place).
    public static let readyWithin: TimeInterval = 180
    /// However many environments ask, a host keeps no more prepared sessions than this (each holds its memory).
    public static let mostOnHost = 100
    /// Sessions are prepared from this long before a scheduled window opens (and not at all while it is closed).
    public static let leadTime: TimeInterval = 15 * 60

    /// How many to start now for one environment: toward `target`, counting those ready and those starting, with no
    /// more than `startingAtOnce` starting on the host (`startingOnHost`, every environment's) at a time.
    public static func toStart(target: Int, ready: Int, starting: Int, startingOnHost: Int) -> Int {
        max(0, min(target - ready - starting, startingAtOnce - startingOnHost))
    }

    /// Whether sessions should be kept ready now: the environment is open, or opens within `leadTime`.
    public static func wanted(_ schedule: LabSchedule, at now: Date) -> Bool {
        schedule.isOpen(at: now) || schedule.isOpen(at: now.addingTimeInterval(leadTime))
    }
}
