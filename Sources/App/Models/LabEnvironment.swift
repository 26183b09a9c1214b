import Fluent
import Foundation
import Labs

/// A course's lab environment: what its sessions serve (JupyterLab or a terminal), the set-up script that builds
/// its environment layer, the limits of each session, and who may start one when.
final class LabEnvironment: Model, @unchecked Sendable {
    static let schema = "lab_environments"
    @ID(key: .id) var id: UUID?
    @Parent(key: "course_id") var course: Course
    @Field(key: "name") var name: String
    @Field(key: "kind") var kind: LabKind
    /// Run once, with network, by bash as root in the layer's own namespace (as an autograder's setup.sh).
    @Field(key: "setup_script") var setupScript: String
    /// Goes up whenever the script changes (or a set-up is asked for again); a layer is built per version.
    @Field(key: "setup_version") var setupVersion: Int
    @Field(key: "setup_status") var setupStatus: SetupStatus
    @OptionalField(key: "setup_log") var setupLog: String?
    @Field(key: "cpu_millis") var cpuMillis: Int
    @Field(key: "memory_mb") var memoryMB: Int
    @Field(key: "processes") var processes: Int
    @Field(key: "home_quota_mb") var homeQuotaMB: Int
    @Field(key: "idle_minutes") var idleMinutes: Int
    @Field(key: "longest_minutes") var longestMinutes: Int
    /// Sessions each lab host keeps started ahead of need, so people starting the lab get one at once
    /// (`LabReadyPool`); 0: each starts when asked for.
    @Field(key: "ready_sessions") var readySessions: Int
    /// Network during sessions (the set-up always has it).
    @Field(key: "network") var network: Bool
    /// Whether sessions also pay for their CPU time (`lab_cpu_hour`) and their memory over time
    /// (`lab_memory_gb_hour`), measured from each session's cgroup, besides lab time.
    @Field(key: "charge_cpu") var chargeCPU: Bool
    @Field(key: "charge_memory") var chargeMemory: Bool
    @Field(key: "open_to") var openTo: LabAudience
    /// Weekly windows in UTC (`LabSchedule`'s text); empty: always.
    @Field(key: "schedule") var schedule: String
    /// The names of the files every new home starts with, one per line (the zip itself is in `LabStartFiles`, read
    /// only when a home is made).
    @Field(key: "start_file_names") var startFileNames: String
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    var limits: LabLimits {
        get { LabLimits(cpuMillis: cpuMillis, memoryMB: memoryMB, processes: processes, homeQuotaMB: homeQuotaMB,
                        idleMinutes: idleMinutes, longestMinutes: longestMinutes) }
        set { (cpuMillis, memoryMB, processes, homeQuotaMB, idleMinutes, longestMinutes) =
                (newValue.cpuMillis, newValue.memoryMB, newValue.processes, newValue.homeQuotaMB, newValue.idleMinutes, newValue.longestMinutes) }
    }

    /// This version's environment layer on a machine (`Sandbox.layer(id:)`).
    var layerID: String { "lab-\(id!.uuidString.lowercased())-v\(setupVersion)" }
}

/// A lab's start files: a zip every new home of the lab starts with (checked whole when stored).
final class LabStartFiles: Model, @unchecked Sendable {
    static let schema = "lab_start_files"
    @ID(key: .id) var id: UUID?
    @Parent(key: "lab_id") var lab: LabEnvironment
    @Field(key: "zip") var zip: Data

    init() {}
}
