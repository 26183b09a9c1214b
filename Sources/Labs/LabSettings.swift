// What a lab environment is: its kind, who may start it, and the limits every session of it runs under. Plain
// values with their allowed ranges, checked in one place; no Vapor, no database.

/// What a session of the environment serves: JupyterLab (with its terminal), or a plain terminal.
public enum LabKind: String, CaseIterable, Sendable, Codable {
    case jupyterlab, terminal

    /// The set-up a new environment of this kind starts with (an instructor changes it at will).
    public var defaultSetupScript: String {
        switch self {
        case .jupyterlab: "pip install jupyterlab\n"
        case .terminal: ""
        }
    }
}

/// Who may start sessions: course staff only (while they try it), or the course's students too.
public enum LabAudience: String, CaseIterable, Sendable, Codable {
    case staff, students
}

/// The limits of each session of an environment.
public struct LabLimits: Sendable, Equatable, Codable {
    /// CPU share in thousandths of a core (1000: one core).
    public var cpuMillis: Int
    public var memoryMB: Int
    /// Processes and threads together.
    public var processes: Int
    /// What the person's home folder of this lab may hold.
    public var homeQuotaMB: Int
    /// A session with no input and no work for this long is stopped.
    public var idleMinutes: Int
    /// No session lasts longer.
    public var longestMinutes: Int

    public init(cpuMillis: Int, memoryMB: Int, processes: Int, homeQuotaMB: Int, idleMinutes: Int, longestMinutes: Int) {
        (self.cpuMillis, self.memoryMB, self.processes) = (cpuMillis, memoryMB, processes)
        (self.homeQuotaMB, self.idleMinutes, self.longestMinutes) = (homeQuotaMB, idleMinutes, longestMinutes)
    }

    public static let cpuMillisRange = 100...8000
    public static let memoryMBRange = 128...16384
    public static let processesRange = 16...4096
    public static let homeQuotaMBRange = 10...10240
    public static let idleMinutesRange = 5...240
    public static let longestMinutesRange = 10...720

    /// A new environment's limits: JupyterLab needs more memory and processes than a shell.
    public static func defaults(for kind: LabKind) -> LabLimits {
        switch kind {
        case .jupyterlab: LabLimits(cpuMillis: 1000, memoryMB: 2048, processes: 256, homeQuotaMB: 500, idleMinutes: 30, longestMinutes: 240)
        case .terminal: LabLimits(cpuMillis: 500, memoryMB: 512, processes: 128, homeQuotaMB: 200, idleMinutes: 20, longestMinutes: 180)
        }
    }

    /// One sentence per limit out of its range, naming the field as the API does; empty when all are in range.
    public var problems: [String] {
        func check(_ value: Int, _ range: ClosedRange<Int>, _ name: String) -> String? {
            range.contains(value) ? nil : "\(name) must be \(range.lowerBound) to \(range.upperBound)."
        }
        var found = [check(cpuMillis, Self.cpuMillisRange, "cpuMillis"), check(memoryMB, Self.memoryMBRange, "memoryMB"),
                     check(processes, Self.processesRange, "processes"), check(homeQuotaMB, Self.homeQuotaMBRange, "homeQuotaMB"),
                     check(idleMinutes, Self.idleMinutesRange, "idleMinutes"), check(longestMinutes, Self.longestMinutesRange, "longestMinutes")]
            .compactMap { $0 }
        if found.isEmpty, idleMinutes > longestMinutes { found.append("idleMinutes is longer than longestMinutes.") }
        return found
    }
}
